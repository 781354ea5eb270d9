//! The `webhook_deliveries` table: the durable webhook outbox.
//!
//! A row is written when an event is accepted for a receiver and lives on:
//! `pending` until an attempt succeeds (`delivered`) or the last attempt
//! fails (`failed`, until someone asks for a retry). Enqueueing is idempotent
//! on (webhook, event), so an event handled twice (a replayed plugin, a
//! retried request) is still delivered once per receiver.
//!
//! The store does not know who is sending: the delivery worker decides which
//! due rows it works on (it keeps its own in-flight set) and reports each
//! attempt's result back here.

use super::{Store, StoreError, on_pool, unix_now};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// A delivery to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub webhook_id: String,
    pub instance_id: Option<String>,
    pub event_id: String,
    pub event_kind: String,
    pub url: String,
    pub format: String,
    pub content_type: String,
    /// Extra request headers (name, value).
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub instance_id: Option<String>,
    pub event_id: String,
    pub event_kind: String,
    pub url: String,
    pub format: String,
    pub content_type: String,
    /// JSON array of `[name, value]` pairs.
    pub headers: String,
    pub payload: Vec<u8>,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_ms: i64,
    pub created_at: i64,
}

impl DeliveryRow {
    /// The extra headers; a corrupt value counts as none (they are extras).
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.headers).unwrap_or_default()
    }
}

const COLUMNS: &str = "id, webhook_id, instance_id, event_id, event_kind, url, format, content_type, headers, \
     payload, status, attempts, last_error, next_attempt_ms, created_at";

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub instance_id: Option<String>,
    pub limit: u32,
}

/// The outcome of one attempt, as the worker reports it.
#[derive(Debug, Clone)]
pub enum AttemptResult {
    Delivered,
    /// Failed; try again at `next_attempt_ms`.
    Retry { error: String, next_attempt_ms: i64 },
    /// Failed for the last time.
    Failed { error: String },
}

/// Longest error text kept per delivery.
const MAX_ERROR_CHARS: usize = 500;

/// Unix milliseconds now, the unit of `next_attempt_ms`.
pub fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Queues `delivery`, due now; `false` when this receiver already has
    /// this event (queued, delivered or failed).
    pub async fn enqueue_delivery(&self, delivery: &NewDelivery) -> Result<bool, StoreError> {
        let headers = serde_json::to_string(&delivery.headers).unwrap_or_else(|_| "[]".to_owned());
        let now = unix_now();
        let inserted = on_pool!(self.pool(), |p| sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, instance_id, event_id, event_kind, url, format, \
             content_type, headers, payload, status, attempts, next_attempt_ms, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, $12, $12) \
             ON CONFLICT (webhook_id, event_id) DO NOTHING"
        )
        .bind(&delivery.id)
        .bind(&delivery.webhook_id)
        .bind(delivery.instance_id.as_deref())
        .bind(&delivery.event_id)
        .bind(&delivery.event_kind)
        .bind(&delivery.url)
        .bind(&delivery.format)
        .bind(&delivery.content_type)
        .bind(&headers)
        .bind(&delivery.payload)
        .bind(unix_now_ms())
        .bind(now)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(inserted > 0)
    }

    /// Up to `limit` pending deliveries due at `now_ms`, the longest-waiting
    /// first, leaving out the ids in `busy` (being attempted) and the URLs in
    /// `saturated` (whose receiver has enough work already).
    pub async fn due_deliveries(
        &self,
        now_ms: i64,
        busy: &[String],
        saturated: &[String],
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        // The lists are bounded by the worker's in-flight cap, so the
        // placeholders stay far below either engine's parameter limit.
        let mut sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_ms <= $1");
        let mut n = 1;
        for (column, values) in [("id", busy), ("url", saturated)] {
            if values.is_empty() {
                continue;
            }
            let placeholders: Vec<String> = values.iter().map(|_| {
                n += 1;
                format!("${n}")
            }).collect();
            sql.push_str(&format!(" AND {column} NOT IN ({})", placeholders.join(", ")));
        }
        sql.push_str(&format!(" ORDER BY next_attempt_ms, id LIMIT ${}", n + 1));
        let rows = on_pool!(self.pool(), |p| {
            let mut query = sqlx::query_as::<_, DeliveryRow>(&sql).bind(now_ms);
            for value in busy.iter().chain(saturated) {
                query = query.bind(value);
            }
            query.bind(i64::from(limit)).fetch_all(p).await
        })?;
        Ok(rows)
    }

    /// When the next pending delivery is due (unix ms), if any is pending.
    pub async fn next_delivery_due(&self) -> Result<Option<i64>, StoreError> {
        let (due,): (Option<i64>,) = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT MIN(next_attempt_ms) FROM webhook_deliveries WHERE status = 'pending'"
        )
        .fetch_one(p)
        .await)?;
        Ok(due)
    }

    /// Counts attempt number `attempts` of delivery `id` before it is made,
    /// so an attempt cut short by a crash still counts: a delivery cannot be
    /// retried without bound, and the next attempt carries the next number.
    pub async fn start_attempt(&self, id: &str, attempts: i64) -> Result<(), StoreError> {
        on_pool!(self.pool(), |p| sqlx::query("UPDATE webhook_deliveries SET attempts = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(attempts)
            .bind(unix_now())
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Records the result of attempt number `attempts` of delivery `id`.
    pub async fn record_attempt(&self, id: &str, attempts: i64, result: &AttemptResult) -> Result<(), StoreError> {
        let (status, error, next) = match result {
            AttemptResult::Delivered => (DeliveryStatus::Delivered, None, None),
            AttemptResult::Retry { error, next_attempt_ms } => (DeliveryStatus::Pending, Some(error), Some(*next_attempt_ms)),
            AttemptResult::Failed { error } => (DeliveryStatus::Failed, Some(error), None),
        };
        let error: Option<String> = error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect());
        on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE webhook_deliveries SET status = $2, attempts = $3, last_error = COALESCE($4, last_error), \
             next_attempt_ms = COALESCE($5, next_attempt_ms), updated_at = $6 WHERE id = $1"
        )
        .bind(id)
        .bind(status.as_str())
        .bind(attempts)
        .bind(error)
        .bind(next)
        .bind(unix_now())
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Deliveries matching `filter`, newest first, at most `filter.limit`.
    pub async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = on_pool!(self.pool(), |p| sqlx::query_as::<_, DeliveryRow>(&format!(
            "SELECT {COLUMNS} FROM webhook_deliveries \
             WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR instance_id = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(filter.instance_id.as_deref())
        .bind(i64::from(filter.limit))
        .fetch_all(p)
        .await)?;
        Ok(rows)
    }

    /// Delivery `id`, if it exists.
    pub async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let row = on_pool!(self.pool(), |p| sqlx::query_as::<_, DeliveryRow>(&format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(p)
        .await)?;
        Ok(row)
    }

    /// Removes up to `limit` deliveries delivered before `before` (unix
    /// seconds); how many. Failed ones stay until someone retries them.
    pub async fn prune_delivered(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let deleted = on_pool!(self.pool(), |p| sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE status = 'delivered' AND updated_at < $1 LIMIT $2)"
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(deleted)
    }

    /// Puts failed delivery `id` back in the queue, due now, with a fresh
    /// round of attempts; `false` when it is not `failed`.
    pub async fn retry_delivery(&self, id: &str) -> Result<bool, StoreError> {
        let updated = on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_ms = $2, updated_at = $3 \
             WHERE id = $1 AND status = 'failed'"
        )
        .bind(id)
        .bind(unix_now_ms())
        .bind(unix_now())
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(updated > 0)
    }
}
