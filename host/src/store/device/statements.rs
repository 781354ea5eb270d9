//! Running a write's statements: one alone (atomic by itself, SQLite's write
//! lock held for that statement only), several in one transaction (the
//! write lands whole or not at all). The multi-row writes of the device store
//! (`grouped_writes.rs`, `address_records.rs`, `msg_secret.rs`) build their
//! statements, a chunk of rows each, and run them here.

use sqlx::query::Query;

/// Runs `queries` against `pool`: the only one on its own, more in one transaction.
pub(super) async fn execute_all<'q, DB>(
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
