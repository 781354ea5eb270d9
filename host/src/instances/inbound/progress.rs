//! Marking journalled events done once the plugin host has handled them.
//!
//! The plugin host reports events it has handled by journal seq (the chain
//! ran and their webhook deliveries are in the outbox, or there was no
//! chain); their entries are then marked done, many at a time, by a task of
//! its own, so the plugin workers never wait for it. A failed mark is retried
//! with backoff; a mark lost in a crash replays its event at the next start,
//! whose webhooks the outbox already holds under the same event id.

use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

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
    /// Seqs handled and not marked yet.
    to_mark: Mutex<Vec<i64>>,
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
            to_mark: Mutex::new(Vec::new()),
            wake: wake.clone(),
            stats,
        });
        tokio::spawn(mark(Arc::downgrade(&inner), wake, store, retry));
        Progress { inner }
    }
}

impl Progress {
    /// Writes the marks gathered so far now, once (the server is stopping:
    /// what is not marked is replayed at the next start).
    pub(super) async fn flush(&self, store: &Store) {
        let seqs = std::mem::take(&mut *lock(&self.inner.to_mark));
        if seqs.is_empty() {
            return;
        }
        match store.journal_mark_done(&seqs).await {
            Ok(()) => {
                self.inner
                    .stats
                    .done
                    .fetch_add(seqs.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(events = seqs.len(), error = %e, "handled events not marked done; they are replayed at the next start")
            }
        }
    }
}

impl HandledEvents for Progress {
    fn handled(&self, seqs: &[i64]) {
        self.inner.stats.release(seqs.len());
        lock(&self.inner.to_mark).extend_from_slice(seqs);
        self.inner.wake.notify_one();
    }
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
        let seqs = std::mem::take(&mut *lock(&inner.to_mark));
        let stats = inner.stats.clone();
        drop(inner);
        if seqs.is_empty() {
            continue;
        }
        // A mark of a deleted instance's entry updates nothing; only a closed
        // database (the server is stopping) ends the retries: the entries are
        // replayed at the next start.
        let marked = retry
            .run(Write::JournalDone, || store.journal_mark_done(&seqs), store_closed)
            .await;
        if marked.is_ok() {
            stats
                .done
                .fetch_add(seqs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
