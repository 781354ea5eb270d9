//! Migrations 0016 (the journal's one random-key index) and 0017 (done as a
//! watermark per instance) on a database that already has a journal: its
//! entries, their seqs and done marks, its AUTOINCREMENT counter on SQLite,
//! the deduplication of what was journalled before it, and the look-up of
//! messages by id all come through.

use std::borrow::Cow;
use std::str::FromStr;

use sqlx::migrate::Migrator;
use wasap::events::Event;
use wasap::store::Store;
use wasap::store::journal::Appended;
use wasap_tests::TestDb;

use crate::fixtures::{message, receipt};

/// The migration this file checks.
const ONE_KEY: i64 = 16;

/// Message `id`, with an event id and time of its own (as the server
/// before the migration wrote them).
fn text(id: &str) -> Event {
    let contact = "6281234567890@s.whatsapp.net";
    let mut event = message("shop", id, contact, contact, false);
    event.id = format!("event-of-{id}");
    event.at_us = 1_700_000_000_000_000;
    event
}

fn read_receipt() -> Event {
    let mut event = receipt("shop", "event-of-a-receipt");
    event.at_us = 1_700_000_001_000_000;
    event
}

/// The migrations of `flavour` before [`ONE_KEY`].
async fn before_one_key(flavour: &str) -> Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(flavour);
    let mut migrator = Migrator::new(dir).await.expect("the migrations");
    let kept: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < ONE_KEY)
        .cloned()
        .collect();
    assert_eq!(kept.len() as i64, ONE_KEY - 1, "migrations 1 to 15 are there");
    migrator.migrations = Cow::Owned(kept);
    migrator
}

/// Brings `db` to the schema before [`ONE_KEY`] and journals, as the server
/// before it did: message A (seq 1, done), a read receipt (seq 2, done),
/// message B (seq 3, not done), message E (seq 4, done: flags could be set out
/// of order) and message C (seq 5), which then goes, so the counter is past
/// the newest entry.
async fn journal_before_one_key(db: &TestDb) {
    let rows = [
        (text("3EB0A"), true, Some("3EB0A")),
        (read_receipt(), true, None),
        (text("3EB0B"), false, Some("3EB0B")),
        (text("3EB0E"), true, Some("3EB0E")),
        (text("3EB0C"), false, Some("3EB0C")),
    ];
    // The same migrations and statements on both engines, each on its own pool type.
    macro_rules! fill {
        ($pool:expr, $flavour:literal) => {{
            let pool = $pool;
            before_one_key($flavour)
                .await
                .run(&pool)
                .await
                .expect("migrations 1 to 15");
            sqlx::query(
                "INSERT INTO instances (id, name, token_hash, status, created_at) \
                 VALUES ('shop', 'shop', 'hash', 'online', 0)",
            )
            .execute(&pool)
            .await
            .expect("the instance");
            // Seqs 1 to 5 in a fresh database, in this order.
            for (event, done, message_id) in &rows {
                sqlx::query(
                    "INSERT INTO inbound_journal (instance_id, event_id, kind, event, done, created_at, message_id) \
                     VALUES ('shop', $1, $2, $3, $4, 0, $5)",
                )
                .bind(&event.id)
                .bind(event.name())
                .bind(serde_json::to_string(event).unwrap())
                .bind(*done)
                .bind(*message_id)
                .execute(&pool)
                .await
                .expect("a journal entry");
            }
            sqlx::query("DELETE FROM inbound_journal WHERE seq = 5")
                .execute(&pool)
                .await
                .expect("the newest entry goes");
            pool.close().await;
        }};
    }
    if db.is_postgres() {
        fill!(sqlx::PgPool::connect(db.url()).await.expect("connect"), "postgres");
    } else {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url())
            .expect("a SQLite URL")
            .create_if_missing(true)
            .foreign_keys(true);
        fill!(
            sqlx::SqlitePool::connect_with(options).await.expect("connect"),
            "sqlite"
        );
    }
}

#[tokio::test]
async fn a_journal_written_before_the_one_key_migration_comes_through_it_whole() {
    let db = TestDb::new().await;
    journal_before_one_key(&db).await;
    // The server opens the database: migrations 16 and 17 run on the journal.
    let store = Store::open(db.url()).await.expect("the store opens and migrates");

    let entries = store.journal_page("shop", 0, 10).await.unwrap();
    let kept: Vec<(i64, &str, bool)> = entries.iter().map(|e| (e.seq, e.event.id.as_str(), e.done)).collect();
    // Done up to the first entry that was not (migration 17): E, done after
    // B, is handled again (its webhooks are in the outbox under its event id).
    assert_eq!(
        kept,
        [
            (1, "event-of-3EB0A", true),
            (2, "event-of-a-receipt", true),
            (3, "event-of-3EB0B", false),
            (4, "event-of-3EB0E", false)
        ],
        "the entries, their seqs and done marks"
    );
    assert_eq!(entries[0].event, text("3EB0A"));
    assert_eq!(entries[1].event, read_receipt());
    let pending = store.journal_pending("shop", 0, 10).await.unwrap();
    assert_eq!(pending.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);

    // What was journalled before is still journalled once; a new entry's seq
    // is past every seq ever given (3 went, and is not given again).
    let appended = store
        .journal_append(&[text("3EB0A"), read_receipt(), text("3EB0E"), text("3EB0D")])
        .await
        .unwrap();
    let Appended::New(new_seq) = appended[3] else {
        panic!("3EB0D is new: {appended:?}")
    };
    assert_eq!(
        appended[..3],
        [
            Appended::Duplicate { seq: 1, done: true },
            Appended::Duplicate { seq: 2, done: true },
            Appended::Duplicate { seq: 4, done: false }
        ]
    );
    assert!(new_seq > 5, "seq {new_seq} was given before");
    // The watermark moves on from where the flags left it.
    store
        .journal_mark_done_through(&[("shop".to_owned(), 4)])
        .await
        .unwrap();
    let pending = store.journal_pending("shop", 0, 10).await.unwrap();
    assert_eq!(pending.iter().map(|e| e.seq).collect::<Vec<_>>(), [new_seq]);

    // Messages are found by id, old and new; the receipt is not a message.
    for id in ["3EB0A", "3EB0D"] {
        let found = store.find_message("shop", id).await.unwrap();
        assert_eq!(found.map(|m| m.id), Some(id.to_owned()));
    }
    assert_eq!(store.find_message("shop", "").await.unwrap(), None);
    store.close().await;
}
