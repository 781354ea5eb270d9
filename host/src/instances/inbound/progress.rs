//! Marking journalled events done once the plugin host has handled them.
//!
//! The stage tells the progress each entry it publishes; the plugin host
//! reports the entries it has handled (the chain ran and their webhook
//! deliveries are in the outbox, or there was no chain). From the two,
//! `done_through.rs` works out how far each instance's journal is done, and a
//! task of its own writes those watermarks, many instances per statement, so
//! the plugin workers never wait for it. A failed write is retried with
//! backoff; a mark lost in a crash replays its events at the next start,
//! whose webhooks the outbox already holds under the same event id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

use super::done_through::DoneThrough;
use super::stats::InboundStats;
use crate::plugins::HandledEvents;
use crate::store::Store;
use crate::write_retry::{Write, WriteRetry, store_closed};

/// How long handled events gather before their marks are written.
const GATHER: std::time::Duration = std::time::Duration::from_millis(10);

/// The done marks still to write. Cheap to clone.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    done: Mutex<DoneThrough>,
    /// The number of the last pipeline run started.
    runs: AtomicU64,
    wake: Arc<Notify>,
    stats: Arc<InboundStats>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The marker finds the progress gone and ends.
        self.wake.notify_one();
    }
}

impl Progress {
    /// Progress tracking, with its marker task started.
    pub(crate) fn start(store: Store, retry: WriteRetry, stats: Arc<InboundStats>) -> Progress {
        let wake = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            done: Mutex::new(DoneThrough::default()),
            runs: AtomicU64::new(0),
            wake: wake.clone(),
            stats,
        });
        tokio::spawn(mark(Arc::downgrade(&inner), wake, store, retry));
        Progress { inner }
    }
}

impl Progress {
    /// The number of a pipeline run starting now (greater than any before).
    pub(super) fn next_run(&self) -> u64 {
        self.inner.runs.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// `seq` of `instance_id` is about to be published to the plugin host by
    /// pipeline `run`: in the chain until it is reported handled.
    pub(super) fn published(&self, instance_id: &str, run: u64, seq: i64) {
        lock(&self.inner.done).published(instance_id, run, seq);
    }

    /// Pipeline `run` of `instance_id` has ended.
    pub(super) fn ended(&self, instance_id: &str, run: u64) {
        lock(&self.inner.done).ended(instance_id, run);
    }

    /// Writes the marks gathered so far now, once (the server is stopping:
    /// what is not marked is replayed at the next start).
    pub(super) async fn flush(&self, store: &Store) {
        let (marks, events) = take(&self.inner);
        if marks.is_empty() {
            return;
        }
        match store.journal_mark_done_through(&marks).await {
            Ok(()) => {
                self.inner.stats.done.fetch_add(events, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(events, error = %e, "handled events not marked done; they are replayed at the next start")
            }
        }
    }
}

impl HandledEvents for Progress {
    fn handled(&self, instance_id: &str, seqs: &[i64]) {
        self.inner.stats.release(seqs.len());
        lock(&self.inner.done).handled(instance_id, seqs);
        self.inner.wake.notify_one();
    }
}

/// The watermarks that moved, and how many events they newly mark done.
fn take(inner: &Inner) -> (Vec<(String, i64)>, u64) {
    let taken = lock(&inner.done).take();
    let events = taken.iter().map(|(_, unwritten)| unwritten.events).sum();
    let marks = taken
        .into_iter()
        .map(|(instance, unwritten)| (instance, unwritten.through))
        .collect();
    (marks, events)
}

/// Writes the done marks, as many as have gathered per transaction, until the
/// progress is dropped.
async fn mark(progress: Weak<Inner>, wake: Arc<Notify>, store: Store, retry: WriteRetry) {
    loop {
        wake.notified().await;
        // Marks that gather a moment longer cost one statement instead of
        // many: under load, each statement is a round trip to the database.
        tokio::time::sleep(GATHER).await;
        let Some(inner) = progress.upgrade() else { return };
        let (marks, events) = take(&inner);
        let stats = inner.stats.clone();
        drop(inner);
        if marks.is_empty() {
            continue;
        }
        // A mark of a deleted instance writes nothing; only a closed
        // database (the server is stopping) ends the retries: the entries are
        // replayed at the next start.
        let marked = retry
            .run(
                Write::JournalDone,
                || store.journal_mark_done_through(&marks),
                store_closed,
            )
            .await;
        if marked.is_ok() {
            stats.done.fetch_add(events, Ordering::Relaxed);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
