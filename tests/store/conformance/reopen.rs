//! Durability across a restart: one value of every kind is written, the pool is
//! closed, a new `Store` is opened on the same URL (re-running migrations on an
//! up-to-date schema) and everything reads back unchanged.

use super::fixture::{assert_every_kind, assert_nothing, write_every_kind};
use super::{new_device, open};

#[tokio::test]
async fn every_kind_survives_close_and_reopen() {
    let db = wasap_tests::TestDb::new().await;
    let store = open(&db).await;
    let (id_a, dev_a) = new_device(&store).await;
    let (id_b, dev_b) = new_device(&store).await;
    let device_a = write_every_kind(&dev_a, 1).await;
    let device_b = write_every_kind(&dev_b, 2).await;
    assert_every_kind(&dev_a, 1, &device_a).await;
    store.close().await;
    drop((store, dev_a, dev_b));

    let store = open(&db).await;
    assert_every_kind(&store.device(id_a), 1, &device_a).await;
    assert_every_kind(&store.device(id_b), 2, &device_b).await;

    // A device allocated after the restart starts empty.
    let (_, fresh_dev) = new_device(&store).await;
    assert_nothing(&fresh_dev, "device allocated after reopen").await;

    // Reopening twice more (migrations already applied) is harmless.
    store.close().await;
    let store = open(&db).await;
    store.close().await;
    let store = open(&db).await;
    assert_every_kind(&store.device(id_a), 1, &device_a).await;
    store.close().await;
}

#[tokio::test]
async fn two_stores_on_one_database_see_each_others_writes() {
    let db = wasap_tests::TestDb::new().await;
    let first = open(&db).await;
    let second = open(&db).await;
    let (id, dev) = new_device(&first).await;

    let device = write_every_kind(&dev, 3).await;
    assert_every_kind(&second.device(id), 3, &device).await;
    assert_ne!(
        second.allocate_device_id().await.unwrap(),
        id,
        "ids are unique across pools"
    );
    first.close().await;
    second.close().await;
}
