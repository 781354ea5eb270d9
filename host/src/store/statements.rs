//! Running a write's statements: one alone (atomic by itself, SQLite's write
//! lock held for that statement only), several in one transaction (the
//! write lands whole or not at all). The multi-row writes of the device store
//! (`device/grouped_writes.rs`, `device/address_records.rs`,
//! `device/msg_secret.rs`) and of the sent messages' records
//! (`sent_records.rs`) build their statements, a chunk of rows each, and run
//! them here (`execute_chunks`); `Params` writes their parameters (a
//! multi-row `VALUES` list, an `IN` list) as each database reads them best,
//! `padded_count` rounds a row count to the few a connection
//! prepares (`padded` pads a list to it), and `last_of_each_key` keeps one row per key.

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

/// How a statement writes its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Params {
    /// `$1, $2, ...`: PostgreSQL's form.
    Numbered,
    /// `?, ?, ...`, bound in the order they appear: SQLite's cheap form. sqlx
    /// asks SQLite for the name of every parameter on every execution, and
    /// SQLite finds a numbered one's name by walking the list of all names:
    /// quadratic in the parameters of a long multi-row statement (thousands
    /// of them in one outbox insert), where an unnamed one costs nothing.
    InOrder,
}

impl Params {
    /// The form for statements run on `pool`.
    pub(crate) fn of(pool: &super::Pool) -> Params {
        match pool {
            super::Pool::Sqlite(_) => Params::InOrder,
            super::Pool::Postgres(_) => Params::Numbered,
        }
    }

    /// `count` parameters, comma separated, numbered from `first` on (which
    /// an in-order statement's must be: each is the next one bound).
    pub(crate) fn list(self, first: usize, count: usize) -> String {
        let one = |n: usize| match self {
            Params::Numbered => format!("${n}"),
            Params::InOrder => "?".to_owned(),
        };
        (first..first + count).map(one).collect::<Vec<_>>().join(", ")
    }

    /// The `VALUES` list of a multi-row statement: `rows` tuples of `width`
    /// parameters each, from the first on, in row order.
    pub(crate) fn rows(self, rows: usize, width: usize) -> String {
        (0..rows)
            .map(|row| format!("({})", self.list(row * width + 1, width)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The row count to write `rows` rows with, at most `max`: the next of 1, 2,
/// 3, 4, 6, 8, 12, 16, 24, ... (each a half or a third more than the one
/// before). Statements are prepared and cached per connection and SQL text:
/// a write whose rows are padded to these counts (with rows that change
/// nothing, such as repeats of one its conflict clause skips) leaves each
/// connection a dozen statements to prepare, where one per count made a
/// burst prepare long statements again and again (on SQLite, binding one
/// costs time quadratic in its parameters).
pub(crate) fn padded_count(rows: usize, max: usize) -> usize {
    let mut count = 1;
    while count < rows && count < max {
        count = match count {
            1 => 2,
            c if c.is_power_of_two() => c + c / 2,
            c => c / 3 * 4,
        };
    }
    count.min(max)
}

/// `items` padded with repeats of its last to [`padded_count`] of them (at
/// most `max`): that count, and the items in order.
pub(crate) fn padded<T>(items: &[T], max: usize) -> (usize, impl Iterator<Item = &T> + Clone) {
    let count = padded_count(items.len(), max);
    (count, items.iter().chain(items.last().into_iter().cycle()).take(count))
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_rounded_up_to_a_few_sizes() {
        let sizes: Vec<usize> = (1..=200).map(|n| super::padded_count(n, 200)).collect();
        for (n, size) in (1..=200).zip(&sizes) {
            assert!(*size >= n && *size <= n + n / 2, "{n} rows as {size}");
        }
        let mut distinct = sizes.clone();
        distinct.dedup();
        assert_eq!(distinct, [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 200]);
        assert_eq!(super::padded_count(0, 10), 1);
        let (count, items) = super::padded(&[1, 2, 3, 4, 5], 200);
        assert_eq!((count, items.collect::<Vec<_>>()), (6, vec![&1, &2, &3, &4, &5, &5]));
    }

    use super::Params;

    #[test]
    fn placeholders_are_numbered_row_after_row_or_left_in_order() {
        assert_eq!(Params::Numbered.rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Params::Numbered.rows(1, 1), "($1)");
        assert_eq!(Params::InOrder.rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Params::Numbered.list(3, 2), "$3, $4");
        assert_eq!(Params::InOrder.list(3, 2), "?, ?");
    }
}
