//! Inbound traffic of one instance, from the engine to the plugin chain,
//! without losing an event on the way.
//!
//! ```text
//! engine ──accept──► journal writer ──► staging queue ──► media, publish ──► plugin chain ──► outbox
//!  (acks only after      (journal entry,    (bounded; when full,                    │
//!   accept returns)       then the ack)      the journal is the queue)   done ◄─────┘ (progress.rs)
//! ```
//! - `writer.rs`: takes what the engine hands over ([`InboundSink::accept`]),
//!   many hand-overs per transaction, gives each event its stable id
//!   (`ids.rs`), journals it, and only then lets the engine acknowledge it to
//!   WhatsApp. A failed write is retried with backoff (`write_retry`), which
//!   holds back the engine meanwhile. An event already in the journal
//!   (WhatsApp delivered it again) is acknowledged and not handled twice.
//! - `stage.rs`: publishes journalled events in journal order, each once its
//!   media is stored (`media.rs`). It takes them from a bounded queue the
//!   writer fills; when the queue is full the writer stops filling it and the
//!   stage reads what follows from the journal instead, so a slow chain never
//!   holds back the journal or drops anything, and memory stays bounded. At
//!   start-up (and after the pipeline restarts from a panic) it begins with the
//!   journal: every entry not done, in order, with its original id.
//! - `progress.rs`: journalled events in the chain, marked done once handled:
//!   per instance, a watermark below which every entry is (`done_through.rs`).
//! - `stats.rs`: the counters of `GET /metrics`.
//! - `contacts.rs`: the senders of journalled messages, kept as the
//!   instance's contacts (only what changed, after the ack).
//!
//! The bounds, per instance: [`JOURNAL_REQUESTS`] hand-overs waiting for the
//! writer (one event each, or a whole batch of an offline drain, of which the
//! real engine hands over one at a time), [`STAGE_QUEUE`] journalled events
//! waiting for media and the chain, and the chain's own queue (see
//! [`InboundStats::bound_per_instance`]).

mod contacts;
mod done_through;
mod ids;
mod media;
mod progress;
mod stage;
mod stats;
mod writer;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

pub use progress::Progress;
pub use stats::InboundStats;

use crate::engine::{Engine, InboundClosed, InboundEvent, InboundSink};
use crate::events::{Bus, EventKind, new_event};
use crate::media::{MediaLimits, MediaStore};
use crate::store::Store;
use crate::write_retry::WriteRetry;

/// Hand-overs (an engine's `accept` calls) waiting per instance for its journal writer.
pub(crate) const JOURNAL_REQUESTS: usize = 256;
/// Hand-overs journalled per transaction at most.
const REQUESTS_PER_WRITE: usize = 256;
/// The most events one hand-over carries: a batch of whatsapp-rust's offline drain.
pub(crate) const MAX_BATCH: usize = 400;
/// Journalled events one instance holds in memory waiting for their media and the chain.
pub(crate) const STAGE_QUEUE: usize = 1024;
/// How long a pipeline that panicked waits before it starts again.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// What every instance's pipeline shares. Cheap to clone.
#[derive(Clone)]
pub struct Inbound {
    pub(super) store: Store,
    /// Fetches media again from the tickets kept with the journal.
    pub(super) engine: Arc<dyn Engine>,
    pub(super) bus: Bus,
    pub(super) media: MediaStore,
    pub(super) limits: MediaLimits,
    pub(super) retry: WriteRetry,
    pub(super) progress: Progress,
    pub(super) stats: Arc<InboundStats>,
}

impl Inbound {
    /// The pipelines' shared parts, with the task that marks events done started.
    pub fn new(
        store: Store,
        engine: Arc<dyn Engine>,
        bus: Bus,
        media: MediaStore,
        limits: MediaLimits,
        retry: WriteRetry,
    ) -> Inbound {
        let stats = Arc::new(InboundStats::default());
        let progress = Progress::start(store.clone(), retry.clone(), stats.clone());
        Inbound {
            store,
            engine,
            bus,
            media,
            limits,
            retry,
            progress,
            stats,
        }
    }

    /// What the plugin host reports handled events to.
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    pub fn stats(&self) -> Arc<InboundStats> {
        self.stats.clone()
    }

    /// Marks done what has been handled and not marked yet, at shutdown.
    pub async fn flush_done(&self) {
        self.progress.flush(&self.store).await;
    }

    /// The writes retried on the way (their failures are `/health` problems).
    pub fn retry(&self) -> &WriteRetry {
        &self.retry
    }

    /// Starts the pipeline of `instance_id`, beginning with its journal's
    /// entries not done; the sink its sessions hand inbound traffic to. The
    /// pipeline stops once every clone of the sink is gone.
    pub(crate) fn start(&self, instance_id: &str) -> Arc<dyn InboundSink> {
        let (requests, receiver) = mpsc::channel(JOURNAL_REQUESTS);
        // At error level, so the span is on whenever any line inside it is.
        let span = tracing::error_span!("inbound", instance = %instance_id);
        tokio::spawn(supervise(self.clone(), instance_id.to_owned(), receiver).instrument(span));
        Arc::new(Sink {
            requests,
            stats: self.stats.clone(),
            bus: self.bus.clone(),
            instance_id: instance_id.to_owned(),
        })
    }
}

/// Runs the instance's writer and stage until the sink is gone; a panic in
/// either restarts both, from the journal.
async fn supervise(inbound: Inbound, instance_id: String, mut requests: mpsc::Receiver<writer::Request>) {
    loop {
        let pipeline_run = inbound.progress.next_run();
        let (staged, queue) = mpsc::channel(STAGE_QUEUE);
        let handoff = stage::Handoff::new(staged);
        let shared = handoff.shared();
        // The writer owns the hand-off: when it ends, the stage's queue
        // closes, and the stage ends once it has published what is queued.
        let run = async {
            tokio::join!(
                writer::run(&inbound, &instance_id, &mut requests, handoff),
                stage::run(&inbound, &instance_id, queue, shared, pipeline_run),
            )
        };
        match AssertUnwindSafe(run).catch_unwind().await {
            Ok(_) => {
                inbound.progress.ended(&instance_id, pipeline_run);
                return;
            }
            Err(_) => {
                // What was in memory is lost; the journal has all of it. The
                // hand-overs in the writer's hands were not acknowledged.
                tracing::error!("the inbound pipeline panicked; restarting it from the journal");
                tokio::time::sleep(RESTART_DELAY).await;
            }
        }
    }
}

/// The sink of one instance: hands events to its writer and waits for the journal.
struct Sink {
    requests: mpsc::Sender<writer::Request>,
    stats: Arc<InboundStats>,
    /// Where events that skip the journal go ([`InboundSink::pass_on`]).
    bus: Bus,
    instance_id: String,
}

#[async_trait]
impl InboundSink for Sink {
    async fn accept(&self, events: Vec<InboundEvent>) -> Result<(), InboundClosed> {
        if events.is_empty() {
            return Ok(());
        }
        let count = events.len();
        // Held until handled (or found a duplicate, or left to the journal).
        self.stats.hold(count);
        let (accepted, journalled) = oneshot::channel();
        let request = writer::Request { events, accepted };
        if self.requests.send(request).await.is_err() {
            self.stats.release(count);
            return Err(InboundClosed);
        }
        // A writer that drops the request has released its events.
        journalled.await.map_err(|_| InboundClosed)
    }

    /// Straight to the bus, as lifecycle events go: no journal entry, so no
    /// replay cursor on its frames and nothing in `/api/instances/{id}/events`.
    async fn pass_on(&self, kind: EventKind) {
        if self.requests.is_closed() {
            return;
        }
        self.bus.publish(new_event(&self.instance_id, kind)).await;
    }

    fn holding(&self, change: isize) {
        self.stats
            .engine_held
            .fetch_add(change as i64, std::sync::atomic::Ordering::Relaxed);
    }
}
