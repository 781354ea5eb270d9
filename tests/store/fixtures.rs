//! What the store suites share: a fresh database with its store, and an
//! instance row to hang rows on.

use wasap::store::Store;
use wasap::store::instances::InstanceRow;
use wasap_tests::TestDb;

/// A fresh database (dropped with the `TestDb`) and a store opened on it.
pub async fn fresh() -> (TestDb, Store) {
    let db = TestDb::new().await;
    let store = Store::open(db.url())
        .await
        .unwrap_or_else(|e| panic!("Store::open({}) failed: {e:?}", db.url()));
    (db, store)
}

/// Inserts instance `id` with `status`.
pub async fn instance(store: &Store, id: &str, status: &str) {
    let row = InstanceRow {
        id: id.to_owned(),
        name: id.to_owned(),
        token_hash: format!("hash-{id}"),
        status: status.to_owned(),
        device_id: None,
        jid: None,
        phone_number: None,
        push_name: None,
        created_at: 0,
        connected_at: None,
        last_seen: None,
    };
    assert!(store.insert_instance(&row).await.unwrap());
}
