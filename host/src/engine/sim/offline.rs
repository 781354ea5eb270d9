//! The simulated WhatsApp server's offline queue: what it has delivered to an
//! instance and not had acknowledged yet.
//!
//! WhatsApp keeps a message until the client acknowledges it and delivers it
//! again on the next connection if it never hears the ack, after a dropped
//! connection or a crash of the client alike. The simulated server lives in
//! wasap's process, so it keeps its queue where it survives that process: in
//! the instance's device store, as pending-inbound rows of the partition
//! [`PARTITION`] (whatsapp-rust's own rows use real chat JIDs, which never
//! look like it). Wiping the device (an unlinked or deleted instance) empties
//! it, as unlinking does on WhatsApp. A delivery acknowledged within a moment
//! of its hand-over (nearly every one: the ack waits only for the journal)
//! is never written: only what waits longer is, so a burst costs the
//! database no row per message to add and remove again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use whatsapp_rust::wacore::store::traits::ProtocolStore;

use super::incoming::media_from_ticket;
use super::network::SimError;
use crate::engine::InboundEvent;
use crate::events::EventKind;
use crate::store::DeviceBackend;

/// The pending-inbound `chat` under which the simulated server's rows live.
const PARTITION: &str = "sim-offline";

/// Tie-breaker for rows held in the same microsecond.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Where one held delivery is kept; its `order` sorts it among the others.
#[derive(Debug, Clone)]
pub(super) struct Held {
    order: String,
    id: String,
}

/// A held delivery as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    kind: EventKind,
    /// The media, base64, for a media message.
    media: Option<String>,
}

/// What the queue's writer is told, in the order it happened.
enum Change {
    /// A delivery to keep, in the form it is stored in (serialised only if
    /// it is written: nearly every one is acknowledged first).
    Hold(Held, Box<Stored>),
    /// A delivery acknowledged.
    Release(Held),
    /// Write every hold now, then answer (before the queue is read).
    Flush(oneshot::Sender<()>),
}

/// Changes waiting for the writer at most, per device.
const WAITING: usize = 1024;
/// How long a hold waits before it is written: a delivery acknowledged
/// within it (as nearly every one is, its journal write being all it waits
/// for) is never written, nor removed again.
const HOLD_DELAY: Duration = Duration::from_millis(50);

/// One device's offline queue: a writer task, which ends with the last
/// clone, keeps the holds and writes them many per statement. Cheap to clone.
#[derive(Clone)]
pub(super) struct OfflineQueue {
    changes: mpsc::Sender<Change>,
    device: DeviceBackend,
}

impl OfflineQueue {
    /// The queue of `device`, its writer started.
    pub(super) fn start(device: DeviceBackend) -> OfflineQueue {
        let (changes, rx) = mpsc::channel::<Change>(WAITING);
        tokio::spawn(write(device.clone(), rx));
        OfflineQueue { changes, device }
    }

    /// Keeps `event` until it is acknowledged ([`release`](Self::release)).
    /// It is written to the device store only if that takes longer than a
    /// moment ([`HOLD_DELAY`]): what WhatsApp's server would keep is then
    /// kept through a crash of the process; a delivery acknowledged before
    /// (journalled: its route has answered) needs no keeping.
    pub(super) async fn hold(&self, event: &InboundEvent) -> Result<Held, SimError> {
        let counter = COUNTER.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        let held = Held {
            // Fixed width, so the rows' text order is delivery order.
            order: format!("{:020}{:06}", crate::clock::now_us(), counter),
            // Unique on its own: releases name rows by id.
            id: crate::random::hex(12),
        };
        let stored = Stored {
            kind: event.kind.clone(),
            media: event
                .media
                .as_ref()
                .and_then(|media| media.ticket())
                .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)),
        };
        self.changes
            .send(Change::Hold(held.clone(), Box::new(stored)))
            .await
            .map_err(|_| closed())?;
        Ok(held)
    }

    /// The delivery was acknowledged: forget it (an ack lost in a crash
    /// means a delivery again, as on WhatsApp).
    pub(super) async fn release(&self, held: Held) {
        let _ = self.changes.send(Change::Release(held)).await;
    }

    /// Everything held for the device, oldest first (the holds not written
    /// yet written first).
    pub(super) async fn held(&self) -> Result<Vec<(Held, InboundEvent)>, SimError> {
        let (done, flushed) = oneshot::channel();
        self.changes.send(Change::Flush(done)).await.map_err(|_| closed())?;
        flushed.await.map_err(|_| closed())?;
        held(&self.device).await
    }
}

fn closed() -> SimError {
    SimError::Store("the simulated server's queue is closed".to_owned())
}

/// The writer of one device's queue: keeps each hold for [`HOLD_DELAY`],
/// forgets the ones released meanwhile, writes the others (together), and
/// removes the written ones once released. One task does both, so a hold is
/// always written before its removal. Ends, writing what it keeps, when
/// every sender is gone.
async fn write(device: DeviceBackend, mut changes: mpsc::Receiver<Change>) {
    // Holds not written yet, oldest first, with when each came.
    let mut waiting: VecDeque<(Held, Box<Stored>, Instant)> = VecDeque::new();
    let mut batch = Vec::with_capacity(WAITING);
    loop {
        let due = waiting.front().map(|(_, _, came)| *came + HOLD_DELAY);
        let received = match due {
            Some(due) => tokio::select! {
                n = changes.recv_many(&mut batch, WAITING) => Some(n),
                _ = tokio::time::sleep_until(due) => None,
            },
            None => Some(changes.recv_many(&mut batch, WAITING).await),
        };
        let closing = received == Some(0);
        let mut releases = Vec::new();
        let mut flushes = Vec::new();
        for change in batch.drain(..) {
            match change {
                Change::Hold(held, stored) => waiting.push_back((held, stored, Instant::now())),
                Change::Release(held) => match waiting.iter().position(|(w, _, _)| w.id == held.id) {
                    // Acknowledged before it was written: never written.
                    Some(at) => {
                        waiting.remove(at);
                    }
                    None => releases.push(held),
                },
                Change::Flush(done) => flushes.push(done),
            }
        }
        let now = Instant::now();
        let flushing = closing || !flushes.is_empty();
        let due = waiting
            .iter()
            .take_while(|(_, _, came)| flushing || *came + HOLD_DELAY <= now)
            .count();
        if due > 0 {
            let encoded: Vec<(&Held, Vec<u8>)> = waiting
                .iter()
                .take(due)
                .filter_map(|(held, stored, _)| match serde_json::to_vec(stored) {
                    Ok(bytes) => Some((held, bytes)),
                    Err(e) => {
                        tracing::warn!(error = %e, "the simulated server cannot encode a message to keep; it goes on unkept");
                        None
                    }
                })
                .collect();
            let rows: Vec<(&str, &str, &[u8])> = encoded
                .iter()
                .map(|(held, bytes)| (held.order.as_str(), held.id.as_str(), bytes.as_slice()))
                .collect();
            // WhatsApp's servers keep a message whatever wasap's disk says;
            // the simulated one keeps it in wasap's database, and when that
            // cannot write (a full disk, say) it goes on unkept: lost only if
            // wasap dies before it is journalled.
            if let Err(e) = device.pending_inbound_put_many(PARTITION, &rows).await {
                tracing::warn!(error = %e, messages = rows.len(), "the simulated server cannot keep messages; they go on unkept");
            }
            drop(rows);
            drop(encoded);
            waiting.drain(..due);
        }
        if !releases.is_empty() {
            let ids: Vec<&str> = releases.iter().map(|held| held.id.as_str()).collect();
            // A release that fails only means a delivery again, which the
            // journal finds there already.
            if let Err(e) = device.pending_inbound_delete_many(PARTITION, &ids).await {
                tracing::warn!(error = %e, "the simulated server could not forget acknowledged messages");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
        if closing {
            return;
        }
    }
}

/// Everything held for `device`, oldest first.
async fn held(device: &DeviceBackend) -> Result<Vec<(Held, InboundEvent)>, SimError> {
    let rows = device
        .pending_inbound_of_chat(PARTITION)
        .await
        .map_err(|e| SimError::Store(e.to_string()))?;
    let mut held = Vec::with_capacity(rows.len());
    for (order, id, bytes) in rows {
        let stored: Stored = match serde_json::from_slice(&bytes) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %e, "a held simulated message does not decode; it is dropped");
                let _ = device.delete_pending_inbound(PARTITION, &order, &id).await;
                continue;
            }
        };
        let media = match stored.media {
            Some(encoded) => match base64::engine::general_purpose::STANDARD.decode(encoded) {
                Ok(bytes) => Some(media_from_ticket(bytes.into())),
                Err(_) => None,
            },
            None => None,
        };
        held.push((
            Held { order, id },
            InboundEvent {
                kind: stored.kind,
                media,
            },
        ));
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Receipt, ReceiptType};
    use crate::store::Store;

    /// A receipt naming message `id`: any event will do.
    fn event(id: &str) -> InboundEvent {
        InboundEvent {
            kind: EventKind::Receipt(Receipt {
                sender_lid: None,
                sender_phone: None,
                chat: "6281@s.whatsapp.net".into(),
                sender: "6281@s.whatsapp.net".into(),
                ids: vec![id.to_owned()],
                receipt_type: ReceiptType::Delivered,
                timestamp: 1,
            }),
            media: None,
        }
    }

    /// A device of a new database.
    async fn device() -> DeviceBackend {
        let dir = std::env::temp_dir().join(format!("wasap-offline-{}", crate::random::hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&Store::sqlite_url_in(&dir)).await.unwrap();
        store.device(store.allocate_device_id().await.unwrap())
    }

    /// The message ids of what `device` keeps in the database.
    async fn stored(device: &DeviceBackend) -> Vec<String> {
        let mut ids = Vec::new();
        for (_, event) in held(device).await.unwrap() {
            if let EventKind::Receipt(receipt) = event.kind {
                ids.extend(receipt.ids);
            }
        }
        ids
    }

    /// Waits (at most 5 s) until `device` keeps exactly `ids`.
    async fn until_stored(device: &DeviceBackend, ids: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = stored(device).await;
            if now == ids {
                return;
            }
            assert!(Instant::now() < deadline, "kept {now:?}, not {ids:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn only_what_is_not_acknowledged_at_once_is_written_and_read_back_in_order() {
        let device = device().await;
        let queue = OfflineQueue::start(device.clone());

        // Acknowledged at once: never written. Not acknowledged: written
        // after the delay, with nobody asking.
        let quick = queue.hold(&event("quick")).await.unwrap();
        queue.release(quick).await;
        let slow = queue.hold(&event("slow")).await.unwrap();
        until_stored(&device, &["slow"]).await;

        // Read back (as a login does): holds not written yet are written
        // first, in delivery order.
        let later = queue.hold(&event("later")).await.unwrap();
        let back: Vec<String> = queue
            .held()
            .await
            .unwrap()
            .into_iter()
            .map(|(held, _)| held.id)
            .collect();
        assert_eq!(back, [slow.id.clone(), later.id.clone()]);

        // A written hold, acknowledged, is removed.
        queue.release(slow).await;
        until_stored(&device, &["later"]).await;
        queue.release(later).await;
        until_stored(&device, &[]).await;
    }

    #[tokio::test]
    async fn a_queue_that_ends_writes_what_it_keeps() {
        let device = device().await;
        let queue = OfflineQueue::start(device.clone());
        queue.hold(&event("kept")).await.unwrap();
        drop(queue);
        until_stored(&device, &["kept"]).await;
    }
}
