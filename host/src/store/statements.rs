//! Running a write's statements: one alone (atomic by itself, SQLite's write
//! lock held for that statement only), several in one transaction (the
//! write lands whole or not at all). The multi-row writes of the device store
//! (`device/grouped_writes.rs`, `device/address_records.rs`,
//! `device/msg_secret.rs`) and of the sent messages' records
//! (`sent_records.rs`) build their statements, a chunk of rows each, and run
//! them here (`execute_chunks`); `placeholder_rows` numbers a multi-row
//! `VALUES` list, and `last_of_each_key` keeps one row per key.

use std::collections::HashMap;

use sqlx::query::Query;

/// Runs `queries` against `pool`: the only one on its own, more in one transaction.
pub(crate) async fn execute_all<'q, DB>(
    pool: &sqlx::Pool<DB>,
    queries: Vec<Query<'q, DB, DB::Arguments<'q>>>,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'e> &'e sqlx::Pool<DB>: sqlx::Executor<'e, Database = DB>,
{
    if queries.len() <= 1 {
        for query in queries {
            query.execute(pool).await?;
        }
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for query in queries {
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Runs a multi-row write: chunk `i` of `rows` (`per_statement` rows each)
/// bound by `bind` into `statements[i]`, the statements run as
/// [`execute_all`] runs them.
pub(crate) async fn execute_chunks<'q, DB, R>(
    pool: &sqlx::Pool<DB>,
    statements: &'q [String],
    rows: &'q [R],
    per_statement: usize,
    bind: impl Fn(Query<'q, DB, DB::Arguments<'q>>, &'q [R]) -> Query<'q, DB, DB::Arguments<'q>>,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'e> &'e sqlx::Pool<DB>: sqlx::Executor<'e, Database = DB>,
{
    let queries = statements
        .iter()
        .zip(rows.chunks(per_statement))
        .map(|(sql, chunk)| bind(sqlx::query(sql), chunk))
        .collect();
    execute_all(pool, queries).await
}

/// The rows of `rows` that are the last with their key, in their order: a
/// multi-row upsert may not name one row twice (PostgreSQL refuses to update
/// a row twice in a statement), and the last write of a key is the one that
/// stands.
pub(crate) fn last_of_each_key<'r, T, K: Eq + std::hash::Hash>(rows: &'r [T], key: impl Fn(&'r T) -> K) -> Vec<&'r T> {
    let mut last: HashMap<K, usize> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        last.insert(key(row), i);
    }
    rows.iter()
        .enumerate()
        .filter(|(i, row)| last[&key(row)] == *i)
        .map(|(_, row)| row)
        .collect()
}

/// The `VALUES` list of a multi-row statement: `rows` tuples of `width`
/// numbered placeholders each, from `$1` on, in row order.
pub(crate) fn placeholder_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| {
            let numbers: Vec<String> = (1..=width).map(|column| format!("${}", row * width + column)).collect();
            format!("({})", numbers.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_row_after_row() {
        assert_eq!(super::placeholder_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::placeholder_rows(1, 1), "($1)");
    }
}
