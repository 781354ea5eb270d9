//! What a message this server sent said, kept beside its record in
//! `sent_messages` so it can be forwarded by its id; and the whole
//! journalled message for one that came in. The content is a small JSON
//! document the Messenger writes and reads (`messaging/forward.rs`); this
//! module only bounds and stores it.

use super::{Store, StoreError, on_pool};
use wasap_events::{Event, EventKind, Message};

/// Kept content, at most: a text's 65,536 bytes with room for its JSON
/// quoting, or a few contact cards. Anything larger is not kept (and the
/// message cannot be forwarded).
pub const MAX_SENT_CONTENT_BYTES: usize = 96 * 1024;

/// Why content was not kept.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("the content has more than {MAX_SENT_CONTENT_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// [`Store::record_sent`] with what the message said, in one row (one
    /// commit, where a record then its content took two). Content over
    /// [`MAX_SENT_CONTENT_BYTES`] is not kept: the record is, and
    /// [`ContentError::TooLarge`] says so.
    pub async fn record_sent_with_content(
        &self,
        instance_id: &str,
        message_id: &str,
        chat: &str,
        kind: &str,
        sent_at: i64,
        content: &str,
    ) -> Result<(), ContentError> {
        if content.len() > MAX_SENT_CONTENT_BYTES {
            self.record_sent(instance_id, message_id, chat, kind, sent_at).await?;
            return Err(ContentError::TooLarge);
        }
        self.put_sent_record(instance_id, message_id, chat, kind, sent_at, Some(content))
            .await?;
        Ok(())
    }

    /// What sent message `message_id` said, when it was kept.
    pub async fn sent_content(&self, instance_id: &str, message_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT content FROM sent_messages WHERE instance_id = $1 AND message_id = $2"
        )
        .bind(instance_id)
        .bind(message_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.and_then(|(content,)| content))
    }

    /// The newest journalled message with id `message_id`.
    pub async fn journalled_message(&self, instance_id: &str, message_id: &str) -> Result<Option<Message>, StoreError> {
        // The journal's entries that are not messages have '' there.
        if message_id.is_empty() {
            return Ok(None);
        }
        let journalled: Option<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT event FROM inbound_journal WHERE instance_id = $1 AND message_id = $2 ORDER BY seq DESC LIMIT 1"
        )
        .bind(instance_id)
        .bind(message_id)
        .fetch_optional(p)
        .await)?;
        let Some((json,)) = journalled else { return Ok(None) };
        let event: Event = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(match event.kind {
            EventKind::Message(message) => Some(message),
            _ => None,
        })
    }
}
