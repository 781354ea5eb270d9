//! Group-committed writes of a device: whatsapp-rust's pending-inbound rows
//! and its sent messages kept for retries.
//!
//! With the durability hook installed (`engine/whatsapp/durability.rs`), the
//! client writes every live message to its pending-inbound buffer before the
//! hook runs, and removes it after; and it keeps every message it sends, for
//! the recipient's retry receipts. Live messages come one at a time per
//! sender lane, sends one per request, so written as they come that is a
//! statement and a commit per message, awaited in turn, while the other
//! lanes wait for SQLite's write lock (BENCHMARKS.md, "Where the real
//! engine's inbound time goes").
//!
//! All of them go through one queue per device, drained by one task, a round
//! at a time: the rows of every put waiting in the round are one statement
//! per [`ROWS_PER_STATEMENT`] and table (one commit for the round), and their
//! callers hear back once it has landed; then the round's removals of
//! pending-inbound rows are written, a statement per [`KEYS_PER_STATEMENT`]
//! keys, which nobody waits for.
//!
//! Why a put is answered only once written: the client runs the hook and
//! later acknowledges the message to WhatsApp only after the put returned,
//! and the row is what it replays if WhatsApp delivers the message again
//! after the Signal session moved on; a sent message must be there when the
//! recipient's retry receipt comes.
//!
//! Why a removal may land late, or not at all: the client removes rows only
//! after the hook returned `Ok`, so every row removed here holds a message the
//! journal already has. A row still there (the removal queued, or lost in a
//! crash) is a stale copy: if WhatsApp delivers that message again, the
//! client replays it to the hook, the journal knows its event and keeps one
//! entry, and the client acknowledges it. The client's expiry sweep removes
//! what a crash left. Writes pass the device's gate like every other
//! (`retire.rs`).

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};
use whatsapp_rust::wacore::store::error::{Result, StoreError as WaStoreError};

use super::DeviceBackend;
use super::retire::Gate;
use crate::clock::now_secs;
use crate::store::statements::{Params, execute_chunks, last_of_each_key};
use crate::store::{Pool, on_pool};

/// Rows per put statement: at most 4 parameters each, under both engines' limits.
const ROWS_PER_STATEMENT: usize = 200;
/// Keys per removal statement: 3 parameters each.
const KEYS_PER_STATEMENT: usize = 200;
/// Queued requests of one device: a full queue makes the client wait.
const QUEUE: usize = 4096;
/// Requests taken from the queue at once.
const REQUESTS_PER_ROUND: usize = 256;

/// One buffer key: `(chat, sender, id)`.
pub(super) type Key = (String, String, String);
/// One row to put: its key columns' values, and its blob.
pub(super) type Row = (Vec<String>, Vec<u8>);

/// A table whose rows are put here: `(device_id, keys...) → value`, stamped
/// with the time of the write.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Table {
    name: &'static str,
    keys: &'static [&'static str],
    value: &'static str,
    time: &'static str,
}

/// whatsapp-rust's pending-inbound buffer: `(chat, sender, id) → message`.
pub(super) const PENDING_INBOUND: Table = Table {
    name: "wa_pending_inbound",
    keys: &["chat", "sender", "id"],
    value: "message",
    time: "inserted_at",
};
/// whatsapp-rust's sent messages, kept for retries: `(chat_jid, message_id) → payload`.
pub(super) const SENT_MESSAGES: Table = Table {
    name: "wa_sent_messages",
    keys: &["chat_jid", "message_id"],
    value: "payload",
    time: "created_at",
};

/// Who waits to hear that a put has landed.
type Landed = oneshot::Sender<std::result::Result<(), String>>;

enum Request {
    /// Answered once the rows have landed (or failed).
    Put(Table, Vec<Row>, Landed),
    Remove(Vec<Key>),
    /// Answered once every request queued before it has landed.
    Flush(oneshot::Sender<()>),
}

/// Where a device's puts and removals are queued; the task behind it starts
/// with the first request (in the runtime) and ends when every handle is gone.
#[derive(Clone, Debug, Default)]
pub(super) struct GroupedWrites {
    queue: Arc<OnceLock<mpsc::Sender<Request>>>,
}

/// What the task writes with.
struct Target {
    pool: Pool,
    device_id: i32,
    gate: Gate,
}

impl GroupedWrites {
    fn queue(&self, device: &DeviceBackend) -> &mpsc::Sender<Request> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            // Not the backend itself: it holds this queue, which would then never close.
            let target = Target {
                pool: device.pool.clone(),
                device_id: device.device_id,
                gate: device.gate.clone(),
            };
            tokio::spawn(run(target, rx));
            tx
        })
    }

    /// Writes `rows` into `table`, with the puts of other lanes waiting
    /// beside it; returns once they have landed.
    pub(super) async fn put(&self, device: &DeviceBackend, table: Table, rows: Vec<Row>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (done, landed) = oneshot::channel();
        self.queue(device)
            .send(Request::Put(table, rows, done))
            .await
            .map_err(|_| closed())?;
        landed
            .await
            .map_err(|_| closed())?
            .map_err(|e| WaStoreError::Database(e.into()))
    }

    /// Queues the removal of `keys`; returns once it is queued.
    pub(super) async fn remove(&self, device: &DeviceBackend, keys: Vec<Key>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.queue(device)
            .send(Request::Remove(keys))
            .await
            .map_err(|_| closed())
    }

    /// Returns once every request queued so far has landed (or failed).
    pub(super) async fn flush(&self) {
        let Some(queue) = self.queue.get() else { return };
        let (done, landed) = oneshot::channel();
        if queue.send(Request::Flush(done)).await.is_ok() {
            let _ = landed.await;
        }
    }
}

fn closed() -> WaStoreError {
    WaStoreError::Database("the device's grouped writer has stopped".into())
}

/// Drains the queue, every round's puts together (a statement per table),
/// then its removals.
async fn run(target: Target, mut queue: mpsc::Receiver<Request>) {
    let mut requests = Vec::with_capacity(REQUESTS_PER_ROUND);
    while queue.recv_many(&mut requests, REQUESTS_PER_ROUND).await > 0 {
        let mut puts: Vec<(Table, Vec<Row>, Vec<Landed>)> = Vec::new();
        let mut keys = Vec::new();
        let mut flushed = Vec::new();
        for request in requests.drain(..) {
            match request {
                Request::Put(table, more, done) => match puts.iter_mut().find(|(t, _, _)| *t == table) {
                    Some((_, rows, waiting)) => {
                        rows.extend(more);
                        waiting.push(done);
                    }
                    None => puts.push((table, more, vec![done])),
                },
                Request::Remove(more) => keys.extend(more),
                Request::Flush(done) => flushed.push(done),
            }
        }
        for (table, rows, waiting) in puts {
            let written = target.put(table, rows).await.map_err(|e| e.to_string());
            if let Err(e) = &written {
                tracing::warn!(device = target.device_id, table = table.name, error = %e,
                    "could not write the client's rows; the client is told, and does not go on as if they were");
            }
            for done in waiting {
                let _ = done.send(written.clone());
            }
        }
        if !keys.is_empty()
            && let Err(e) = target.remove(&keys).await
        {
            // A row left behind is a stale copy (see the module doc).
            tracing::warn!(device = target.device_id, rows = keys.len(), error = %e,
                "could not remove buffered inbound messages");
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

impl Target {
    /// Writes `rows` into `table` (the last of any repeated key wins:
    /// PostgreSQL refuses to update one row twice in a statement), in one
    /// transaction when they take more than one statement.
    async fn put(&self, table: Table, rows: Vec<Row>) -> std::result::Result<(), sqlx::Error> {
        let retired = self.gate.read().await;
        if *retired {
            return Ok(());
        }
        let rows = last_of_each_key(&rows, |(key, _)| key.as_slice());
        let now = now_secs();
        // Per row: the device, the keys, the value, the time.
        let width = table.keys.len() + 3;
        let columns = table.keys.join(", ");
        let params = Params::of(&self.pool);
        let statements: Vec<String> = rows
            .chunks(ROWS_PER_STATEMENT)
            .map(|chunk| {
                format!(
                    "INSERT INTO {name} (device_id, {columns}, {value}, {time}) VALUES {rows} \
                     ON CONFLICT (device_id, {columns}) DO UPDATE SET {value} = excluded.{value}, \
                     {time} = excluded.{time}",
                    name = table.name,
                    value = table.value,
                    time = table.time,
                    rows = params.rows(chunk.len(), width)
                )
            })
            .collect();
        on_pool!(&self.pool, |p| execute_chunks(
            p,
            &statements,
            &rows,
            ROWS_PER_STATEMENT,
            |mut query, chunk| {
                for (key, value) in chunk.iter().copied() {
                    query = query.bind(self.device_id);
                    for part in key {
                        query = query.bind(part);
                    }
                    query = query.bind(value).bind(now);
                }
                query
            }
        )
        .await)
    }

    async fn remove(&self, keys: &[Key]) -> std::result::Result<(), sqlx::Error> {
        let retired = self.gate.read().await;
        if *retired {
            return Ok(());
        }
        let params = Params::of(&self.pool);
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            // The device first, then each key's chat, sender and id, in order.
            let matches: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let [chat, sender, id] = [0, 1, 2].map(|c| params.list(2 + 3 * i + c, 1));
                    format!("(chat = {chat} AND sender = {sender} AND id = {id})")
                })
                .collect();
            let sql = format!(
                "DELETE FROM wa_pending_inbound WHERE device_id = {} AND ({})",
                params.list(1, 1),
                matches.join(" OR ")
            );
            on_pool!(&self.pool, |p| {
                let mut query = sqlx::query(&sql).bind(self.device_id);
                for (chat, sender, id) in chunk {
                    query = query.bind(chat).bind(sender).bind(id);
                }
                query.execute(p).await.map(|_| ())
            })?;
        }
        Ok(())
    }
}
