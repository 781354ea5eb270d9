//! The stage of one instance: journalled events, in journal order, each with
//! its media stored, published to the bus and so to the plugin chain.
//!
//! The writer hands new entries over through a bounded queue. When the queue
//! is full (the chain is slow), the writer stops filling it and sets the
//! overflow flag: from then on the entries wait in the journal only, and the
//! stage, once it has emptied the queue, reads them from there (entries not
//! done after the last one it published) until it has caught up, then clears
//! the flag. The flag's lock orders the two: the writer decides under it,
//! after its entries are committed; the stage reads the journal and clears
//! the flag under it; so an entry is either queued or found in the journal,
//! never both, never neither. A pipeline starts with the flag set: its first
//! read is the replay of whatever an earlier run left not done.
//!
//! Media fetchers of entries left to the journal wait in memory beside the
//! flag (a media message read back without one was journalled before a
//! restart; its download is noted as lost).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{Mutex, mpsc};

use super::media;
use super::stats::InboundStats;
use super::{Inbound, STAGE_QUEUE};
use crate::engine::MediaFetch;
use crate::events::Event;

/// Entries read from the journal at a time.
const PAGE: i64 = STAGE_QUEUE as i64;
/// First wait after a failed journal read; it doubles up to [`READ_RETRY_MAX`].
const READ_RETRY_MIN: Duration = Duration::from_millis(100);
const READ_RETRY_MAX: Duration = Duration::from_secs(5);

/// A journalled event on its way to the chain.
pub(super) struct Staged {
    pub(super) seq: i64,
    pub(super) event: Event,
    pub(super) media: Option<Arc<dyn MediaFetch>>,
    /// A media ticket was kept with the entry (`inbound_media`), to remove
    /// once the download is over.
    pub(super) ticketed: bool,
}

/// What the writer and the stage share.
#[derive(Default)]
pub(super) struct Overflow {
    /// New entries are left to the journal.
    on: bool,
    /// The media fetchers of entries left to the journal, by seq.
    fetches: HashMap<i64, Arc<dyn MediaFetch>>,
}

pub(super) type Shared = Arc<Mutex<Overflow>>;

/// The writer's side of the stage.
pub(super) struct Handoff {
    queue: mpsc::Sender<Staged>,
    shared: Shared,
}

impl Handoff {
    /// A hand-off starting in overflow: the stage reads the journal first.
    pub(super) fn new(queue: mpsc::Sender<Staged>) -> Handoff {
        Handoff {
            queue,
            shared: Arc::new(Mutex::new(Overflow {
                on: true,
                fetches: HashMap::new(),
            })),
        }
    }

    pub(super) fn shared(&self) -> Shared {
        self.shared.clone()
    }

    /// Queues `staged` (journalled already) for the stage, or leaves them to
    /// the journal when the queue is full or the stage is reading the journal.
    pub(super) async fn push(&self, staged: Vec<Staged>, stats: &InboundStats) {
        if staged.is_empty() {
            return;
        }
        let mut overflow = self.shared.lock().await;
        for entry in staged {
            if !overflow.on {
                match self.queue.try_send(entry) {
                    Ok(()) => continue,
                    Err(mpsc::error::TrySendError::Full(entry)) => {
                        tracing::debug!(
                            seq = entry.seq,
                            "the staging queue is full; the journal holds what follows"
                        );
                        overflow.on = true;
                        leave_to_journal(&mut overflow, entry, stats);
                    }
                    // The stage is gone (the pipeline is stopping): the
                    // journal has the entry for the next start.
                    Err(mpsc::error::TrySendError::Closed(_)) => stats.release(1),
                }
            } else {
                leave_to_journal(&mut overflow, entry, stats);
            }
        }
    }
}

fn leave_to_journal(overflow: &mut Overflow, entry: Staged, stats: &InboundStats) {
    if let Some(fetch) = entry.media {
        overflow.fetches.insert(entry.seq, fetch);
    }
    stats.release(1);
}

/// Publishes journalled events in order until the writer is gone and the queue empty.
/// `run` numbers this run of the pipeline, for the done marks (`done_through.rs`).
pub(super) async fn run(
    inbound: &Inbound,
    instance_id: &str,
    mut queue: mpsc::Receiver<Staged>,
    shared: Shared,
    run: u64,
) {
    let mut last_seq = 0;
    loop {
        let staged = match queue.try_recv() {
            Ok(staged) => staged,
            Err(mpsc::error::TryRecvError::Disconnected) => return,
            Err(mpsc::error::TryRecvError::Empty) => {
                match from_journal(inbound, instance_id, last_seq, &shared).await {
                    Some(entries) => {
                        for entry in entries {
                            last_seq = entry.seq;
                            publish(inbound, instance_id, run, entry).await;
                        }
                        continue;
                    }
                    None => match queue.recv().await {
                        Some(staged) => staged,
                        None => return,
                    },
                }
            }
        };
        last_seq = staged.seq;
        publish(inbound, instance_id, run, staged).await;
    }
}

/// In overflow, the next entries from the journal (empty once it has caught
/// up: overflow is then off); `None` when not in overflow.
async fn from_journal(inbound: &Inbound, instance_id: &str, after: i64, shared: &Shared) -> Option<Vec<Staged>> {
    let mut wait = READ_RETRY_MIN;
    loop {
        let mut overflow = shared.lock().await;
        if !overflow.on {
            return None;
        }
        match inbound.store.journal_pending(instance_id, after, PAGE).await {
            Ok(entries) if entries.is_empty() => {
                overflow.on = false;
                overflow.fetches.clear();
                return Some(Vec::new());
            }
            Ok(entries) => {
                inbound.stats.hold(entries.len());
                inbound
                    .stats
                    .replayed
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
                return Some(
                    entries
                        .into_iter()
                        .map(|entry| Staged {
                            media: overflow.fetches.remove(&entry.seq),
                            seq: entry.seq,
                            event: entry.event,
                            // Read back: a ticket may have been kept.
                            ticketed: true,
                        })
                        .collect(),
                );
            }
            Err(e) => {
                drop(overflow);
                tracing::error!(error = %e, retry_in = ?wait, "cannot read the inbound journal; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(READ_RETRY_MAX);
            }
        }
    }
}

/// Stores the event's media, then publishes it (waiting while the chain's
/// queue for the instance is full).
async fn publish(inbound: &Inbound, instance_id: &str, run: u64, staged: Staged) {
    let Staged {
        seq,
        mut event,
        mut media,
        ticketed,
    } = staged;
    if media::needs_download(&event.kind) {
        if media.is_none() && ticketed {
            // Journalled before a restart: resume from the kept ticket.
            media = match inbound.store.inbound_media_get(instance_id, &event.id).await {
                Ok(ticket) => ticket.and_then(|ticket| inbound.engine.media_from_ticket(instance_id, ticket.into())),
                Err(e) => {
                    tracing::warn!(seq, error = %e, "cannot read the media ticket of a journalled message");
                    None
                }
            };
        }
        let kind = event.kind.clone();
        let completed = AssertUnwindSafe(media::complete(
            instance_id,
            event.kind,
            media.as_deref(),
            &inbound.media,
            inbound.limits,
        ))
        .catch_unwind()
        .await;
        event.kind = completed.unwrap_or_else(|_| {
            tracing::error!(seq, "storing an incoming file panicked; the message goes on without it");
            noted(kind, "the file could not be stored")
        });
        // The journal's copy gets the stored file's path (or the download's
        // error), so what `GET /events` and a replay show says where the file is.
        if let Err(e) = inbound.store.journal_replace_event(seq, &event).await {
            tracing::warn!(seq, error = %e, "the journal keeps the message as it arrived, without its file");
        }
        if ticketed && let Err(e) = inbound.store.inbound_media_remove(instance_id, &event.id).await {
            // Left over, it is removed with the instance.
            tracing::debug!(seq, error = %e, "a media ticket was not removed");
        }
    }
    inbound.stats.published.fetch_add(1, Ordering::Relaxed);
    // Before the bus: with no chain, the plugin host reports it handled at once.
    inbound.progress.published(instance_id, run, seq);
    inbound.bus.publish_journalled(event, seq).await;
}

/// `kind` with `error` noted as its media's download error.
fn noted(mut kind: crate::events::EventKind, error: &str) -> crate::events::EventKind {
    if let crate::events::EventKind::Message(message) = &mut kind
        && let Some(media) = message.content.media_mut()
    {
        media.download_error = Some(error.to_owned());
    }
    kind
}
