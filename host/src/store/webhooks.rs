//! The `webhooks` table: the receivers configured per instance through the
//! API (the primary `webhook-setconfig` one and any others). Global webhooks
//! come from the configuration and are not stored here.
//!
//! `events` is kept as a JSON array of event kind names; an empty array
//! subscribes to every kind.

use super::{Store, StoreError, on_pool};
use crate::clock::now_secs;

/// One stored webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub instance_id: String,
    pub url: String,
    /// The HMAC key every delivery is signed with.
    pub secret: String,
    /// `sudevwa` or `gowa`.
    pub format: String,
    /// Event kind names; empty: every kind.
    pub events: Vec<String>,
    pub enabled: bool,
    /// The instance's `webhook-setconfig` webhook.
    pub is_primary: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    instance_id: Option<String>,
    url: String,
    secret: String,
    format: String,
    events: String,
    enabled: bool,
    is_primary: bool,
}

impl TryFrom<Row> for WebhookRow {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<WebhookRow, StoreError> {
        let events = serde_json::from_str(&row.events)
            .map_err(|e| StoreError::Corrupt(format!("webhook {}: events {e}", row.id)))?;
        Ok(WebhookRow {
            id: row.id,
            instance_id: row.instance_id.unwrap_or_default(),
            url: row.url,
            secret: row.secret,
            format: row.format,
            events,
            enabled: row.enabled,
            is_primary: row.is_primary,
        })
    }
}

const COLUMNS: &str = "id, instance_id, url, secret, format, events, enabled, is_primary";

/// Webhooks one instance may have, the primary one included: a listing and
/// every event's fan-out stay small.
pub const MAX_WEBHOOKS_PER_INSTANCE: i64 = 32;

/// What the primary webhook subscribes to: the message traffic of the
/// source document's webhook (`incoming_message`) and of `/api/listen/{id}`
/// (receipts and group events; messages that could not be decrypted, and
/// votes on the instance's polls, which are message traffic too; and calls,
/// which a bot learns of only this way), not the instance's lifecycle (QR
/// codes rotating every few seconds would flood a receiver that expects
/// messages; a webhook subscribes to those kinds by name).
pub const PRIMARY_EVENTS: [&str; 9] = [
    "message",
    "message_undecryptable",
    "receipt",
    "group_participants",
    "group_update",
    "poll_vote",
    "call_offer",
    "call_missed",
    "call_ended",
];

/// The outcome of [`Store::insert_webhook`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookInsert {
    Inserted,
    /// The instance already has [`MAX_WEBHOOKS_PER_INSTANCE`].
    TooMany,
}

impl Store {
    /// Adds a (non-primary) webhook, unless the instance already has its maximum.
    pub async fn insert_webhook(&self, row: &WebhookRow) -> Result<WebhookInsert, StoreError> {
        let events = serde_json::to_string(&row.events).unwrap_or_else(|_| "[]".to_owned());
        // One statement counts and inserts; a racing second insert may pass the
        // count too, which only lets the cap be exceeded by the racers: a soft
        // bound is enough for a listing limit.
        let inserted = on_pool!(self.pool(), |p| sqlx::query(
            "INSERT INTO webhooks (id, instance_id, url, secret, format, events, enabled, is_primary, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE (SELECT COUNT(*) FROM webhooks WHERE instance_id = $2) < $10"
        )
        .bind(&row.id)
        .bind(&row.instance_id)
        .bind(&row.url)
        .bind(&row.secret)
        .bind(&row.format)
        .bind(&events)
        .bind(row.enabled)
        .bind(row.is_primary)
        .bind(now_secs())
        .bind(MAX_WEBHOOKS_PER_INSTANCE)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        self.webhooks_changed();
        Ok(if inserted == 0 {
            WebhookInsert::TooMany
        } else {
            WebhookInsert::Inserted
        })
    }

    /// Sets the instance's primary webhook (`webhook-setconfig`): its URL and
    /// secret replace the old ones, or it is created in the format `sudevwa`
    /// with [`PRIMARY_EVENTS`].
    pub async fn set_primary_webhook(
        &self,
        instance_id: &str,
        url: &str,
        secret: &str,
        new_id: &str,
    ) -> Result<(), StoreError> {
        let updated = on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE webhooks SET url = $2, secret = $3, enabled = TRUE WHERE instance_id = $1 AND is_primary = TRUE"
        )
        .bind(instance_id)
        .bind(url)
        .bind(secret)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        self.webhooks_changed();
        if updated > 0 {
            return Ok(());
        }
        on_pool!(self.pool(), |p| sqlx::query(
            "INSERT INTO webhooks (id, instance_id, url, secret, format, events, enabled, is_primary, created_at) \
             VALUES ($1, $2, $3, $4, 'sudevwa', $5, TRUE, TRUE, $6)"
        )
        .bind(new_id)
        .bind(instance_id)
        .bind(url)
        .bind(secret)
        .bind(serde_json::to_string(&PRIMARY_EVENTS).unwrap_or_else(|_| "[]".to_owned()))
        .bind(now_secs())
        .execute(p)
        .await
        .map(|_| ()))?;
        self.webhooks_changed();
        Ok(())
    }

    /// The webhooks of `instance_id`, primary first, then oldest first.
    pub async fn list_webhooks(&self, instance_id: &str) -> Result<Vec<WebhookRow>, StoreError> {
        let rows: Vec<Row> = on_pool!(self.pool(), |p| sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE instance_id = $1 \
             ORDER BY is_primary DESC, created_at, id LIMIT $2"
        ))
        .bind(instance_id)
        .bind(MAX_WEBHOOKS_PER_INSTANCE * 2)
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(WebhookRow::try_from).collect()
    }

    /// The enabled webhooks of `instance_id` in `format`.
    pub async fn webhooks_for(&self, instance_id: &str, format: &str) -> Result<Vec<WebhookRow>, StoreError> {
        let rows: Vec<Row> = on_pool!(self.pool(), |p| sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE instance_id = $1 AND format = $2 AND enabled = TRUE \
             ORDER BY id LIMIT $3"
        ))
        .bind(instance_id)
        .bind(format)
        .bind(MAX_WEBHOOKS_PER_INSTANCE * 2)
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(WebhookRow::try_from).collect()
    }

    /// The secret of webhook `id`, or `None` when it no longer exists.
    pub async fn webhook_secret(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT secret FROM webhooks WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(secret,)| secret))
    }

    /// Removes webhook `id` of `instance_id`; `false` when there is none.
    pub async fn delete_webhook(&self, instance_id: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = on_pool!(self.pool(), |p| sqlx::query(
            "DELETE FROM webhooks WHERE instance_id = $1 AND id = $2"
        )
        .bind(instance_id)
        .bind(id)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        self.webhooks_changed();
        Ok(deleted > 0)
    }
}
