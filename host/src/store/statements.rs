//! Running a write's statements: one alone (atomic by itself, SQLite's write
//! lock held for that statement only), several in one transaction (the
//! write lands whole or not at all). The multi-row writes of the device store
//! (`device/grouped_writes.rs`, `device/address_records.rs`,
//! `device/msg_secret.rs`) and of the sent messages' records
//! (`sent_records.rs`) build their statements, a chunk of rows each, and run
//! them here; `placeholder_rows` numbers a multi-row `VALUES` list.

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
