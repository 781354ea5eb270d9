//! Schema-level guards for wiping: `DEVICE_TABLES` lists exactly the `wa_`
//! tables keyed by `device_id`, the every-kind fixture puts rows in each of
//! them, and `wipe_device` leaves no row of the wiped device in any of them
//! while keeping every row of the other device. This is the only file that
//! looks at tables directly; it catches a new table that the wipe (or this
//! suite's fixture) forgot.

use std::collections::BTreeSet;

use wasap::store::device::DEVICE_TABLES;
use wasap_tests::TestDb;

use super::fixture::write_every_kind;
use super::{new_device, open};

/// A direct connection to the test database, outside the store under test.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn connect(db: &TestDb) -> Raw {
        if db.is_postgres() {
            Raw::Postgres(sqlx::PgPool::connect(db.url()).await.expect("connect to PostgreSQL"))
        } else {
            Raw::Sqlite(sqlx::SqlitePool::connect(db.url()).await.expect("connect to SQLite"))
        }
    }

    async fn strings(&self, sql_sqlite: &str, sql_postgres: &str) -> BTreeSet<String> {
        let rows: Vec<(String,)> = match self {
            Raw::Sqlite(p) => sqlx::query_as(sql_sqlite).fetch_all(p).await,
            Raw::Postgres(p) => sqlx::query_as(sql_postgres).fetch_all(p).await,
        }
        .expect("schema query");
        rows.into_iter().map(|(s,)| s).collect()
    }

    /// Every `wa_` table.
    async fn wa_tables(&self) -> BTreeSet<String> {
        self.strings(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'wa!_%' ESCAPE '!'",
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name LIKE 'wa!_%' ESCAPE '!'",
        )
        .await
    }

    /// The `wa_` tables that have a `device_id` column.
    async fn device_keyed_tables(&self) -> BTreeSet<String> {
        self.strings(
            "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name LIKE 'wa!_%' ESCAPE '!' AND c.name = 'device_id'",
            "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name LIKE 'wa!_%' ESCAPE '!' \
             AND column_name = 'device_id'",
        )
        .await
    }

    async fn count(&self, sql: &str, id: i32) -> i64 {
        let (n,): (i64,) = match self {
            Raw::Sqlite(p) => sqlx::query_as(sql).bind(id).fetch_one(p).await,
            Raw::Postgres(p) => sqlx::query_as(sql).bind(id).fetch_one(p).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        n
    }

    async fn rows_of(&self, table: &str, device_id: i32) -> i64 {
        self.count(&format!("SELECT COUNT(*) FROM {table} WHERE device_id = $1"), device_id)
            .await
    }

    async fn close(self) {
        match self {
            Raw::Sqlite(p) => p.close().await,
            Raw::Postgres(p) => p.close().await,
        }
    }
}

#[tokio::test]
async fn device_tables_list_every_device_keyed_table() {
    let db = TestDb::new().await;
    let store = open(&db).await;
    let raw = Raw::connect(&db).await;

    let listed: BTreeSet<String> = DEVICE_TABLES.iter().map(|t| t.to_string()).collect();
    assert_eq!(listed.len(), DEVICE_TABLES.len(), "DEVICE_TABLES has duplicates");
    assert_eq!(
        raw.device_keyed_tables().await,
        listed,
        "DEVICE_TABLES vs wa_ tables with device_id"
    );

    let unkeyed: BTreeSet<String> = raw.wa_tables().await.difference(&listed).cloned().collect();
    let expected: BTreeSet<String> = ["wa_device_ids", "wa_devices"].map(String::from).into();
    assert_eq!(unkeyed, expected, "the only wa_ tables without device_id");

    raw.close().await;
    store.close().await;
}

#[tokio::test]
async fn wipe_leaves_no_row_behind_in_any_table() {
    let db = TestDb::new().await;
    let store = open(&db).await;
    let (id_a, dev_a) = new_device(&store).await;
    let (id_b, dev_b) = new_device(&store).await;
    write_every_kind(&dev_a, 1).await;
    write_every_kind(&dev_b, 2).await;

    let raw = Raw::connect(&db).await;
    let tables = raw.device_keyed_tables().await;
    for table in &tables {
        assert!(
            raw.rows_of(table, id_a).await > 0,
            "the every-kind fixture writes no row to {table}"
        );
    }
    let device_row = "SELECT COUNT(*) FROM wa_devices WHERE id = $1";
    assert_eq!(raw.count(device_row, id_a).await, 1);

    store.wipe_device(id_a).await.unwrap();
    for table in &tables {
        assert_eq!(
            raw.rows_of(table, id_a).await,
            0,
            "wipe left rows of the device in {table}"
        );
        assert!(
            raw.rows_of(table, id_b).await > 0,
            "wipe of another device removed rows from {table}"
        );
    }
    assert_eq!(raw.count(device_row, id_a).await, 0, "wipe left the device row");
    assert_eq!(raw.count(device_row, id_b).await, 1);

    raw.close().await;
    store.close().await;
}
