//! Concurrency: many tasks writing Signal state for one device and for several
//! devices at once (every write lands, no "database is locked"), the atomic
//! `take_sent_message`, the atomic tc-token and msg-secret merges under racing
//! writers, and concurrent device-id allocation.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::Barrier;
use tokio::task::JoinSet;
use wasap::store::DeviceBackend;
use whatsapp_rust::wacore::store::traits::*;

use super::{arc, bytes, fresh, new_device};

const TASKS: usize = 8;
const OPS: usize = 50;

fn addr(device_tag: usize, task: usize, op: usize) -> String {
    format!("1555{device_tag}{task:02}{op:04}:1@s.whatsapp.net")
}

fn prekey_id(task: usize, op: usize) -> u32 {
    (task * 1_000 + op + 1) as u32
}

/// Waits for every task, failing the test on the first error or panic.
async fn join_all(mut set: JoinSet<()>) {
    while let Some(result) = set.join_next().await {
        result.expect("a writer task failed");
    }
}

/// `OPS` rounds of session + identity + pre-key writes (plus a read) by one task.
async fn signal_writer(dev: DeviceBackend, device_tag: usize, task: usize, start: Arc<Barrier>) {
    start.wait().await;
    for op in 0..OPS {
        let a = addr(device_tag, task, op);
        dev.put_session(&a, format!("session {a}").as_bytes()).await.unwrap();
        dev.put_identity(&a, [(task * OPS + op) as u8; 32]).await.unwrap();
        dev.store_prekey(prekey_id(task, op), a.as_bytes(), op % 2 == 0)
            .await
            .unwrap();
        if op % 10 == 9 {
            // Batched writes interleaved with the single-row ones.
            let batch: Vec<_> = (0..5).map(|k| (arc(&format!("{a}-b{k}")), bytes(b"batched"))).collect();
            dev.put_sessions_batch(&batch).await.unwrap();
            dev.mark_prekeys_uploaded(&[prekey_id(task, op), prekey_id(task, op - 1)])
                .await
                .unwrap();
        }
        assert!(dev.has_session(&a).await.unwrap(), "own write visible to the writer");
    }
}

/// Everything `signal_writer` wrote for `device_tag` is there.
async fn assert_signal_writes(dev: &DeviceBackend, device_tag: usize) {
    for task in 0..TASKS {
        for op in 0..OPS {
            let a = addr(device_tag, task, op);
            let ctx = format!("device {device_tag} task {task} op {op}");
            assert_eq!(
                dev.get_session(&a).await.unwrap().as_deref(),
                Some(format!("session {a}").as_bytes()),
                "{ctx}"
            );
            assert_eq!(
                dev.load_identity(&a).await.unwrap(),
                Some([(task * OPS + op) as u8; 32]),
                "{ctx}"
            );
            assert_eq!(
                dev.load_prekey(prekey_id(task, op)).await.unwrap().as_deref(),
                Some(a.as_bytes()),
                "{ctx}"
            );
            if op % 10 == 9 {
                assert_eq!(
                    dev.get_session(&format!("{a}-b4")).await.unwrap().as_deref(),
                    Some(&b"batched"[..])
                );
            }
        }
    }
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), prekey_id(TASKS - 1, OPS - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_one_device() {
    let (_db, _store, dev) = fresh().await;
    let start = Arc::new(Barrier::new(TASKS));
    let mut set = JoinSet::new();
    for task in 0..TASKS {
        set.spawn(signal_writer(dev.clone(), 0, task, start.clone()));
    }
    join_all(set).await;
    assert_signal_writes(&dev, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_several_devices() {
    let (_db, store, _) = fresh().await;
    let mut devices = Vec::new();
    for _ in 0..4 {
        devices.push(new_device(&store).await.1);
    }
    // Every device gets the full TASKS writers; all of them run at once.
    let start = Arc::new(Barrier::new(TASKS * devices.len()));
    let mut set = JoinSet::new();
    for (tag, dev) in devices.iter().enumerate() {
        for task in 0..TASKS {
            set.spawn(signal_writer(dev.clone(), tag, task, start.clone()));
        }
    }
    join_all(set).await;
    for (tag, dev) in devices.iter().enumerate() {
        assert_signal_writes(dev, tag).await;
        // And nothing of the other devices leaked in.
        let other = (tag + 1) % devices.len();
        assert_eq!(dev.get_session(&addr(other, 0, 0)).await.unwrap(), None);
        assert!(
            !dev.has_signal_state_for_user(&format!("1555{other}000000"))
                .await
                .unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_takes_yield_exactly_one_payload() {
    let (_db, _store, dev) = fresh().await;
    const MESSAGES: usize = 25;
    const TAKERS: usize = 8;
    for m in 0..MESSAGES {
        dev.store_sent_message(
            "chat@s.whatsapp.net",
            &format!("M{m}"),
            format!("payload {m}").as_bytes(),
        )
        .await
        .unwrap();
    }

    let start = Arc::new(Barrier::new(TAKERS));
    let mut set = JoinSet::new();
    for _ in 0..TAKERS {
        let (dev, start) = (dev.clone(), start.clone());
        set.spawn(async move {
            start.wait().await;
            let mut got = Vec::new();
            for m in 0..MESSAGES {
                if let Some(p) = dev
                    .take_sent_message("chat@s.whatsapp.net", &format!("M{m}"))
                    .await
                    .unwrap()
                {
                    got.push((m, p));
                }
            }
            got
        });
    }
    let mut taken = Vec::new();
    while let Some(result) = set.join_next().await {
        taken.extend(result.expect("a taker failed"));
    }
    taken.sort();
    let expected: Vec<_> = (0..MESSAGES)
        .map(|m| (m, format!("payload {m}").into_bytes()))
        .collect();
    assert_eq!(taken, expected, "every message taken exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_tc_token_writers_converge() {
    let (_db, _store, dev) = fresh().await;
    const JID: &str = "100000000000001@lid";
    const N: i64 = 100;
    const PAIRS: usize = 4;
    let start = Arc::new(Barrier::new(2 * PAIRS));
    let mut set = JoinSet::new();
    // Issuance writers advance the sender bucket, notification writers store
    // tokens; half of each run their values in reverse order. After each
    // of its own writes a writer checks what an atomic merge guarantees from
    // then on, so a lost update is seen even if a later write hides it.
    for pair in 0..PAIRS {
        let reversed = pair % 2 == 1;
        let (d, s) = (dev.clone(), start.clone());
        set.spawn(async move {
            s.wait().await;
            for i in 0..N {
                let i = if reversed { N - 1 - i } else { i };
                d.touch_tc_token_sender_timestamp(JID, 1_000 + i).await.unwrap();
                let e = d.get_tc_token(JID).await.unwrap().expect("row after touch");
                assert!(
                    e.sender_timestamp >= Some(1_000 + i),
                    "sender bucket regressed below {}",
                    1_000 + i
                );
            }
        });
        let (d, s) = (dev.clone(), start.clone());
        set.spawn(async move {
            s.wait().await;
            for i in 0..N {
                let i = if reversed { N - 1 - i } else { i };
                d.store_received_tc_token(JID, &[i as u8 + 1], 5_000 + i).await.unwrap();
                let e = d.get_tc_token(JID).await.unwrap().expect("row after store");
                assert!(!e.token.is_empty(), "a real token was replaced by a placeholder");
                assert!(e.token_timestamp >= 5_000 + i, "token regressed below {}", 5_000 + i);
                assert_eq!(
                    e.token,
                    vec![(e.token_timestamp - 5_000) as u8 + 1],
                    "token bytes and timestamp torn"
                );
            }
        });
    }
    join_all(set).await;

    let e = dev.get_tc_token(JID).await.unwrap().expect("token row");
    assert_eq!(
        e.sender_timestamp,
        Some(1_000 + N - 1),
        "sender bucket is the max of all touches"
    );
    assert_eq!(
        (e.token, e.token_timestamp),
        (vec![N as u8], 5_000 + N - 1),
        "newest real token wins"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_msg_secret_writers_merge() {
    let (_db, _store, dev) = fresh().await;
    let start = Arc::new(Barrier::new(TASKS));
    let mut set = JoinSet::new();
    for task in 0..TASKS {
        let (d, s) = (dev.clone(), start.clone());
        set.spawn(async move {
            s.wait().await;
            for round in 0..10i64 {
                let v = (task as i64 * 10 + round) * 10 + 100; // 100..=890, all distinct
                let n = d
                    .put_msg_secrets(vec![
                        MsgSecretEntry {
                            chat: "c".into(),
                            sender: "s".into(),
                            msg_id: "shared".into(),
                            secret: [task as u8; 32],
                            expires_at: v,
                            message_ts: v,
                        },
                        MsgSecretEntry {
                            chat: "c".into(),
                            sender: "s".into(),
                            msg_id: format!("own-{task}-{round}").into(),
                            secret: [1; 32],
                            expires_at: 0,
                            message_ts: 0,
                        },
                    ])
                    .await
                    .unwrap();
                assert_eq!(n, 2);
            }
        });
    }
    join_all(set).await;

    let max = ((TASKS as i64 - 1) * 10 + 9) * 10 + 100;
    let (_, ts) = dev
        .get_msg_secret_with_ts("c", "s", "shared")
        .await
        .unwrap()
        .expect("shared secret");
    assert_eq!(ts, max, "message_ts is the max of all writes");
    assert_eq!(
        dev.delete_expired_msg_secrets(max - 1).await.unwrap(),
        0,
        "expires_at is the max too"
    );
    assert_eq!(dev.delete_expired_msg_secrets(max).await.unwrap(), 1);
    assert!(dev.get_msg_secret("c", "s", "own-7-9").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_device_id_allocation_is_unique() {
    let (_db, store, _) = fresh().await;
    let mut set = JoinSet::new();
    for _ in 0..TASKS {
        let store = store.clone();
        set.spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..10 {
                ids.push(store.allocate_device_id().await.unwrap());
            }
            ids
        });
    }
    let mut all = HashSet::new();
    while let Some(result) = set.join_next().await {
        for id in result.expect("an allocator failed") {
            assert!(all.insert(id), "id {id} handed out twice");
        }
    }
    assert_eq!(all.len(), TASKS * 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_device_saves_and_protocol_writes() {
    let (_db, store, _) = fresh().await;
    let mut set = JoinSet::new();
    let mut ids = Vec::new();
    for task in 0..TASKS {
        let (id, dev) = new_device(&store).await;
        ids.push(id);
        set.spawn(async move {
            dev.create().await.unwrap();
            for op in 0..20 {
                let mut device = dev.load().await.unwrap().expect("created device");
                device.push_name = format!("task {task} op {op}");
                dev.save(&device).await.unwrap();
                dev.set_sender_key_status("g@g.us", &[(&format!("{op}:1@s.whatsapp.net"), true)])
                    .await
                    .unwrap();
                dev.put_lid_mapping(&LidPnMappingEntry {
                    lid: format!("1000{op}"),
                    phone_number: format!("5599{op}"),
                    created_at: 1,
                    updated_at: op as i64,
                    learning_source: "usync".into(),
                })
                .await
                .unwrap();
                dev.store_pending_inbound("c", "s", &format!("P{op}"), b"m")
                    .await
                    .unwrap();
            }
        });
    }
    join_all(set).await;
    for (task, id) in ids.into_iter().enumerate() {
        let dev = store.device(id);
        assert_eq!(
            dev.load().await.unwrap().expect("device").push_name,
            format!("task {task} op 19")
        );
        assert_eq!(dev.get_sender_key_devices("g@g.us").await.unwrap().len(), 20);
        assert_eq!(dev.get_all_lid_mappings().await.unwrap().len(), 20);
        assert_eq!(
            dev.get_pending_inbound("c", "s", "P19").await.unwrap(),
            Some(b"m".to_vec())
        );
    }
}
