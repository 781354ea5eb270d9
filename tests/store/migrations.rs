//! The two migration histories (`migrations/postgres/`, `migrations/sqlite/`) define the
//! same tables with the same columns, step for step; and the database the suite runs on
//! has exactly the columns its own history defines, so the reading of the SQL below is
//! checked against a real schema on each engine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sqlx::Connection;
use wasap_tests::TestDb;

/// Table name → column names.
type Schema = BTreeMap<String, BTreeSet<String>>;

fn migrations_dir(flavour: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(flavour)
}

/// The migration files of `flavour`, in the order they run.
fn migration_files(flavour: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(migrations_dir(flavour))
        .expect("the migrations folder")
        .map(|entry| entry.expect("a folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    files
}

/// The SQL of a migration without its `--` comments.
fn without_comments(sql: &str) -> String {
    sql.lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits `body` on the commas outside parentheses.
fn top_level_items(body: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items
}

fn identifier(word: &str) -> String {
    word.trim_matches('"').to_ascii_lowercase()
}

/// Applies one migration's DDL to `schema`: CREATE/DROP TABLE, ALTER TABLE RENAME TO, and ALTER
/// TABLE ADD, DROP and RENAME COLUMN. Anything else (indexes, data, types) leaves the columns as they are.
fn apply(schema: &mut Schema, sql: &str) {
    for statement in without_comments(sql).split(';') {
        let words: Vec<&str> = statement.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
        match upper.as_slice() {
            ["CREATE", "TABLE", ..] => {
                let name_at = if upper.get(2..5) == Some(&["IF", "NOT", "EXISTS"][..]) {
                    5
                } else {
                    2
                };
                let name = identifier(words[name_at].split('(').next().unwrap_or_default());
                let open = statement.find('(').expect("a column list");
                let close = statement.rfind(')').expect("the end of the column list");
                let columns = top_level_items(&statement[open + 1..close])
                    .into_iter()
                    .filter_map(|item| item.split_whitespace().next())
                    .filter(|first| {
                        !["PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "CONSTRAINT"]
                            .contains(&first.to_ascii_uppercase().as_str())
                    })
                    .map(identifier)
                    .collect();
                assert!(
                    schema.insert(name.clone(), columns).is_none(),
                    "table {name} created twice"
                );
            }
            ["DROP", "TABLE", ..] => {
                schema.remove(&identifier(words.last().expect("a table name")));
            }
            ["ALTER", "TABLE", _, "ADD", "COLUMN", ..] => {
                let table = schema
                    .get_mut(&identifier(words[2]))
                    .expect("ALTER TABLE of a known table");
                table.insert(identifier(words[5]));
            }
            ["ALTER", "TABLE", _, "DROP", "COLUMN", ..] => {
                let table = schema
                    .get_mut(&identifier(words[2]))
                    .expect("ALTER TABLE of a known table");
                assert!(table.remove(&identifier(words[5])), "{statement}: no such column");
            }
            ["ALTER", "TABLE", _, "RENAME", "TO", _] => {
                let columns = schema
                    .remove(&identifier(words[2]))
                    .expect("ALTER TABLE of a known table");
                assert!(
                    schema.insert(identifier(words[5]), columns).is_none(),
                    "{statement}: the new name is taken"
                );
            }
            ["ALTER", "TABLE", _, "RENAME", "COLUMN", _, "TO", _] => {
                let table = schema
                    .get_mut(&identifier(words[2]))
                    .expect("ALTER TABLE of a known table");
                assert!(table.remove(&identifier(words[5])), "{statement}: no such column");
                table.insert(identifier(words[7]));
            }
            _ => {}
        }
    }
}

/// The schema after each migration of `flavour`, by file name.
fn schema_steps(flavour: &str) -> Vec<(String, Schema)> {
    let mut schema = Schema::new();
    migration_files(flavour)
        .into_iter()
        .map(|path| {
            apply(
                &mut schema,
                &std::fs::read_to_string(&path).expect("a readable migration"),
            );
            (path.file_name().unwrap().to_string_lossy().into_owned(), schema.clone())
        })
        .collect()
}

#[test]
fn both_histories_define_the_same_tables_and_columns_step_for_step() {
    let postgres = schema_steps("postgres");
    let sqlite = schema_steps("sqlite");
    let names = |steps: &[(String, Schema)]| steps.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&postgres),
        names(&sqlite),
        "the two histories have the same migrations"
    );
    assert!(
        postgres.last().is_some_and(|(_, schema)| schema.len() > 10),
        "the SQL was read: {postgres:?}"
    );
    for ((name, postgres), (_, sqlite)) in postgres.iter().zip(&sqlite) {
        assert_eq!(postgres, sqlite, "after {name}");
    }
}

#[test]
fn a_column_list_is_read_with_its_constraints_left_out() {
    let mut schema = Schema::new();
    apply(
        &mut schema,
        "CREATE TABLE t (\n  a TEXT NOT NULL, -- a, b\n  \"B\" NUMERIC(10, 2),\n  PRIMARY KEY (a, \"B\")\n);\n\
         ALTER TABLE t ADD COLUMN c INTEGER;\nALTER TABLE t RENAME COLUMN c TO d;",
    );
    let columns: Vec<&str> = schema["t"].iter().map(String::as_str).collect();
    assert_eq!(columns, ["a", "b", "d"]);
}

/// The columns of the database at `db`, after the server's own migrations ran.
async fn live_schema(db: &TestDb) -> Schema {
    wasap::store::Store::open(db.url())
        .await
        .expect("the store opens and migrates")
        .close()
        .await;
    let rows: Vec<(String, String)> = if db.is_postgres() {
        let mut connection = sqlx::PgConnection::connect(db.url()).await.expect("connect");
        sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut connection)
        .await
    } else {
        let mut connection = sqlx::SqliteConnection::connect(db.url()).await.expect("connect");
        sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut connection)
        .await
    }
    .expect("the columns");
    let mut schema = Schema::new();
    for (table, column) in rows {
        schema
            .entry(table.to_ascii_lowercase())
            .or_default()
            .insert(column.to_ascii_lowercase());
    }
    schema
}

#[tokio::test]
async fn the_database_has_the_columns_its_history_defines() {
    let db = TestDb::new().await;
    let flavour = if db.is_postgres() { "postgres" } else { "sqlite" };
    let (_, defined) = schema_steps(flavour).pop().expect("at least one migration");
    assert_eq!(live_schema(&db).await, defined);
}
