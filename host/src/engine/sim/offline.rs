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
//! it, as unlinking does on WhatsApp.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
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

/// A delivery to keep, its stored form, and who waits to hear it is written.
type HoldRequest = (Held, Vec<u8>, oneshot::Sender<Result<(), SimError>>);

/// Holds and releases waiting to be written at most, per device.
const WAITING: usize = 1024;
/// How long releases gather before they are written.
const RELEASE_GATHER: std::time::Duration = std::time::Duration::from_millis(10);

/// One device's offline queue: holds and releases are written many per
/// transaction (deliveries arrive concurrently), by two tasks that end with
/// the last clone. Cheap to clone.
#[derive(Clone)]
pub(super) struct OfflineQueue {
    holds: mpsc::Sender<HoldRequest>,
    releases: mpsc::Sender<Held>,
    device: DeviceBackend,
}

impl OfflineQueue {
    /// The queue of `device`, its writers started.
    pub(super) fn start(device: DeviceBackend) -> OfflineQueue {
        let (holds, mut hold_rx) = mpsc::channel::<HoldRequest>(WAITING);
        let (releases, mut release_rx) = mpsc::channel::<Held>(WAITING);
        let writer = device.clone();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while hold_rx.recv_many(&mut batch, WAITING).await > 0 {
                let rows: Vec<(&str, &str, &[u8])> = batch
                    .iter()
                    .map(|(held, bytes, _): &HoldRequest| (held.order.as_str(), held.id.as_str(), bytes.as_slice()))
                    .collect();
                let written = writer.pending_inbound_put_many(PARTITION, &rows).await;
                drop(rows);
                for (_, _, done) in batch.drain(..) {
                    let _ = done.send(written.as_ref().map(|_| ()).map_err(|e| SimError::Store(e.to_string())));
                }
            }
        });
        let writer = device.clone();
        tokio::spawn(async move {
            let mut batch: Vec<Held> = Vec::new();
            while release_rx.recv_many(&mut batch, WAITING).await > 0 {
                // Releases gather a moment: one statement for many.
                tokio::time::sleep(RELEASE_GATHER).await;
                while batch.len() < WAITING {
                    match release_rx.try_recv() {
                        Ok(held) => batch.push(held),
                        Err(_) => break,
                    }
                }
                let ids: Vec<&str> = batch.iter().map(|held| held.id.as_str()).collect();
                // A release that fails only means a delivery again, which
                // the journal finds there already.
                if let Err(e) = writer.pending_inbound_delete_many(PARTITION, &ids).await {
                    tracing::warn!(error = %e, "the simulated server could not forget acknowledged messages");
                }
                drop(ids);
                batch.clear();
            }
        });
        OfflineQueue {
            holds,
            releases,
            device,
        }
    }

    /// Keeps `event` until it is acknowledged ([`release`](Self::release)).
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
        let bytes = serde_json::to_vec(&stored).map_err(|e| SimError::Store(e.to_string()))?;
        let (done, written) = oneshot::channel();
        let gone = || SimError::Store("the simulated server's queue is closed".to_owned());
        self.holds.send((held.clone(), bytes, done)).await.map_err(|_| gone())?;
        written.await.map_err(|_| gone())??;
        Ok(held)
    }

    /// The delivery was acknowledged: forget it (soon; an ack lost in a crash
    /// means a delivery again, as on WhatsApp).
    pub(super) async fn release(&self, held: Held) {
        let _ = self.releases.send(held).await;
    }

    /// Everything held for the device, oldest first.
    pub(super) async fn held(&self) -> Result<Vec<(Held, InboundEvent)>, SimError> {
        held(&self.device).await
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
