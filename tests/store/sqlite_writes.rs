//! How the store's SQLite connections share the database file: a write that
//! meets another's lock waits with the store's busy handler (and is counted),
//! and the WAL is copied back into the database file by the checkpointer, not
//! by the writes. SQLite only, whatever the suite's database.

use std::time::Duration;

use sqlx::Connection;
use wasap::store::Store;
use wasap::store::sqlite_busy;

use crate::fixtures::{instance, receipt};

/// Far above what each step takes: they are waited for, never slept on.
const WAIT: Duration = Duration::from_secs(10);

async fn sqlite_store(dir: &std::path::Path) -> (Store, String) {
    let url = Store::sqlite_url_in(dir);
    (Store::open(&url).await.expect("the store opens"), url)
}

#[tokio::test]
async fn a_write_that_meets_the_lock_waits_for_it_and_is_counted() {
    let dir = wasap_tests::data_dir();
    let (store, url) = sqlite_store(dir.path()).await;
    let mut blocker = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("a second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .expect("the write lock");

    let waits_before = sqlite_busy::waits();
    let writing = tokio::spawn({
        let store = store.clone();
        async move { instance(&store, "shop", "online").await }
    });
    let deadline = tokio::time::Instant::now() + WAIT;
    while sqlite_busy::waits() == waits_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the write never waited for the lock"
        );
        assert!(!writing.is_finished(), "the write went through a held lock");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!writing.is_finished(), "the write is waiting");
    sqlx::query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("the lock is let go");
    tokio::time::timeout(WAIT, writing)
        .await
        .expect("the write goes through once the lock is free")
        .expect("the write");
    assert!(store.get_instance("shop").await.unwrap().is_some(), "written");
    blocker.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn the_checkpointer_copies_the_wal_back_into_the_database_file() {
    let dir = wasap_tests::data_dir();
    let (store, _) = sqlite_store(dir.path()).await;
    instance(&store, "shop", "online").await;
    let file = dir.path().join("wasap.db");
    let size_before = std::fs::metadata(&file).unwrap().len();
    // Far more than the file's free pages: it must grow to hold them, and
    // only a checkpoint writes to it (the writes go to the WAL).
    let events: Vec<_> = (0..400).map(|n| receipt("shop", &format!("event-{n}"))).collect();
    store.journal_append(&events).await.expect("journalled");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let size = std::fs::metadata(&file).unwrap().len();
        if size > size_before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the database file stayed at {size} bytes: nothing was copied back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.close().await;
}
