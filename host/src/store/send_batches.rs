//! A bulk send's jobs as one batch of `send_jobs` rows (same `batch_id`):
//! stored together in one transaction, or not at all, and cancelled
//! together. What a batch is to the API is `send_queue::bulk`'s.

use super::send_jobs::NewJob;
use super::{Store, StoreError, on_pool};

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
        debug_assert!(jobs.iter().all(|job| job.instance_id == instance_id));
        // In an async block, so that every error of the transaction passes
        // the mapping below (a `?` would return it unmapped).
        let ids = on_pool!(self.pool(), |p| async {
            let mut tx = p.begin().await?;
            let (waiting,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM send_jobs WHERE instance_id = $1 AND status = 'queued'")
                    .bind(instance_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if waiting + jobs.len() as i64 > max_waiting {
                tx.rollback().await?;
                Ok::<_, sqlx::Error>(None)
            } else {
                let mut ids = Vec::with_capacity(jobs.len());
                for job in jobs {
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO send_jobs (instance_id, status, kind, request, send_at, due_at, created_at, \
                         updated_at, batch_id) VALUES ($1, 'queued', $2, $3, $4, $5, $6, $6, $7) RETURNING id",
                    )
                    .bind(job.instance_id)
                    .bind(job.kind)
                    .bind(job.request)
                    .bind(job.send_at)
                    .bind(job.due_at)
                    .bind(job.now_ms)
                    .bind(job.batch_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    ids.push(id);
                }
                tx.commit().await?;
                Ok(Some(ids))
            }
        }
        .await)
        .map_err(StoreError::of_instance_write)?;
        Ok(ids)
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
