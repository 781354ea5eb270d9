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
//! attempt's result back through the batched statements of [`super::outbox`].
//! This file has the rows and what the API does with them: list, retry, prune.

use super::{Store, StoreError, on_pool};
use crate::clock::{now_ms, now_secs};

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

impl NewDelivery {
    /// The row as stored by [`Store::enqueue_deliveries`] at `now_ms`.
    pub fn into_pending_row(self, now_ms: i64) -> DeliveryRow {
        DeliveryRow {
            id: self.id,
            webhook_id: self.webhook_id,
            instance_id: self.instance_id,
            event_id: self.event_id,
            event_kind: self.event_kind,
            url: self.url,
            format: self.format,
            content_type: self.content_type,
            headers: serde_json::to_string(&self.headers).unwrap_or_else(|_| "[]".to_owned()),
            payload: self.payload,
            status: DeliveryStatus::Pending.as_str().to_owned(),
            attempts: 0,
            last_error: None,
            next_attempt_ms: now_ms,
            created_at: now_ms / 1000,
        }
    }
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

pub(super) const COLUMNS: &str = "id, webhook_id, instance_id, event_id, event_kind, url, format, content_type, headers, \
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
    Retry {
        error: String,
        next_attempt_ms: i64,
    },
    /// Failed for the last time.
    Failed {
        error: String,
    },
}

impl Store {
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

    /// Removes up to `limit` deliveries in `status` (`delivered` or
    /// `failed`: pending ones are never pruned) last updated before `before`
    /// (unix seconds); how many.
    pub async fn prune_deliveries(&self, status: &str, before: i64, limit: u32) -> Result<u64, StoreError> {
        let deleted = on_pool!(self.pool(), |p| sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE status = $3 AND status <> 'pending' AND updated_at < $1 LIMIT $2)"
        )
        .bind(before)
        .bind(i64::from(limit))
        .bind(status)
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
        .bind(now_ms())
        .bind(now_secs())
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(updated > 0)
    }
}
