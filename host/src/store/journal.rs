//! The `inbound_journal` table: every event that comes in from WhatsApp,
//! written before WhatsApp gets its ack, and the history clients replay.
//!
//! An entry is appended (in order, a batch per transaction) before the event
//! is acknowledged, marked done once the plugins have run and its webhooks
//! are in the outbox (an instance's entries are done up to a watermark,
//! `inbound_journal_progress`: see [`DONE`]), and kept after that for the clients' replay
//! (`GET /api/instances/{id}/events`, `?after=` on the WebSocket routes)
//! until the retention prune removes it. An entry not done is never pruned.
//!
//! `seq` is global and only grows; it is the clients' cursor. Within one
//! instance, seq order is commit order as long as one writer appends that
//! instance's events at a time (the instance's inbound worker): a reader that
//! has seen seq `n` of an instance has seen every earlier entry of it. Across
//! instances PostgreSQL may commit a smaller seq after a larger one.
//!
//! The prune removes an instance's entries from its oldest on, so what is gone
//! is always a prefix: `inbound_journal_horizon` keeps, per instance, the
//! newest seq removed, and a cursor below it has lost entries ([`Store::journal_horizon`]).

use std::collections::HashMap;

use super::held::on_held;
use super::statements::{Params, padded};
use super::{HeldConnection, Store, StoreError, on_pool};
use crate::clock::now_secs;
use wasap_events::Event;

/// Rows per multi-row `INSERT` (6 parameters each, far below either engine's limit).
const INSERT_CHUNK: usize = 200;
/// Instances per done mark statement.
const MARK_CHUNK: usize = 200;

/// One journalled event.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// Its place in the journal: the clients' cursor.
    pub seq: i64,
    pub event: Event,
    /// The plugins have run on it and its webhooks are in the outbox.
    pub done: bool,
}

/// What [`Store::journal_append`] did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Journalled now, at this seq.
    New(i64),
    /// Its instance already had an event with this id (WhatsApp delivered it
    /// again): nothing written; the entry that was there.
    Duplicate { seq: i64, done: bool },
}

/// What the retention prune keeps (`WASAP_JOURNAL_*`).
#[derive(Debug, Clone, Copy)]
pub struct JournalRetention {
    /// Entries journalled before this (unix seconds) may go.
    pub before: i64,
    /// Beyond this many newest entries of an instance, older ones may go.
    pub max_per_instance: i64,
}

/// Whether the `inbound_journal` row at hand is done: at or below its
/// instance's watermark (`inbound_journal_progress`, none: nothing done).
/// Done is a watermark rather than a flag per entry because an instance's
/// events are published in journal order and handled as a prefix
/// (`instances/inbound/done_through.rs`): marking a batch done writes one
/// small row per instance instead of rewriting each entry.
const DONE: &str = "(seq <= COALESCE((SELECT done_through FROM inbound_journal_progress \
     WHERE inbound_journal_progress.instance_id = inbound_journal.instance_id), 0))";

/// A row as read, its event still JSON.
type Row = (i64, String, bool);

impl Store {
    /// Journals `events`, in order, in one transaction. An event whose
    /// instance already has an entry with its id (also one earlier in
    /// `events`) is not written again: [`Appended::Duplicate`]. An event of
    /// an instance that does not exist (any more) fails the whole batch with
    /// [`StoreError::InstanceGone`].
    pub async fn journal_append(&self, events: &[Event]) -> Result<Vec<Appended>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.borrow_connection().await.map_err(StoreError::of_instance_write)?;
        self.journal_append_on(&mut connection, events).await
    }

    /// [`Store::journal_append`] on a connection the caller holds
    /// ([`Store::hold_connection`]): a writer with more to write keeps one
    /// rather than borrowing from the pool for each write.
    pub async fn journal_append_on(
        &self,
        connection: &mut HeldConnection,
        events: &[Event],
    ) -> Result<Vec<Appended>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_secs();
        let mut jsons = Vec::with_capacity(events.len());
        for event in events {
            jsons.push(serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        // An async block, so that `?` stops there and a foreign-key
        // violation can be told apart below.
        // One chunk is one statement, atomic on its own: no transaction, so
        // SQLite's write lock is held for that statement only, not across
        // the round trips of BEGIN and COMMIT (the real engine journals its
        // live messages one at a time, each awaited before its ack). The
        // duplicates' lookups after it need no transaction either: an entry
        // not done is never pruned.
        let single = events.len() <= INSERT_CHUNK;
        let params = Params::of(self.pool());
        let result = on_held!(connection, |c| {
            async {
            let mut tx = None;
            let tx_conn = if single {
                &mut **c
            } else {
                tx = Some(sqlx::Connection::begin(&mut **c).await?);
                &mut **tx.as_mut().expect("just begun")
            };
            // (instance, event id) → seq of the rows written now.
            let mut written: HashMap<(String, String), i64> = HashMap::with_capacity(events.len());
            for (chunk, jsons) in events.chunks(INSERT_CHUNK).zip(jsons.chunks(INSERT_CHUNK)) {
                // Rows of one multi-row VALUES list are inserted, and take
                // their seqs, in list order on both engines.
                // Padded with repeats of the last row, which the conflict
                // clause skips (`padded`).
                let (rows, padded_events) = padded(chunk, INSERT_CHUNK);
                let (_, padded_jsons) = padded(jsons, INSERT_CHUNK);
                let sql = format!(
                    "INSERT INTO inbound_journal (instance_id, event_id, kind, event, created_at, message_id) VALUES {} \
                     ON CONFLICT (instance_id, message_id, event_id) DO NOTHING RETURNING seq, instance_id, event_id",
                    params.rows(rows, 6)
                );
                let mut query = sqlx::query_as::<_, (i64, String, String)>(&sql);
                for (event, json) in padded_events.zip(padded_jsons) {
                    query = query
                        .bind(&event.instance_id)
                        .bind(&event.id)
                        .bind(event.name())
                        .bind(json)
                        .bind(now)
                        .bind(message_id(event));
                }
                for (seq, instance, id) in query.fetch_all(&mut *tx_conn).await? {
                    written.insert((instance, id), seq);
                }
            }
            // The duplicates of entries that were already there.
            let mut answers = Vec::with_capacity(events.len());
            let mut claimed: HashMap<(&str, &str), i64> = HashMap::new();
            for event in events {
                let key = (event.instance_id.as_str(), event.id.as_str());
                if let Some(seq) = claimed.get(&key) {
                    answers.push(Appended::Duplicate { seq: *seq, done: false });
                    continue;
                }
                if let Some(seq) = written.get(&(event.instance_id.clone(), event.id.clone())) {
                    claimed.insert(key, *seq);
                    answers.push(Appended::New(*seq));
                    continue;
                }
                // By the whole key, so that its one index finds it.
                let (seq, done): (i64, bool) = sqlx::query_as(&format!(
                    "SELECT seq, {DONE} FROM inbound_journal WHERE instance_id = $1 AND message_id = $2 AND event_id = $3"
                ))
                .bind(&event.instance_id)
                .bind(message_id(event))
                .bind(&event.id)
                .fetch_one(&mut *tx_conn)
                .await?;
                answers.push(Appended::Duplicate { seq, done });
            }
            if let Some(tx) = tx {
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(answers)
        }
        .await
        });
        result.map_err(StoreError::of_instance_write)
    }

    /// Marks done, per instance, its entries up to and including the seq
    /// given (`(instance, done_through)`; a watermark only moves up, and an
    /// instance that is gone is left out). On PostgreSQL through the relaxed
    /// pool: a mark lost in a crash of the database server replays the
    /// events, whose webhooks the outbox already has (same event id:
    /// enqueued once).
    pub async fn journal_mark_done_through(&self, marks: &[(String, i64)]) -> Result<(), StoreError> {
        if marks.is_empty() {
            return Ok(());
        }
        let params = Params::of(self.relaxed_pool());
        on_pool!(self.relaxed_pool(), |p| {
            let mut tx = if marks.len() > MARK_CHUNK {
                Some(p.begin().await?)
            } else {
                None
            };
            for chunk in marks.chunks(MARK_CHUNK) {
                // Padded with repeats of the last mark (`padded`), which the
                // GROUP BY folds into one row: one upsert may not touch a row
                // twice. The join leaves out instances deleted meanwhile (their
                // journal went with them).
                let (rows, padded_marks) = padded(chunk, MARK_CHUNK);
                let sql = format!(
                    "WITH marks (instance_id, done_through) AS (VALUES {}) \
                     INSERT INTO inbound_journal_progress (instance_id, done_through) \
                     SELECT marks.instance_id, MAX(marks.done_through) FROM marks \
                     JOIN instances ON instances.id = marks.instance_id WHERE TRUE GROUP BY marks.instance_id \
                     ON CONFLICT (instance_id) DO UPDATE SET done_through = \
                     CASE WHEN excluded.done_through > inbound_journal_progress.done_through \
                     THEN excluded.done_through ELSE inbound_journal_progress.done_through END",
                    params.rows(rows, 2)
                );
                let mut query = sqlx::query(&sql);
                for (instance_id, through) in padded_marks {
                    query = query.bind(instance_id).bind(*through);
                }
                match tx.as_mut() {
                    Some(tx) => query.execute(&mut **tx).await?,
                    None => query.execute(p).await?,
                };
            }
            match tx {
                Some(tx) => tx.commit().await,
                None => Ok(()),
            }
        })?;
        Ok(())
    }

    /// Replaces the event of the entry at `seq` (same instance, same id):
    /// for what is learnt after the entry was written, such as where a
    /// message's media was stored, so the clients' history has it too.
    /// `false` when there is no such entry (pruned, or its instance deleted).
    pub async fn journal_replace_event(&self, seq: i64, event: &Event) -> Result<bool, StoreError> {
        let json = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let updated = on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE inbound_journal SET event = $2, kind = $3 WHERE seq = $1 AND instance_id = $4 AND event_id = $5"
        )
        .bind(seq)
        .bind(&json)
        .bind(event.name())
        .bind(&event.instance_id)
        .bind(&event.id)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Up to `limit` entries of `instance_id` not done, after `after_seq`, in seq order.
    pub async fn journal_pending(
        &self,
        instance_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let rows: Vec<Row> = on_pool!(self.pool(), |p| sqlx::query_as(
            // The watermark read once, as a bound of the index range: the
            // done history before it is not walked.
            "SELECT seq, event, FALSE FROM inbound_journal \
             WHERE instance_id = $1 AND seq > $2 \
             AND seq > COALESCE((SELECT done_through FROM inbound_journal_progress WHERE instance_id = $1), 0) \
             ORDER BY seq LIMIT $3"
        )
        .bind(instance_id)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(p)
        .await)?;
        Ok(decode(rows).0)
    }

    /// Up to `limit` entries of `instance_id` after `after_seq`, done or not,
    /// in seq order: the client-facing history.
    pub async fn journal_page(
        &self,
        instance_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.journal_read(Some(instance_id), after_seq, limit).await?.entries)
    }

    /// Up to `limit` entries after `after_seq` of `instance_id`, or of every
    /// instance with `None`, in seq order; with the seq of the last row read
    /// (a row whose event no longer decodes is logged and left out, and the
    /// reader goes on past it).
    pub async fn journal_read(
        &self,
        instance_id: Option<&str>,
        after_seq: i64,
        limit: i64,
    ) -> Result<JournalRead, StoreError> {
        let rows: Vec<Row> = on_pool!(self.pool(), |p| match instance_id {
            Some(instance_id) =>
                sqlx::query_as(&format!(
                    "SELECT seq, event, {DONE} FROM inbound_journal \
                     WHERE instance_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                ))
                .bind(instance_id)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(p)
                .await,
            None =>
                sqlx::query_as(&format!(
                    "SELECT seq, event, {DONE} FROM inbound_journal WHERE seq > $1 ORDER BY seq LIMIT $2"
                ))
                .bind(after_seq)
                .bind(limit)
                .fetch_all(p)
                .await,
        })?;
        let rows_read = rows.len();
        let (entries, last_seq) = decode(rows);
        Ok(JournalRead {
            entries,
            last_seq,
            rows_read,
        })
    }

    /// The newest seq the retention prune removed from `instance_id`'s
    /// entries (of every instance's with `None`), 0 when none: a cursor below
    /// it has lost entries.
    pub async fn journal_horizon(&self, instance_id: Option<&str>) -> Result<i64, StoreError> {
        let (horizon,): (Option<i64>,) = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT MAX(pruned_through) FROM inbound_journal_horizon WHERE $1 IS NULL OR instance_id = $1"
        )
        .bind(instance_id)
        .fetch_one(p)
        .await)?;
        Ok(horizon.unwrap_or(0))
    }

    /// Removes, for each instance, the entries `retention` lets go, from the
    /// oldest on, stopping at the first it must keep (one not done, among
    /// them), at most `batch` per statement; how many went.
    pub async fn journal_prune(&self, retention: JournalRetention, batch: i64) -> Result<u64, StoreError> {
        let instances: Vec<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as("SELECT id FROM instances")
            .fetch_all(p)
            .await)?;
        let mut removed = 0;
        for (instance,) in instances {
            removed += self.journal_prune_instance(&instance, retention, batch.max(1)).await?;
        }
        Ok(removed)
    }

    async fn journal_prune_instance(
        &self,
        instance_id: &str,
        retention: JournalRetention,
        batch: i64,
    ) -> Result<u64, StoreError> {
        let removed = on_pool!(self.pool(), |p| async {
            // Entries at or below this seq are beyond the count (entries
            // appended meanwhile only move it up: pruning less is safe).
            let (over_count,): (Option<i64>,) = sqlx::query_as(
                "SELECT MAX(seq) FROM (SELECT seq FROM inbound_journal WHERE instance_id = $1 \
                 ORDER BY seq DESC LIMIT 1 OFFSET $2) newest",
            )
            .bind(instance_id)
            .bind(retention.max_per_instance.max(0))
            .fetch_one(p)
            .await?;
            let over_count = over_count.unwrap_or(0);
            let mut removed = 0;
            loop {
                let oldest: Vec<(i64, bool, i64)> = sqlx::query_as(&format!(
                    "SELECT seq, {DONE}, created_at FROM inbound_journal WHERE instance_id = $1 ORDER BY seq LIMIT $2"
                ))
                .bind(instance_id)
                .bind(batch)
                .fetch_all(p)
                .await?;
                let may_go = oldest
                    .iter()
                    .take_while(|(seq, done, created_at)| {
                        *done && (*created_at < retention.before || *seq <= over_count)
                    })
                    .count();
                let Some((through, _, _)) = may_go.checked_sub(1).map(|last| oldest[last]) else {
                    break;
                };
                let mut tx = p.begin().await?;
                removed += sqlx::query(&format!(
                    "DELETE FROM inbound_journal WHERE instance_id = $1 AND seq <= $2 AND {DONE}"
                ))
                .bind(instance_id)
                .bind(through)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query(
                    "INSERT INTO inbound_journal_horizon (instance_id, pruned_through) VALUES ($1, $2) \
                     ON CONFLICT (instance_id) DO UPDATE SET pruned_through = \
                     CASE WHEN excluded.pruned_through > inbound_journal_horizon.pruned_through \
                     THEN excluded.pruned_through ELSE inbound_journal_horizon.pruned_through END",
                )
                .bind(instance_id)
                .bind(through)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                // A batch cut short met an entry to keep, or the end.
                if may_go < oldest.len() || (oldest.len() as i64) < batch {
                    break;
                }
            }
            Ok::<u64, sqlx::Error>(removed)
        }
        .await);
        match removed {
            // The instance went meanwhile: its journal went with it.
            Err(sqlx::Error::Database(db)) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation => Ok(0),
            other => Ok(other?),
        }
    }
}

/// The WhatsApp id of a journalled message, kept beside it so actions on the
/// message can find it by id ([`super::message_keys`]); `""` for any other
/// event. It is part of the entries' unique key (with the instance and the
/// event id, which already determines it), so one index serves both the
/// deduplication and the look-ups by message id.
fn message_id(event: &Event) -> &str {
    match &event.kind {
        wasap_events::EventKind::Message(message) => &message.id,
        _ => "",
    }
}

/// What [`Store::journal_read`] found.
#[derive(Debug, Clone, Default)]
pub struct JournalRead {
    pub entries: Vec<JournalEntry>,
    /// The seq of the last row read, decoded or not.
    pub last_seq: Option<i64>,
    /// Rows read (entries and rows left out together): fewer than asked
    /// for means the reader reached the end.
    pub rows_read: usize,
}

/// The rows as entries, and the seq of the last row. A row whose event does
/// not decode (written by a newer version that knows more kinds, say) is
/// logged and left out rather than stopping every reader at it.
fn decode(rows: Vec<Row>) -> (Vec<JournalEntry>, Option<i64>) {
    let last = rows.last().map(|(seq, _, _)| *seq);
    let entries = rows
        .into_iter()
        .filter_map(|(seq, json, done)| match serde_json::from_str(&json) {
            Ok(event) => Some(JournalEntry { seq, event, done }),
            Err(e) => {
                tracing::warn!(seq, error = %e, "a journal entry does not decode; it is left out");
                None
            }
        })
        .collect();
    (entries, last)
}
