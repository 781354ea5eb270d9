//! Conformance of the plugins' key-value store (`Store::kv_*`), the host side
//! of the WIT `kv` interface: the same behaviour on SQLite and PostgreSQL,
//! including the quota under concurrent writers and byte-wise key order.

use std::sync::Arc;

use wasap::store::plugin_kv::{DEFAULT_MAX_KEYS, KvQuota};
use wasap::store::{KvSet, Store};
use wasap_tests::TestDb;

const MAX: u64 = DEFAULT_MAX_KEYS;

async fn open(db: &TestDb) -> Store {
    Store::open(db.url())
        .await
        .unwrap_or_else(|e| panic!("Store::open({}) failed: {e:?}", db.url()))
}

async fn fresh() -> (TestDb, Store) {
    let db = TestDb::new().await;
    let store = open(&db).await;
    (db, store)
}

async fn set(store: &Store, plugin: &str, key: &str, value: &[u8]) {
    assert_eq!(
        store.kv_set(plugin, key, value, KvQuota::keys(MAX)).await.unwrap(),
        KvSet::Stored,
        "{plugin}/{key}"
    );
}

async fn list(store: &Store, plugin: &str, prefix: &str, limit: u32) -> Vec<String> {
    store.kv_list_keys(plugin, prefix, limit).await.unwrap()
}

#[tokio::test]
async fn plugin_kv_round_trip_replace_and_delete() {
    let (_db, store) = fresh().await;
    assert_eq!(store.kv_get("p", "k").await.unwrap(), None);
    set(&store, "p", "k", b"one").await;
    assert_eq!(store.kv_get("p", "k").await.unwrap().as_deref(), Some(&b"one"[..]));
    set(&store, "p", "k", b"two, longer").await;
    assert_eq!(
        store.kv_get("p", "k").await.unwrap().as_deref(),
        Some(&b"two, longer"[..])
    );
    assert_eq!(store.kv_usage("p").await.unwrap(), (1, 11));

    set(&store, "p", "empty", b"").await;
    assert_eq!(
        store.kv_get("p", "empty").await.unwrap().as_deref(),
        Some(&b""[..]),
        "empty is not missing"
    );

    store.kv_delete("p", "k").await.unwrap();
    assert_eq!(store.kv_get("p", "k").await.unwrap(), None);
    store.kv_delete("p", "k").await.expect("deleting a missing key is fine");
    store
        .kv_delete("nobody", "nothing")
        .await
        .expect("even for an unknown plugin");
    assert_eq!(store.kv_usage("p").await.unwrap(), (1, 0));
}

#[tokio::test]
async fn plugin_kv_binary_values_with_nul_bytes() {
    let (_db, store) = fresh().await;
    let every_byte: Vec<u8> = (0..=255u8).chain([0, 0, 255, 0]).collect();
    set(&store, "p", "bin", &every_byte).await;
    assert_eq!(store.kv_get("p", "bin").await.unwrap(), Some(every_byte.clone()));
    assert_eq!(store.kv_usage("p").await.unwrap(), (1, every_byte.len() as u64));
    // Unicode keys round-trip too.
    set(&store, "p", "clé/ключ/🔑", b"\0").await;
    assert_eq!(store.kv_get("p", "clé/ключ/🔑").await.unwrap(), Some(vec![0]));
}

#[tokio::test]
async fn plugin_kv_plugins_are_isolated() {
    let (_db, store) = fresh().await;
    set(&store, "alpha", "shared", b"a").await;
    set(&store, "beta", "shared", b"b").await;
    set(&store, "beta", "only-beta", b"b").await;
    assert_eq!(store.kv_get("alpha", "shared").await.unwrap(), Some(b"a".to_vec()));
    assert_eq!(store.kv_get("beta", "shared").await.unwrap(), Some(b"b".to_vec()));
    assert_eq!(store.kv_get("alpha", "only-beta").await.unwrap(), None);
    assert_eq!(list(&store, "alpha", "", 100).await, ["shared"]);
    assert_eq!(list(&store, "beta", "", 100).await, ["only-beta", "shared"]);

    store.kv_delete("alpha", "shared").await.unwrap();
    assert_eq!(store.kv_get("beta", "shared").await.unwrap(), Some(b"b".to_vec()));
    assert_eq!(store.kv_usage("alpha").await.unwrap(), (0, 0));
    assert_eq!(store.kv_usage("beta").await.unwrap(), (2, 2));
    // A plugin whose name is a prefix of another's sees nothing of it.
    assert_eq!(list(&store, "bet", "", 100).await, Vec::<String>::new());
}

#[tokio::test]
async fn plugin_kv_list_sorts_byte_wise_and_limits() {
    let (_db, store) = fresh().await;
    // Inserted out of order; case, digits, punctuation and non-ASCII all sort
    // by their UTF-8 bytes, whatever the database's default collation.
    let keys = [
        "b",
        "a",
        "B",
        "a10",
        "a2",
        "a-",
        "é",
        "z",
        "A",
        "~",
        "\u{10FFFF}",
        "日本",
    ];
    for key in keys {
        set(&store, "p", key, b"v").await;
    }
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(list(&store, "p", "", 100).await, expected);
    assert_eq!(list(&store, "p", "", 3).await, expected[..3]);
    assert_eq!(list(&store, "p", "", 0).await, Vec::<String>::new());
    assert_eq!(list(&store, "p", "a", 100).await, ["a", "a-", "a10", "a2"]);
    assert_eq!(list(&store, "p", "a", 2).await, ["a", "a-"]);
    assert_eq!(list(&store, "p", "a1", 100).await, ["a10"]);
    assert_eq!(list(&store, "p", "\u{10FFFF}", 100).await, ["\u{10FFFF}"]);
    assert_eq!(list(&store, "p", "q", 100).await, Vec::<String>::new());
}

#[tokio::test]
async fn plugin_kv_prefix_wildcards_are_literal() {
    let (_db, store) = fresh().await;
    for key in ["100%", "100%_done", "100x", "1000", "a_b", "aXb", "a_", "a\\b", "a\\_"] {
        set(&store, "p", key, b"v").await;
    }
    // As LIKE patterns these would match "100x", "1000", "aXb".
    assert_eq!(list(&store, "p", "100%", 100).await, ["100%", "100%_done"]);
    assert_eq!(list(&store, "p", "100%_", 100).await, ["100%_done"]);
    assert_eq!(list(&store, "p", "a_", 100).await, ["a_", "a_b"]);
    assert_eq!(list(&store, "p", "a\\", 100).await, ["a\\_", "a\\b"]);
    assert_eq!(list(&store, "p", "%", 100).await, Vec::<String>::new());
    assert_eq!(list(&store, "p", "_", 100).await, Vec::<String>::new());
}

#[tokio::test]
async fn plugin_kv_quota_refuses_new_keys_but_allows_replacing() {
    let (_db, store) = fresh().await;
    for i in 0..3 {
        assert_eq!(
            store
                .kv_set("p", &format!("k{i}"), b"v", KvQuota::keys(3))
                .await
                .unwrap(),
            KvSet::Stored
        );
    }
    assert_eq!(
        store.kv_set("p", "k3", b"v", KvQuota::keys(3)).await.unwrap(),
        KvSet::QuotaExceeded
    );
    assert_eq!(
        store.kv_get("p", "k3").await.unwrap(),
        None,
        "a refused key is not stored"
    );
    assert_eq!(
        store.kv_set("p", "k1", b"replaced", KvQuota::keys(3)).await.unwrap(),
        KvSet::Stored,
        "replace at the limit"
    );
    assert_eq!(store.kv_get("p", "k1").await.unwrap(), Some(b"replaced".to_vec()));
    // The quota is per plugin.
    assert_eq!(
        store.kv_set("other", "k3", b"v", KvQuota::keys(3)).await.unwrap(),
        KvSet::Stored
    );
    // A lower limit (a changed manifest) still allows replacing, not adding.
    assert_eq!(
        store.kv_set("p", "k0", b"v2", KvQuota::keys(1)).await.unwrap(),
        KvSet::Stored
    );
    assert_eq!(
        store.kv_set("p", "new", b"v", KvQuota::keys(1)).await.unwrap(),
        KvSet::QuotaExceeded
    );
    // Room again after a delete.
    store.kv_delete("p", "k2").await.unwrap();
    assert_eq!(
        store.kv_set("p", "k3", b"v", KvQuota::keys(3)).await.unwrap(),
        KvSet::Stored
    );
    assert_eq!(store.kv_usage("p").await.unwrap().0, 3);
    assert_eq!(
        store.kv_set("p", "x", b"v", KvQuota::keys(0)).await.unwrap(),
        KvSet::QuotaExceeded,
        "max 0 stores nothing new"
    );
}

#[tokio::test]
async fn plugin_kv_byte_quota_counts_every_value_of_the_plugin() {
    let (_db, store) = fresh().await;
    let quota = KvQuota {
        max_keys: 100,
        max_bytes: 10,
    };
    assert_eq!(store.kv_set("p", "a", b"1234", quota).await.unwrap(), KvSet::Stored);
    assert_eq!(store.kv_set("p", "b", b"123456", quota).await.unwrap(), KvSet::Stored);
    // Full: a new key, even of one byte, is refused, and not stored.
    assert_eq!(store.kv_set("p", "c", b"1", quota).await.unwrap(), KvSet::QuotaExceeded);
    assert_eq!(store.kv_get("p", "c").await.unwrap(), None);
    // A replacement counts in place of the old value: smaller fits, and so does
    // the same size again, but growing past the quota does not.
    assert_eq!(store.kv_set("p", "b", b"12", quota).await.unwrap(), KvSet::Stored);
    assert_eq!(store.kv_set("p", "b", b"123456", quota).await.unwrap(), KvSet::Stored);
    assert_eq!(
        store.kv_set("p", "b", b"1234567", quota).await.unwrap(),
        KvSet::QuotaExceeded
    );
    assert_eq!(
        store.kv_get("p", "b").await.unwrap(),
        Some(b"123456".to_vec()),
        "unchanged"
    );
    // One value larger than the whole quota never fits.
    assert_eq!(
        store.kv_set("q", "big", &[0; 11], quota).await.unwrap(),
        KvSet::QuotaExceeded
    );
    // Per plugin; room again after a delete.
    assert_eq!(
        store.kv_set("q", "x", b"1234567890", quota).await.unwrap(),
        KvSet::Stored
    );
    store.kv_delete("p", "a").await.unwrap();
    assert_eq!(store.kv_set("p", "c", b"1234", quota).await.unwrap(), KvSet::Stored);
    assert_eq!(store.kv_usage("p").await.unwrap(), (2, 10));
}

#[tokio::test]
async fn plugin_kv_concurrent_writers_never_exceed_the_byte_quota() {
    const TASKS: usize = 8;
    let (_db, store) = fresh().await;
    let store = Arc::new(store);
    let quota = KvQuota {
        max_keys: 1000,
        max_bytes: 100,
    };
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            for k in 0..10 {
                store
                    .kv_set("busy", &format!("t{t}-k{k}"), &[7; 3], quota)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (keys, bytes) = store.kv_usage("busy").await.unwrap();
    assert_eq!((keys, bytes), (33, 99), "as many 3-byte values as fit in 100 bytes");
}

#[tokio::test]
async fn plugin_kv_concurrent_new_keys_never_exceed_the_quota() {
    const TASKS: usize = 8;
    const KEYS_PER_TASK: usize = 20;
    const LIMIT: u64 = 50;
    let (_db, store) = fresh().await;
    let store = Arc::new(store);
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut stored = 0;
            for k in 0..KEYS_PER_TASK {
                match store
                    .kv_set("busy", &format!("t{t}-k{k:02}"), b"v", KvQuota::keys(LIMIT))
                    .await
                    .unwrap()
                {
                    KvSet::Stored => stored += 1,
                    KvSet::QuotaExceeded => {}
                }
            }
            stored
        }));
    }
    let mut stored = 0;
    for task in tasks {
        stored += task.await.unwrap();
    }
    assert_eq!(stored, LIMIT, "exactly the quota was reported stored");
    assert_eq!(
        store.kv_usage("busy").await.unwrap().0,
        LIMIT,
        "and exactly that many are in the table"
    );
    assert_eq!(list(&store, "busy", "", 1000).await.len() as u64, LIMIT);
}

#[tokio::test]
async fn plugin_kv_concurrent_replacers_at_the_quota_all_succeed() {
    let (_db, store) = fresh().await;
    for i in 0..5 {
        set(&store, "p", &format!("k{i}"), b"v").await;
    }
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..10u8 {
                let key = format!("k{}", (t + round) % 5);
                assert_eq!(
                    store.kv_set("p", &key, &[t, round], KvQuota::keys(5)).await.unwrap(),
                    KvSet::Stored
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.kv_usage("p").await.unwrap(), (5, 10));
}

#[tokio::test]
async fn plugin_kv_delete_plugin_removes_only_its_keys() {
    let (_db, store) = fresh().await;
    for i in 0..10 {
        set(&store, "gone", &format!("k{i}"), b"vv").await;
    }
    set(&store, "kept", "k0", b"v").await;
    assert_eq!(store.kv_usage("gone").await.unwrap(), (10, 20));
    assert_eq!(store.kv_delete_plugin("gone").await.unwrap(), 10);
    assert_eq!(store.kv_usage("gone").await.unwrap(), (0, 0));
    assert_eq!(list(&store, "gone", "", 100).await, Vec::<String>::new());
    assert_eq!(store.kv_get("kept", "k0").await.unwrap(), Some(b"v".to_vec()));
    assert_eq!(store.kv_delete_plugin("gone").await.unwrap(), 0, "again: nothing left");
    // A reinstalled plugin of the same name starts empty and has its full quota.
    assert_eq!(
        store.kv_set("gone", "fresh", b"v", KvQuota::keys(1)).await.unwrap(),
        KvSet::Stored
    );
}

#[tokio::test]
async fn plugin_kv_values_survive_reopening_the_database() {
    let db = TestDb::new().await;
    let store = open(&db).await;
    let blob: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    set(&store, "p", "blob", &blob).await;
    set(&store, "p", "a%", b"pct").await;
    set(&store, "q", "x", b"other").await;
    store.close().await;
    drop(store);

    let store = open(&db).await;
    assert_eq!(store.kv_get("p", "blob").await.unwrap(), Some(blob));
    assert_eq!(list(&store, "p", "", 10).await, ["a%", "blob"]);
    assert_eq!(store.kv_get("q", "x").await.unwrap(), Some(b"other".to_vec()));
    assert_eq!(store.kv_usage("p").await.unwrap(), (2, 4099));
    // The quota counts what was stored before the restart.
    assert_eq!(
        store.kv_set("p", "third", b"v", KvQuota::keys(2)).await.unwrap(),
        KvSet::QuotaExceeded
    );
    store.close().await;
}
