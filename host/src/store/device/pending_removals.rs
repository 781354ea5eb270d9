//! Batched, write-behind removal of whatsapp-rust's pending-inbound rows.
//!
//! With the durability hook installed (`engine/whatsapp/durability.rs`), the
//! client writes every live message to its pending-inbound buffer before the
//! hook runs, and removes it after: two statements per message, each its own
//! commit, awaited in turn on the sender's lane (BENCHMARKS.md, "Where the
//! real engine's inbound time goes").
//!
//! The buffer rows are written as before, awaited: they must be durable
//! before the hook runs. The removals of a committed batch
//! (`delete_pending_inbound_batch`) go through one queue per device, drained
//! by one task, and the client goes on: removals that wait together are one
//! statement per [`KEYS_PER_STATEMENT`] keys, off the sender's lane.
//!
//! Why a removal may land late, or not at all: the client removes rows only
//! after the hook returned `Ok`, so every row removed here holds a message the
//! journal already has. A row still there (the removal queued, or lost in a
//! crash) is a stale copy: if WhatsApp delivers that message again, the
//! client replays it to the hook, the journal knows its event and keeps one
//! entry, and the client acknowledges it. The client's expiry sweep removes
//! what a crash left. Removals pass the device's gate like every other write
//! (`retire.rs`).

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};
use whatsapp_rust::wacore::store::error::{Result, StoreError as WaStoreError};

use super::DeviceBackend;
use super::retire::Gate;
use crate::store::{Pool, on_pool};

/// Keys per statement: 3 parameters each, under both engines' limits.
const KEYS_PER_STATEMENT: usize = 200;
/// Queued removal requests of one device: a full queue makes the client wait.
const QUEUE: usize = 4096;
/// Requests taken from the queue at once.
const REQUESTS_PER_ROUND: usize = 256;

/// One buffer key: `(chat, sender, id)`.
pub(super) type Key = (String, String, String);

enum Request {
    Remove(Vec<Key>),
    /// Answered once every removal queued before it has landed.
    Flush(oneshot::Sender<()>),
}

/// Where a device's removals are queued; the task behind it starts with the
/// first removal (in the runtime) and ends when every handle is gone.
#[derive(Clone, Debug, Default)]
pub(super) struct PendingRemovals {
    queue: Arc<OnceLock<mpsc::Sender<Request>>>,
}

/// What the task writes with.
struct Target {
    pool: Pool,
    device_id: i32,
    gate: Gate,
}

impl PendingRemovals {
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

    /// Returns once every removal queued so far has landed (or failed).
    pub(super) async fn flush(&self) {
        let Some(queue) = self.queue.get() else { return };
        let (done, landed) = oneshot::channel();
        if queue.send(Request::Flush(done)).await.is_ok() {
            let _ = landed.await;
        }
    }
}

fn closed() -> WaStoreError {
    WaStoreError::Database("the pending-inbound remover has stopped".into())
}

/// Drains the queue, every round's keys together.
async fn run(target: Target, mut queue: mpsc::Receiver<Request>) {
    let mut requests = Vec::with_capacity(REQUESTS_PER_ROUND);
    while queue.recv_many(&mut requests, REQUESTS_PER_ROUND).await > 0 {
        let mut keys = Vec::new();
        let mut flushed = Vec::new();
        for request in requests.drain(..) {
            match request {
                Request::Remove(more) => keys.extend(more),
                Request::Flush(done) => flushed.push(done),
            }
        }
        if let Err(e) = target.remove(&keys).await {
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
    async fn remove(&self, keys: &[Key]) -> std::result::Result<(), sqlx::Error> {
        let retired = self.gate.read().await;
        if *retired {
            return Ok(());
        }
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            let matches: Vec<String> = (0..chunk.len())
                .map(|i| {
                    format!(
                        "(chat = ${} AND sender = ${} AND id = ${})",
                        2 + 3 * i,
                        3 + 3 * i,
                        4 + 3 * i
                    )
                })
                .collect();
            let sql = format!(
                "DELETE FROM wa_pending_inbound WHERE device_id = $1 AND ({})",
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
