//! The polls this server sent and each voter's latest vote on them
//! (`polls`, `poll_votes`): what reading and tallying a vote needs.
//!
//! A poll is written when WhatsApp took it, with its options and, on the real
//! engine, the message secret its votes are encrypted under. Votes are kept
//! one per voter, the latest by the voter's own clock winning, so that a vote
//! delivered twice or late never undoes a newer one. Polls follow the
//! retention of `sent_messages` (`journal_prune.rs`); their votes go with them.

use super::{Store, StoreError, on_pool};

/// A poll as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPoll {
    /// The poll message's id.
    pub message_id: String,
    /// The chat's JID, as WhatsApp addressed the poll.
    pub chat: String,
    /// The question.
    pub name: String,
    /// The options, in order.
    pub options: Vec<String>,
    pub selectable_count: u32,
    /// The message secret its votes are encrypted under (real engine only).
    pub secret: Option<Vec<u8>>,
    /// Unix seconds.
    pub sent_at: i64,
}

/// One voter's latest vote, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVote {
    pub voter: String,
    /// The options picked, by name; empty for a withdrawn vote.
    pub selected: Vec<String>,
    /// Unix milliseconds, by the voter's clock.
    pub voted_at: i64,
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("a poll's options: {e}"))
}

fn names_json(names: &[String]) -> String {
    serde_json::to_string(names).expect("a list of strings is JSON")
}

impl Store {
    /// Remembers a poll instance `instance_id` sent. A second record of the
    /// same id changes nothing.
    pub async fn record_poll(&self, instance_id: &str, poll: &StoredPoll) -> Result<(), StoreError> {
        let options = names_json(&poll.options);
        let selectable = i32::try_from(poll.selectable_count).unwrap_or(i32::MAX);
        on_pool!(self.pool(), |p| sqlx::query(
            "INSERT INTO polls (instance_id, message_id, chat, name, options, selectable_count, secret, sent_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (instance_id, message_id) DO NOTHING"
        )
        .bind(instance_id)
        .bind(&poll.message_id)
        .bind(&poll.chat)
        .bind(&poll.name)
        .bind(&options)
        .bind(selectable)
        .bind(poll.secret.as_deref())
        .bind(poll.sent_at)
        .execute(p)
        .await
        .map(drop))?;
        Ok(())
    }

    /// The poll `message_id` of instance `instance_id`, if this server sent
    /// it and still keeps it.
    pub async fn find_poll(&self, instance_id: &str, message_id: &str) -> Result<Option<StoredPoll>, StoreError> {
        type Row = (String, String, String, i32, Option<Vec<u8>>, i64);
        let row: Option<Row> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT chat, name, options, selectable_count, secret, sent_at FROM polls \
             WHERE instance_id = $1 AND message_id = $2"
        )
        .bind(instance_id)
        .bind(message_id)
        .fetch_optional(p)
        .await)?;
        let Some((chat, name, options, selectable, secret, sent_at)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredPoll {
            message_id: message_id.to_owned(),
            chat,
            name,
            options: serde_json::from_str(&options).map_err(corrupt)?,
            selectable_count: u32::try_from(selectable).unwrap_or(0),
            secret,
            sent_at,
        }))
    }

    /// Keeps `vote` as its voter's latest on poll `poll_id`, unless the voter
    /// already has a newer one; then every voter's latest vote on the poll.
    /// Nothing is kept for a poll that is not stored.
    pub async fn record_poll_vote(
        &self,
        instance_id: &str,
        poll_id: &str,
        vote: &StoredVote,
    ) -> Result<Vec<StoredVote>, StoreError> {
        let selected = names_json(&vote.selected);
        on_pool!(self.pool(), |p| sqlx::query(
            "INSERT INTO poll_votes (instance_id, poll_id, voter, selected, voted_at) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
                 (SELECT 1 FROM polls WHERE instance_id = $1 AND message_id = $2) \
             ON CONFLICT (instance_id, poll_id, voter) DO UPDATE SET \
                 selected = excluded.selected, voted_at = excluded.voted_at \
             WHERE excluded.voted_at >= poll_votes.voted_at"
        )
        .bind(instance_id)
        .bind(poll_id)
        .bind(&vote.voter)
        .bind(&selected)
        .bind(vote.voted_at)
        .execute(p)
        .await
        .map(drop))?;
        let rows: Vec<(String, String, i64)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT voter, selected, voted_at FROM poll_votes WHERE instance_id = $1 AND poll_id = $2 \
             ORDER BY voter"
        )
        .bind(instance_id)
        .bind(poll_id)
        .fetch_all(p)
        .await)?;
        rows.into_iter()
            .map(|(voter, selected, voted_at)| {
                Ok(StoredVote {
                    voter,
                    selected: serde_json::from_str(&selected).map_err(corrupt)?,
                    voted_at,
                })
            })
            .collect()
    }

    /// Removes the polls sent before `before` (unix seconds) or beyond the
    /// newest `max_per_instance` of their instance, with their votes: the
    /// retention of `sent_messages`. How many polls went.
    pub async fn polls_prune(&self, before: i64, max_per_instance: i64) -> Result<u64, StoreError> {
        self.prune_sent_table("polls", before, max_per_instance).await
    }
}
