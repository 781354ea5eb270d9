//! A bulk send's jobs as one batch of `send_jobs` rows (same `batch_id`):
//! stored together in one transaction, or not at all, and cancelled
//! together. What a batch is to the API is `send_queue::bulk`'s.

use sqlx::Transaction;

use super::send_jobs::{NewJob, insert_one};
use super::{Pool, Store, StoreError, on_pool};

/// Whether `tx` has room for `adding` more of the instance's jobs under
/// `max_waiting`: then the transaction back, with how many jobs wait once
/// they are in. The waiting jobs are counted only when `waiting_at_most`,
/// an upper bound the caller kept, leaves no room (a count's cost grows
/// with the backlog). Without room, `tx` is rolled back and `None`.
async fn within_room<'c, DB>(
    mut tx: Transaction<'c, DB>,
    instance_id: &str,
    adding: i64,
    max_waiting: i64,
    waiting_at_most: Option<i64>,
) -> Result<Option<(Transaction<'c, DB>, i64)>, sqlx::Error>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let waiting = match waiting_at_most {
        Some(bound) if bound + adding <= max_waiting => bound,
        _ => {
            sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM send_jobs WHERE instance_id = $1 AND status = 'queued'")
                .bind(instance_id)
                .fetch_one(&mut *tx)
                .await?
                .0
        }
    };
    if waiting + adding > max_waiting {
        tx.rollback().await?;
        return Ok(None);
    }
    Ok(Some((tx, waiting + adding)))
}

impl Store {
    /// Stores `jobs` as queued, in one transaction: all of them, with their
    /// ids in order, or none (`Ok(None)`) when the instance would then have
    /// more than `max_waiting` jobs waiting. Every job is of `instance_id`.
    pub async fn insert_send_batch(
        &self,
        instance_id: &str,
        jobs: &[NewJob<'_>],
        max_waiting: i64,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        Ok(self
            .insert_send_batch_within(instance_id, jobs, max_waiting, None)
            .await?
            .map(|(ids, _)| ids))
    }

    /// [`Store::insert_send_batch`], given at most how many jobs the
    /// instance has waiting (`waiting_at_most`, an upper bound its caller
    /// kept): while the bound leaves room for `jobs`, the waiting jobs are
    /// not counted, a count whose cost grows with the backlog. Also returns
    /// the bound after the insert.
    pub async fn insert_send_batch_within(
        &self,
        instance_id: &str,
        jobs: &[NewJob<'_>],
        max_waiting: i64,
        waiting_at_most: Option<i64>,
    ) -> Result<Option<(Vec<i64>, i64)>, StoreError> {
        debug_assert!(jobs.iter().all(|job| job.instance_id == instance_id));
        let adding = jobs.len() as i64;
        // In an async block, so that every error of the transaction passes
        // the mapping below (a `?` would return it unmapped).
        let stored = match self.pool() {
            Pool::Sqlite(p) => async {
                // IMMEDIATE: the write lock first. A transaction that reads
                // (the count) before it writes cannot take the lock once
                // another connection has committed, and fails at once
                // ("database is locked") instead of waiting its turn.
                let tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let Some((mut tx, waiting)) = within_room(tx, instance_id, adding, max_waiting, waiting_at_most).await?
                else {
                    return Ok(None);
                };
                // In-process: a statement per row costs no round trip.
                let mut ids = Vec::with_capacity(jobs.len());
                for job in jobs {
                    let (id,) = insert_one(job).fetch_one(&mut *tx).await?;
                    ids.push(id);
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Some((ids, waiting)))
            }
            .await,
            Pool::Postgres(p) => async {
                let tx = p.begin().await?;
                let Some((mut tx, waiting)) = within_room(tx, instance_id, adding, max_waiting, waiting_at_most).await?
                else {
                    return Ok(None);
                };
                // One statement for all rows: a round trip per row would
                // bound a busy intake by the connection's latency.
                let rows: Vec<(i64,)> = sqlx::query_as(
                    "INSERT INTO send_jobs (instance_id, status, kind, request, send_at, due_at, created_at, \
                     updated_at, batch_id) SELECT $1, 'queued', kind, request, send_at, due_at, now_ms, now_ms, batch_id \
                     FROM UNNEST($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::TEXT[]) \
                     WITH ORDINALITY AS job(kind, request, send_at, due_at, now_ms, batch_id, n) ORDER BY n RETURNING id",
                )
                .bind(instance_id)
                .bind(jobs.iter().map(|job| job.kind).collect::<Vec<_>>())
                .bind(jobs.iter().map(|job| job.request).collect::<Vec<_>>())
                .bind(jobs.iter().map(|job| job.send_at).collect::<Vec<_>>())
                .bind(jobs.iter().map(|job| job.due_at).collect::<Vec<_>>())
                .bind(jobs.iter().map(|job| job.now_ms).collect::<Vec<_>>())
                .bind(jobs.iter().map(|job| job.batch_id).collect::<Vec<_>>())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                // The rows took their ids from the sequence in the order they
                // were inserted (ORDER BY n); RETURNING's own order is not
                // promised, so the ids are put back in order.
                let mut ids: Vec<i64> = rows.into_iter().map(|(id,)| id).collect();
                ids.sort_unstable();
                Ok(Some((ids, waiting)))
            }
            .await,
        }
        .map_err(StoreError::of_instance_write)?;
        Ok(stored)
    }

    /// Cancels the batch's jobs that are still queued; their ids.
    pub async fn cancel_send_batch(
        &self,
        instance_id: &str,
        batch_id: &str,
        now_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "UPDATE send_jobs SET status = 'cancelled', updated_at = $3 \
             WHERE instance_id = $1 AND batch_id = $2 AND status = 'queued' RETURNING id"
        )
        .bind(instance_id)
        .bind(batch_id)
        .bind(now_ms)
        .fetch_all(p)
        .await)?;
        let mut ids: Vec<i64> = rows.into_iter().map(|(id,)| id).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Whether the instance has any job (in any status) of the batch.
    pub async fn send_batch_exists(&self, instance_id: &str, batch_id: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT id FROM send_jobs WHERE instance_id = $1 AND batch_id = $2 LIMIT 1"
        )
        .bind(instance_id)
        .bind(batch_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.is_some())
    }
}
