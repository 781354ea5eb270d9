//! Finding a message by its WhatsApp id, for the actions that name one
//! (react, edit, revoke, mark read): its chat, its author, whether this
//! account sent it, and its kind.
//!
//! Two sources: `sent_messages`, written when WhatsApp took a message this
//! server sent, and the inbound journal, whose message entries carry their id
//! (`inbound_journal.message_id`). Both follow the journal's retention
//! (`WASAP_JOURNAL_*`): a message older than that is not found.

use super::{Store, StoreError, on_pool};

/// Rows removed per statement by the prune.
const PRUNE_BATCH: i64 = 1000;

/// A message as the actions on it need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownMessage {
    /// WhatsApp's id of the message.
    pub id: String,
    /// The chat's JID.
    pub chat: String,
    /// The author's JID; `None` for a message this server sent.
    pub sender: Option<String>,
    /// Sent by this account (by this server, or from the phone).
    pub from_me: bool,
    /// The content kind (`text`, `image`, `reaction`, ...).
    pub kind: String,
    /// When it was sent, unix seconds.
    pub timestamp: i64,
}

impl Store {
    /// Remembers a message this server sent, once WhatsApp took it. A second
    /// record of the same id changes nothing.
    pub async fn record_sent(
        &self,
        instance_id: &str,
        message_id: &str,
        chat: &str,
        kind: &str,
        sent_at: i64,
    ) -> Result<(), StoreError> {
        self.put_sent_record(instance_id, message_id, chat, kind, sent_at, None)
            .await
    }

    /// The message `message_id` of instance `instance_id`: one this server
    /// sent, or else the newest journalled one with that id.
    pub async fn find_message(&self, instance_id: &str, message_id: &str) -> Result<Option<KnownMessage>, StoreError> {
        let sent: Option<(String, String, i64)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT chat, kind, sent_at FROM sent_messages WHERE instance_id = $1 AND message_id = $2"
        )
        .bind(instance_id)
        .bind(message_id)
        .fetch_optional(p)
        .await)?;
        if let Some((chat, kind, timestamp)) = sent {
            return Ok(Some(KnownMessage {
                id: message_id.to_owned(),
                chat,
                sender: None,
                from_me: true,
                kind,
                timestamp,
            }));
        }
        let journalled = self.journalled_message(instance_id, message_id).await?;
        Ok(journalled.map(|message| KnownMessage {
            kind: message.content.name().to_owned(),
            id: message.id,
            chat: message.chat,
            sender: Some(message.sender),
            from_me: message.from_me,
            timestamp: message.timestamp,
        }))
    }

    /// Removes the sent messages older than `before` (unix seconds) or
    /// beyond the newest `max_per_instance` of their instance; how many went.
    pub async fn sent_messages_prune(&self, before: i64, max_per_instance: i64) -> Result<u64, StoreError> {
        self.prune_sent_table("sent_messages", before, max_per_instance).await
    }

    /// Removes the rows of `table` (keyed by instance and message id, aged by
    /// `sent_at`) older than `before` or beyond the newest `max_per_instance`
    /// of their instance; how many went. `table` is one of this store's own
    /// names, never input.
    pub(super) async fn prune_sent_table(
        &self,
        table: &'static str,
        before: i64,
        max_per_instance: i64,
    ) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let gone = on_pool!(self.pool(), |p| sqlx::query(&format!(
                "DELETE FROM {table} WHERE (instance_id, message_id) IN \
                 (SELECT instance_id, message_id FROM {table} WHERE sent_at < $1 LIMIT $2)"
            ))
            .bind(before)
            .bind(PRUNE_BATCH)
            .execute(p)
            .await
            .map(|done| done.rows_affected()))?;
            removed += gone;
            if (gone as i64) < PRUNE_BATCH {
                break;
            }
        }
        let crowded: Vec<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(&format!(
            "SELECT instance_id FROM {table} GROUP BY instance_id HAVING COUNT(*) > $1"
        ))
        .bind(max_per_instance.max(0))
        .fetch_all(p)
        .await)?;
        for (instance_id,) in crowded {
            // The newest one past the count: it and every older one go.
            let cut: Option<(i64, String)> = on_pool!(self.pool(), |p| sqlx::query_as(&format!(
                "SELECT sent_at, message_id FROM {table} WHERE instance_id = $1 \
                 ORDER BY sent_at DESC, message_id DESC LIMIT 1 OFFSET $2"
            ))
            .bind(&instance_id)
            .bind(max_per_instance.max(0))
            .fetch_optional(p)
            .await)?;
            let Some((sent_at, message_id)) = cut else { continue };
            removed += on_pool!(self.pool(), |p| sqlx::query(&format!(
                "DELETE FROM {table} WHERE instance_id = $1 \
                 AND (sent_at < $2 OR (sent_at = $2 AND message_id <= $3))"
            ))
            .bind(&instance_id)
            .bind(sent_at)
            .bind(&message_id)
            .execute(p)
            .await
            .map(|done| done.rows_affected()))?;
        }
        Ok(removed)
    }
}
