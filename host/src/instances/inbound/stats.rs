//! What the inbound pipeline counts, for `GET /metrics`: events journalled,
//! redelivered, replayed, published and done, and how many it holds in memory
//! now against the bound it documents.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::{JOURNAL_REQUESTS, STAGE_QUEUE};

/// The plugin chain's queue and batch per instance (`plugins/workers.rs`),
/// which hold journalled events in memory too.
const CHAIN_QUEUE_AND_BATCH: u64 = 1024 + 64;

/// The pipeline's counters. Shared by every instance's pipeline.
#[derive(Debug, Default)]
pub struct InboundStats {
    pub(super) journalled: AtomicU64,
    /// Journal writes (one per batch of hand-overs that waited together):
    /// events over writes is how well the writer batches.
    pub(super) journal_writes: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) replayed: AtomicU64,
    pub(super) published: AtomicU64,
    pub(super) done: AtomicU64,
    /// Events accepted from an engine and not yet handled (journal queue,
    /// staging queue, in the plugin chain's queue): what the pipeline holds
    /// in memory. Events waiting in the journal only are not counted.
    pub(super) in_memory: AtomicI64,
    /// The same, at its highest since the start.
    pub(super) in_memory_peak: AtomicI64,
    /// Inbound events an engine holds while it waits to hand them over (the
    /// real engine's receipts and group changes, which whatsapp-rust
    /// acknowledges itself, queued behind the journal).
    pub(super) engine_held: AtomicI64,
}

impl InboundStats {
    /// The most inbound events one instance's pipeline holds in memory: its
    /// journal queue (requests of at most [`super::MAX_BATCH`] events), its
    /// staging queue, and the plugin chain's queue and batch.
    pub fn bound_per_instance() -> u64 {
        JOURNAL_REQUESTS as u64 * super::MAX_BATCH as u64 + STAGE_QUEUE as u64 + CHAIN_QUEUE_AND_BATCH
    }

    pub(super) fn hold(&self, events: usize) {
        let now = self.in_memory.fetch_add(events as i64, Ordering::Relaxed) + events as i64;
        self.in_memory_peak.fetch_max(now, Ordering::Relaxed);
    }

    pub(super) fn release(&self, events: usize) {
        self.in_memory.fetch_sub(events as i64, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let counters = [
            ("journalled", &self.journalled, "Inbound events written to the journal."),
            (
                "journal_writes",
                &self.journal_writes,
                "Writes to the journal, one per batch of hand-overs that waited together (journalled and duplicates over this: events per write).",
            ),
            (
                "duplicates",
                &self.duplicates,
                "Inbound events delivered again by WhatsApp and already in the journal.",
            ),
            (
                "replayed",
                &self.replayed,
                "Journalled events read back from the journal (after a restart, or when the staging queue was full).",
            ),
            (
                "published",
                &self.published,
                "Journalled events handed to the plugin chain.",
            ),
            (
                "done",
                &self.done,
                "Journalled events marked done (the chain ran, their webhooks are in the outbox).",
            ),
        ];
        for (name, value, help) in counters {
            let _ = writeln!(out, "# HELP wasap_inbound_{name}_total {help}");
            let _ = writeln!(out, "# TYPE wasap_inbound_{name}_total counter");
            let _ = writeln!(out, "wasap_inbound_{name}_total {}", value.load(Ordering::Relaxed));
        }
        let gauges = [
            (
                "wasap_inbound_in_memory",
                self.in_memory.load(Ordering::Relaxed),
                "Inbound events the pipeline holds in memory now (journal queue, staging, plugin queue).",
            ),
            (
                "wasap_inbound_in_memory_peak",
                self.in_memory_peak.load(Ordering::Relaxed),
                "The most inbound events the pipeline held in memory at once since the start.",
            ),
            (
                "wasap_inbound_in_memory_bound_per_instance",
                Self::bound_per_instance() as i64,
                "The most inbound events one instance's pipeline can hold in memory; more wait in the journal.",
            ),
            (
                "wasap_inbound_engine_held",
                self.engine_held.load(Ordering::Relaxed),
                "Inbound events an engine holds waiting for the journal (receipts and group events of the real engine).",
            ),
        ];
        for (name, value, help) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
    }
}
