//! The journal writer of one instance: what the engine hands over becomes
//! journal entries, and only then may the engine acknowledge it.
//!
//! Hand-overs that wait together are journalled together, in one
//! transaction, in the order they arrived. A failed write is retried with
//! backoff until it succeeds; meanwhile nothing is acknowledged and the
//! engine waits (the hand-overs behind it fill the bounded request queue).
//! The new entries then go to the stage; duplicates (WhatsApp delivered an
//! event again) are acknowledged and left alone: their first delivery is
//! being handled, or was.
//!
//! While more hand-overs wait, the writer keeps its database connection from
//! one write to the next instead of giving it back to the pool
//! (`store/held.rs`): in a burst, that saves each write the pool's round
//! trips, and the acks wait for the writes.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use super::stage::{Handoff, Staged};
use super::{Inbound, REQUESTS_PER_WRITE, contacts, ids, media};
use crate::engine::InboundEvent;
use crate::events::Event;
use crate::store::journal::Appended;
use crate::store::{HeldConnection, Store, StoreError};
use crate::write_retry::{Write, store_closed};

/// One hand-over: events of one `accept` call, and who waits to hear they are journalled.
pub(super) struct Request {
    pub(super) events: Vec<InboundEvent>,
    pub(super) accepted: oneshot::Sender<()>,
}

/// Journals what arrives on `requests` until every sender is gone, or the
/// instance is (its journal writes then fail for good).
pub(super) async fn run(
    inbound: &Inbound,
    instance_id: &str,
    requests: &mut mpsc::Receiver<Request>,
    handoff: Handoff,
) {
    let mut batch = Vec::with_capacity(REQUESTS_PER_WRITE);
    let mut learnt = contacts::Learnt::default();
    // The connection kept while hand-overs keep coming (`store/held.rs`).
    let kept: Kept = Mutex::new(None);
    while requests.recv_many(&mut batch, REQUESTS_PER_WRITE).await > 0 {
        let mut events = Vec::new();
        let mut fetches = Vec::new();
        let mut waiting = Vec::with_capacity(batch.len());
        for request in batch.drain(..) {
            for incoming in request.events {
                events.push(Event {
                    id: ids::event_id(instance_id, &incoming.kind),
                    instance_id: instance_id.to_owned(),
                    at_us: crate::clock::now_us(),
                    kind: incoming.kind,
                });
                fetches.push(incoming.media);
            }
            waiting.push(request.accepted);
        }
        // A media message's ticket is kept with its entry, so its download
        // resumes after a restart.
        let tickets: Vec<Option<bytes::Bytes>> = events
            .iter()
            .zip(&fetches)
            .map(|(event, fetch)| {
                fetch
                    .as_ref()
                    .filter(|_| media::needs_download(&event.kind))
                    .and_then(|fetch| fetch.ticket())
            })
            .collect();
        let rows: Vec<(&str, &str, &[u8])> = events
            .iter()
            .zip(&tickets)
            .filter_map(|(event, ticket)| Some((instance_id, event.id.as_str(), ticket.as_deref()?)))
            .collect();
        let appended = inbound
            .retry
            .run(
                Write::Journal,
                || async {
                    inbound.store.inbound_media_put(&rows).await?;
                    journal(&inbound.store, &kept, &events).await
                },
                |e| matches!(e, StoreError::InstanceGone) || store_closed(e),
            )
            .await;
        drop(rows);
        if requests.is_empty() {
            // Nothing more waits: the connection goes back to the pool.
            take(&kept);
        }
        let appended = match appended {
            Ok(appended) => {
                inbound.stats.journal_writes.fetch_add(1, Ordering::Relaxed);
                appended
            }
            Err(_) => {
                // The instance was deleted (its journal went with it), or the
                // server is stopping. Nothing is acknowledged, and nothing
                // more will be written.
                tracing::debug!(
                    events = events.len(),
                    "the instance or the database is gone; inbound events not journalled"
                );
                inbound.stats.release(events.len());
                return;
            }
        };
        // Durable now: the engine may acknowledge to WhatsApp.
        for accepted in waiting {
            let _ = accepted.send(());
        }
        // Senders become contacts: after the ack, and only what is news.
        let new: Vec<&Event> = events
            .iter()
            .zip(&appended)
            .filter(|(_, appended)| matches!(appended, Appended::New(_)))
            .map(|(event, _)| event)
            .collect();
        learnt.learn(&inbound.store, instance_id, &new).await;
        let mut staged = Vec::with_capacity(events.len());
        for (((event, media), ticket), appended) in events.into_iter().zip(fetches).zip(tickets).zip(appended) {
            match appended {
                Appended::New(seq) => {
                    inbound.stats.journalled.fetch_add(1, Ordering::Relaxed);
                    staged.push(Staged {
                        seq,
                        event,
                        media,
                        ticketed: ticket.is_some(),
                    });
                }
                Appended::Duplicate { seq, done } => {
                    tracing::debug!(seq, done, event = %event.id, "delivered again; already journalled");
                    inbound.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    inbound.stats.release(1);
                }
            }
        }
        handoff.push(staged, &inbound.stats).await;
    }
}

/// The writer's connection between writes, if it keeps one.
type Kept = Mutex<Option<HeldConnection>>;

/// Journals `events` on the connection the writer keeps, taking one when it
/// has none (or borrowing one from the pool for this write when no more
/// may be kept). A connection whose write failed is not kept.
async fn journal(store: &Store, kept: &Kept, events: &[Event]) -> Result<Vec<Appended>, StoreError> {
    let mut connection = match take(kept) {
        Some(connection) => connection,
        None => match store.hold_connection().await? {
            Some(connection) => connection,
            None => return store.journal_append(events).await,
        },
    };
    let appended = store.journal_append_on(&mut connection, events).await?;
    *kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection);
    Ok(appended)
}

fn take(kept: &Kept) -> Option<HeldConnection> {
    kept.lock().unwrap_or_else(PoisonError::into_inner).take()
}
