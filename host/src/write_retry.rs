//! Writes on the lossless inbound path that are retried, never dropped.
//!
//! Between WhatsApp and the webhook outbox three writes decide whether an
//! event survives a crash: its inbound journal entry (before WhatsApp's ack),
//! its webhook deliveries in the outbox (before the event counts as handled),
//! and the mark that it is done. When one fails (disk full, database down),
//! the writer waits and tries again with backoff, holding back what comes
//! behind it instead of dropping anything. This module owns that loop and
//! what it knows meanwhile: which writes are failing, since when and why
//! (`GET /health` says so), and how many retries there were (`GET /metrics`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

/// The writes retried here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Write {
    /// An inbound event's journal entry, before WhatsApp's ack.
    Journal,
    /// The webhook deliveries of handled events, into the outbox.
    Outbox,
    /// The mark that journalled events are done.
    JournalDone,
}

impl Write {
    const ALL: [Write; 3] = [Write::Journal, Write::Outbox, Write::JournalDone];

    /// The metrics label.
    pub fn name(self) -> &'static str {
        match self {
            Write::Journal => "journal",
            Write::Outbox => "outbox",
            Write::JournalDone => "journal_done",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Write::Journal => "inbound events cannot be written to the journal (WhatsApp's acks are held back)",
            Write::Outbox => "webhook deliveries cannot be written to the outbox (the plugin chain is held back)",
            Write::JournalDone => "handled events cannot be marked done in the journal",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The retry loop and the state of every write retried through it. Cheap to clone.
#[derive(Clone)]
pub struct WriteRetry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WriteRetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteRetry")
            .field("min", &self.inner.min)
            .field("max", &self.inner.max)
            .finish_non_exhaustive()
    }
}

struct Inner {
    min: Duration,
    max: Duration,
    failing: Mutex<HashMap<Write, Failing>>,
    retries: [AtomicU64; 3],
}

/// A write that is failing now: how many writers wait on it, since when, the last error.
struct Failing {
    writers: u32,
    since: Instant,
    error: String,
}

impl WriteRetry {
    /// Retries wait `min` after the first failure, doubling up to `max`.
    pub fn new(min: Duration, max: Duration) -> WriteRetry {
        let min = min.max(Duration::from_millis(1));
        WriteRetry {
            inner: Arc::new(Inner {
                min,
                max: max.max(min),
                failing: Mutex::new(HashMap::new()),
                retries: Default::default(),
            }),
        }
    }

    /// Runs `attempt` until it succeeds, waiting with backoff after each
    /// failure; an error for which `fatal` says true ends the loop and is
    /// returned (the thing written to is gone: retrying cannot help).
    pub async fn run<T, E, F, Fut>(&self, write: Write, mut attempt: F, fatal: impl Fn(&E) -> bool) -> Result<T, E>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut delay = self.inner.min;
        let mut counted = false;
        let result = loop {
            match attempt().await {
                Ok(value) => break Ok(value),
                Err(e) if fatal(&e) => break Err(e),
                Err(e) => {
                    let error = e.to_string();
                    tracing::error!(write = write.name(), %error, retry_in = ?delay, "a write failed; retrying, nothing is dropped");
                    self.note_failure(write, error, !counted);
                    counted = true;
                    self.inner.retries[write.index()].fetch_add(1, Ordering::Relaxed);
                    // Up to a quarter shorter at random, so writers that failed
                    // together do not all come back in the same instant.
                    let jitter = rand::rng().random_range(0.0..0.25);
                    tokio::time::sleep(delay.mul_f64(1.0 - jitter)).await;
                    delay = delay.saturating_mul(2).min(self.inner.max);
                }
            }
        };
        if counted {
            self.note_recovery(write);
        }
        result
    }

    fn note_failure(&self, write: Write, error: String, new_writer: bool) {
        let mut failing = self.inner.failing.lock().unwrap_or_else(|p| p.into_inner());
        let entry = failing.entry(write).or_insert_with(|| Failing {
            writers: 0,
            since: Instant::now(),
            error: String::new(),
        });
        if new_writer {
            entry.writers += 1;
        }
        entry.error = error;
    }

    fn note_recovery(&self, write: Write) {
        let mut failing = self.inner.failing.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = failing.get_mut(&write) {
            entry.writers = entry.writers.saturating_sub(1);
            if entry.writers == 0 {
                failing.remove(&write);
                tracing::info!(write = write.name(), "a failing write succeeded again");
            }
        }
    }

    /// One sentence per write failing now, for `/health`.
    pub fn problems(&self) -> Vec<String> {
        let failing = self.inner.failing.lock().unwrap_or_else(|p| p.into_inner());
        Write::ALL
            .iter()
            .filter_map(|write| {
                let entry = failing.get(write)?;
                Some(format!(
                    "{} for {} s, retried with backoff, nothing dropped: {}",
                    write.what(),
                    entry.since.elapsed().as_secs(),
                    entry.error
                ))
            })
            .collect()
    }

    /// The retry counters and the writes failing now, in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str("# HELP wasap_write_retries_total Failed writes of the inbound path (journal, outbox, done marks), each retried.\n");
        out.push_str("# TYPE wasap_write_retries_total counter\n");
        for write in Write::ALL {
            let count = self.inner.retries[write.index()].load(Ordering::Relaxed);
            let _ = writeln!(out, "wasap_write_retries_total{{write=\"{}\"}} {count}", write.name());
        }
        out.push_str("# HELP wasap_write_failing Writers waiting on a failing write now.\n");
        out.push_str("# TYPE wasap_write_failing gauge\n");
        let failing = self.inner.failing.lock().unwrap_or_else(|p| p.into_inner());
        for write in Write::ALL {
            let writers = failing.get(&write).map_or(0, |entry| entry.writers);
            let _ = writeln!(out, "wasap_write_failing{{write=\"{}\"}} {writers}", write.name());
        }
    }
}

/// Whether `error` says the database is closed (the server is stopping):
/// retrying cannot help, and what was not written is replayed from the
/// journal at the next start.
pub fn store_closed(error: &crate::store::StoreError) -> bool {
    matches!(error, crate::store::StoreError::Query(sqlx::Error::PoolClosed))
}

impl Default for WriteRetry {
    fn default() -> WriteRetry {
        WriteRetry::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[tokio::test]
    async fn a_failing_write_is_retried_until_it_succeeds_and_reported_meanwhile() {
        let retry = WriteRetry::new(Duration::from_millis(1), Duration::from_millis(4));
        let attempts = Arc::new(AtomicU32::new(0));
        let task = tokio::spawn({
            let (retry, attempts) = (retry.clone(), attempts.clone());
            async move {
                retry
                    .run(
                        Write::Journal,
                        || {
                            let n = attempts.fetch_add(1, Ordering::SeqCst);
                            async move { if n < 5 { Err("disk full") } else { Ok(n) } }
                        },
                        |_| false,
                    )
                    .await
            }
        });
        while attempts.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        let problems = retry.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("disk full"), "{problems:?}");
        assert_eq!(task.await.unwrap(), Ok(5));
        assert!(retry.problems().is_empty());
        let mut text = String::new();
        retry.render_metrics(&mut text);
        assert!(
            text.contains("wasap_write_retries_total{write=\"journal\"} 5\n"),
            "{text}"
        );
        assert!(text.contains("wasap_write_failing{write=\"journal\"} 0\n"), "{text}");
    }

    #[tokio::test]
    async fn a_fatal_error_ends_the_retries() {
        let retry = WriteRetry::default();
        let result: Result<(), &str> = retry.run(Write::Outbox, || async { Err("gone") }, |_| true).await;
        assert_eq!(result, Err("gone"));
        assert!(retry.problems().is_empty());
    }
}
