//! The send queue's rows (`send_jobs`) and the instances' pacing overrides
//! (`send_pacing`). This module only reads and writes them; what a status
//! means and when a job goes is `send_queue`'s.

use super::{Store, StoreError, on_pool};

/// A stored job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub instance_id: String,
    pub status: String,
    pub kind: String,
    pub request: String,
    pub send_at: Option<i64>,
    pub due_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
    pub message_id: Option<String>,
    pub failure: Option<String>,
    pub batch_id: Option<String>,
    pub attempts: i64,
}

/// A job to store, `queued`.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub instance_id: &'a str,
    pub kind: &'a str,
    pub request: &'a str,
    pub send_at: Option<i64>,
    pub due_at: i64,
    pub now_ms: i64,
    pub batch_id: Option<&'a str>,
}

/// Which jobs a listing returns, oldest first.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<String>,
    pub batch_id: Option<String>,
    /// Only jobs with a larger id.
    pub after: i64,
    pub limit: i64,
}

/// A queued job's row, as both databases insert it, returning its id.
const INSERT_ONE: &str = "INSERT INTO send_jobs (instance_id, status, kind, request, send_at, due_at, created_at, \
                          updated_at, batch_id) VALUES ($1, 'queued', $2, $3, $4, $5, $6, $6, $7) RETURNING id";

/// The statement that stores `job` as queued and returns its id, on either
/// database.
pub(super) fn insert_one<'q, DB>(job: &NewJob<'q>) -> sqlx::query::QueryAs<'q, DB, (i64,), DB::Arguments<'q>>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    sqlx::query_as(INSERT_ONE)
        .bind(job.instance_id)
        .bind(job.kind)
        .bind(job.request)
        .bind(job.send_at)
        .bind(job.due_at)
        .bind(job.now_ms)
        .bind(job.batch_id)
}

/// Ids per `IN (...)` list.
const IDS_PER_QUERY: usize = 500;

const COLUMNS: &str = "id, instance_id, status, kind, request, send_at, due_at, created_at, updated_at, \
                       sent_at, message_id, failure, batch_id, attempts";

impl Store {
    /// Stores a queued job, unless the instance already has `max_waiting`
    /// jobs waiting (`Ok(None)`); its id otherwise.
    pub async fn insert_send_job(&self, job: NewJob<'_>, max_waiting: i64) -> Result<Option<i64>, StoreError> {
        if self.waiting_send_jobs(job.instance_id).await? >= max_waiting {
            return Ok(None);
        }
        let (id,): (i64,) = on_pool!(self.pool(), |p| insert_one(&job).fetch_one(p).await).map_err(StoreError::from)?;
        Ok(Some(id))
    }

    /// How many jobs of the instance wait to be sent (`queued`).
    pub async fn waiting_send_jobs(&self, instance_id: &str) -> Result<i64, StoreError> {
        let (count,): (i64,) = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT COUNT(*) FROM send_jobs WHERE instance_id = $1 AND status = 'queued'"
        )
        .bind(instance_id)
        .fetch_one(p)
        .await)?;
        Ok(count)
    }

    /// Jobs waiting per instance, for `/metrics`.
    pub async fn waiting_send_jobs_by_instance(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "SELECT instance_id, COUNT(*) FROM send_jobs WHERE status = 'queued' GROUP BY instance_id ORDER BY instance_id"
        )
        .fetch_all(p)
        .await
        })?)
    }

    /// Job `id` of the instance.
    pub async fn send_job(&self, instance_id: &str, id: i64) -> Result<Option<JobRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM send_jobs WHERE instance_id = $1 AND id = $2");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(instance_id)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// A page of the instance's jobs, by id.
    pub async fn send_jobs(&self, instance_id: &str, filter: &JobFilter) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM send_jobs WHERE instance_id = $1 AND id > $2 \
             AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR batch_id = $4) ORDER BY id LIMIT $5"
        );
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(instance_id)
            .bind(filter.after)
            .bind(filter.status.as_deref())
            .bind(filter.batch_id.as_deref())
            .bind(filter.limit)
            .fetch_all(p)
            .await)?)
    }

    /// The instance's next `limit` queued jobs, soonest due first (by the
    /// `(instance_id, status, due_at)` index: never a scan of all jobs).
    pub async fn next_send_jobs(&self, instance_id: &str, limit: i64) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM send_jobs WHERE instance_id = $1 AND status = 'queued' \
             ORDER BY due_at, id LIMIT $2"
        );
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(instance_id)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// The instance's jobs caught `sending` (by a crash between the mark and the outcome).
    pub async fn sending_send_jobs(&self, instance_id: &str) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM send_jobs WHERE instance_id = $1 AND status = 'sending' ORDER BY id");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(instance_id)
            .fetch_all(p)
            .await)?)
    }

    /// The instances with jobs queued or sending, for the schedulers to start.
    pub async fn instances_with_send_jobs(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT DISTINCT instance_id FROM send_jobs WHERE status IN ('queued', 'sending')"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Marks a queued job `sending` with the message id it will go with;
    /// `false` when it is no longer queued (cancelled meanwhile).
    pub async fn mark_send_job_sending(&self, id: i64, message_id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE send_jobs SET status = 'sending', message_id = $2, updated_at = $3, attempts = attempts + 1 \
             WHERE id = $1 AND status = 'queued'"
        )
        .bind(id)
        .bind(message_id)
        .bind(now_ms)
        .execute(p)
        .await
        .map(|d| d.rows_affected()))?;
        Ok(done == 1)
    }

    /// [`Store::mark_send_job_sending`] for several jobs `(id, message id)`,
    /// in one transaction: one commit for a run of jobs the pacing lets go
    /// together. Whether each was still queued, in order.
    pub async fn mark_send_jobs_sending(&self, jobs: &[(i64, &str)], now_ms: i64) -> Result<Vec<bool>, StoreError> {
        let marked = on_pool!(self.pool(), |p| {
            async {
            let mut tx = p.begin().await?;
            let mut marked = Vec::with_capacity(jobs.len());
            for (id, message_id) in jobs {
                let done = sqlx::query(
                    "UPDATE send_jobs SET status = 'sending', message_id = $2, updated_at = $3, attempts = attempts + 1 \
                     WHERE id = $1 AND status = 'queued'",
                )
                .bind(*id)
                .bind(*message_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                marked.push(done.rows_affected() == 1);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(marked)
        }
        .await
        })?;
        Ok(marked)
    }

    /// Marks job `id` `sent` at `sent_at`, if it is `sending`.
    ///
    /// Through the relaxed pool on PostgreSQL (the commit does not wait for
    /// the WAL flush): a mark lost in a crash of the database server leaves
    /// the job `sending`, and recovery finds its message in the record of
    /// sent messages (written, durably, before the send returned) and marks
    /// it `sent` then. Only the `sending` mark, which carries the message id,
    /// must be durable before the send.
    pub async fn mark_send_job_sent(&self, id: i64, sent_at: i64) -> Result<bool, StoreError> {
        let done = on_pool!(self.relaxed_pool(), |p| {
            sqlx::query(
            "UPDATE send_jobs SET status = 'sent', sent_at = $2, updated_at = $2 WHERE id = $1 AND status = 'sending'"
        )
        .bind(id)
        .bind(sent_at)
        .execute(p)
        .await
        .map(|d| d.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Puts jobs marked `sending` that were not tried back to `queued`, with
    /// their message ids and without the attempt their mark counted (a run
    /// of jobs cut short when one of them has to wait).
    pub async fn release_send_jobs(&self, ids: &[i64], now_ms: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        on_pool!(self.pool(), |p| async {
            let mut tx = p.begin().await?;
            for id in ids {
                sqlx::query(
                    "UPDATE send_jobs SET status = 'queued', updated_at = $2, attempts = attempts - 1 \
                     WHERE id = $1 AND status = 'sending'",
                )
                .bind(*id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }
        .await)?;
        Ok(())
    }

    /// Moves job `id` from `from` to `to` (with its send time or failure);
    /// `false` when it was not in `from`.
    pub async fn move_send_job(
        &self,
        id: i64,
        from: &[&str],
        to: &str,
        sent_at: Option<i64>,
        failure: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let from = from.join(",");
        let done = on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE send_jobs SET status = $3, sent_at = COALESCE($4, sent_at), failure = COALESCE($5, failure), \
             updated_at = $6 WHERE id = $1 AND ',' || $2 || ',' LIKE '%,' || status || ',%'"
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(sent_at)
        .bind(failure)
        .bind(now_ms)
        .execute(p)
        .await
        .map(|d| d.rows_affected()))?;
        Ok(done == 1)
    }

    /// Moves the instance's jobs sent as one of `message_ids` from one of
    /// `from` to `to` (receipts); the jobs moved, as they are now. One
    /// statement per [`IDS_PER_QUERY`] ids: receipts come by the thousand a
    /// second, most of them for messages no job sent.
    pub async fn receipt_send_jobs(
        &self,
        instance_id: &str,
        message_ids: &[&str],
        from: &[&str],
        to: &str,
        now_ms: i64,
    ) -> Result<Vec<JobRow>, StoreError> {
        let from = from.join(",");
        let mut moved = Vec::new();
        for chunk in message_ids.chunks(IDS_PER_QUERY) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 5))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE send_jobs SET status = $3, updated_at = $4 WHERE instance_id = $1 AND message_id IN ({list}) \
                 AND ',' || $2 || ',' LIKE '%,' || status || ',%' RETURNING {COLUMNS}"
            );
            let rows: Vec<JobRow> = on_pool!(self.pool(), |p| {
                let mut query = sqlx::query_as(&sql).bind(instance_id).bind(&from).bind(to).bind(now_ms);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(p).await
            })?;
            moved.extend(rows);
        }
        Ok(moved)
    }

    /// The instance's jobs of `ids` (those that exist), by id; one query per
    /// [`IDS_PER_QUERY`] ids.
    pub async fn send_jobs_by_ids(&self, instance_id: &str, ids: &[i64]) -> Result<Vec<JobRow>, StoreError> {
        let mut jobs = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("SELECT {COLUMNS} FROM send_jobs WHERE instance_id = $1 AND id IN ({list}) ORDER BY id");
            let rows: Vec<JobRow> = on_pool!(self.pool(), |p| {
                let mut query = sqlx::query_as(&sql).bind(instance_id);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(p).await
            })?;
            jobs.extend(rows);
        }
        Ok(jobs)
    }

    /// Whether the instance's record of sent messages has `message_id`.
    pub async fn was_sent(&self, instance_id: &str, message_id: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            // BIGINT on both databases: a bare 1 is INT4 on PostgreSQL, which does not decode as i64.
            "SELECT CAST(1 AS BIGINT) FROM sent_messages WHERE instance_id = $1 AND message_id = $2"
        )
        .bind(instance_id)
        .bind(message_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.is_some())
    }

    /// When the instance's jobs went out since `since_ms`, oldest first
    /// (the pacing windows, rebuilt after a restart).
    pub async fn send_job_times(&self, instance_id: &str, since_ms: i64) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT sent_at FROM send_jobs WHERE instance_id = $1 AND sent_at IS NOT NULL AND sent_at >= $2 \
             ORDER BY sent_at"
        )
        .bind(instance_id)
        .bind(since_ms)
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(at,)| at).collect())
    }

    /// Deletes finished jobs (sent, delivered, read, failed, cancelled)
    /// last changed before `before_ms`; how many.
    pub async fn prune_send_jobs(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query(
            "DELETE FROM send_jobs WHERE updated_at < $1 AND status NOT IN ('queued', 'sending')"
        )
        .bind(before_ms)
        .execute(p)
        .await
        .map(|d| d.rows_affected()))?)
    }

    /// The instance's pacing override (JSON), if any.
    pub async fn send_pacing(&self, instance_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT pacing FROM send_pacing WHERE instance_id = $1"
        )
        .bind(instance_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(json,)| json))
    }

    /// Stores the instance's pacing override (JSON).
    pub async fn set_send_pacing(&self, instance_id: &str, pacing: &str) -> Result<(), StoreError> {
        on_pool!(self.pool(), |p| sqlx::query(
            "INSERT INTO send_pacing (instance_id, pacing) VALUES ($1, $2) \
             ON CONFLICT (instance_id) DO UPDATE SET pacing = excluded.pacing"
        )
        .bind(instance_id)
        .bind(pacing)
        .execute(p)
        .await
        .map(drop))
        .map_err(StoreError::from)
    }
}
