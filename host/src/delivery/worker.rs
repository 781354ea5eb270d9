//! The delivery worker: runs the attempts of the outbox's rows, writing its
//! bookkeeping in batches.
//!
//! Each round it records every attempt that ended in one transaction, reads
//! due rows from the database when some may be there that it does not hold,
//! counts the attempts it is about to make in one statement, and starts them.
//! While a round runs, the next round's work piles up, so the busier the
//! server, the bigger the batches. New deliveries are stored by the
//! [`inserter`] beside it, in batches of their own.
//!
//! Rows just stored go to the [`Lanes`] straight from memory; the database is
//! read only for rows the worker does not hold: those of earlier runs (the
//! worker has no other state, so a restart or a crash simply resumes), retries
//! coming due, rows that did not fit in memory, and rows put back by
//! `POST /api/deliveries/{id}/retry`. It reads them receiver by receiver, so a
//! receiver with a huge backlog never hides another's rows.
//!
//! An attempt's slot is freed only once its result is recorded, so a row is
//! never attempted twice at the same time.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Webhooks;
use super::attempt::{attempt, receiver_host};
use super::inserter::{self, QueueRequest};
use super::lanes::{Admission, Lanes, READY_PER_URL};
use crate::clock::now_ms;
use crate::store::StoreError;
use crate::store::deliveries::{AttemptResult, DeliveryRow};
use crate::system_events::SystemNotice;

/// Attempts in flight at most, server-wide.
const MAX_IN_FLIGHT: usize = 512;
/// Batches of stored rows waiting for the loop before the inserter waits.
const FRESH_BATCHES: usize = 64;
/// Receivers with due rows looked up per round.
const URLS_PER_SCAN: u32 = 64;
/// The longest the worker goes without looking at the outbox: a safety net
/// for rows written without a wake-up (by another server on the same database).
const IDLE_POLL: Duration = Duration::from_secs(5);
/// The wait after the database failed, before trying again.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// How often old delivered rows are removed, and how many at a time.
const PRUNE_BATCH: u32 = 10_000;

/// An attempt that ended: `None` when it could not be made (its row stays
/// due as it is).
struct Finished {
    id: String,
    event: String,
    url: String,
    number: i64,
    result: Option<AttemptResult>,
}

/// What the worker keeps between rounds.
struct Worker {
    webhooks: Webhooks,
    lanes: Lanes,
    /// Receivers may have due rows in the database that nobody told the
    /// worker about: look for them (at start, on a wake-up, when a retry
    /// comes due, and every [`IDLE_POLL`]).
    scan: bool,
    /// Where the next look for due receivers continues.
    url_cursor: Option<String>,
    /// Receivers known to have due rows in the database that the lanes do
    /// not hold (they did not fit, or their attempt could not be recorded).
    backlogged: HashSet<String>,
    /// When the earliest pending row not yet due comes due, as far as known.
    next_due: Option<i64>,
    last_scan: tokio::time::Instant,
    finished: mpsc::UnboundedSender<Finished>,
    attempts: JoinSet<()>,
}

/// Runs until the task is aborted; aborting drops every attempt in flight
/// (their rows stay pending) and the [`inserter`], whose unanswered senders
/// then store their rows themselves.
pub async fn run(webhooks: Webhooks, requests: mpsc::Receiver<QueueRequest>) {
    let (finished, mut ended) = mpsc::unbounded_channel();
    let (stored, mut fresh) = mpsc::channel(FRESH_BATCHES);
    // Stores queued deliveries while this loop runs the attempts: on a
    // database that flushes every commit, neither waits for the other.
    let mut inserter = JoinSet::new();
    inserter.spawn(inserter::run(webhooks.clone(), requests, stored));
    tracing::info!(
        attempts = webhooks.inner.settings.attempts,
        per_receiver = webhooks.inner.settings.per_receiver,
        timeout = ?webhooks.inner.settings.timeout,
        global = webhooks.inner.settings.global.len(),
        "webhook delivery worker started"
    );
    let per_receiver = webhooks.inner.settings.per_receiver;
    let mut worker = Worker {
        webhooks,
        lanes: Lanes::new(per_receiver),
        scan: true,
        url_cursor: None,
        backlogged: HashSet::new(),
        next_due: None,
        last_scan: tokio::time::Instant::now(),
        finished,
        attempts: JoinSet::new(),
    };
    let mut last_prune: Option<tokio::time::Instant> = None;
    let prune_every = worker.webhooks.inner.settings.retention.prune_every;
    let mut results: Vec<Finished> = Vec::new();
    loop {
        if last_prune.is_none_or(|at| at.elapsed() >= prune_every) {
            last_prune = Some(tokio::time::Instant::now());
            worker.prune().await;
        }
        while let Ok(rows) = fresh.try_recv() {
            worker.admit_fresh(rows);
        }
        while let Ok(result) = ended.try_recv() {
            results.push(result);
        }
        let mut store_failed = false;
        if !results.is_empty() {
            worker.record(std::mem::take(&mut results)).await;
        }
        let now = now_ms();
        if worker.next_due.is_some_and(|due| due <= now) || worker.last_scan.elapsed() >= IDLE_POLL {
            worker.scan = true;
        }
        if let Err(e) = worker.read_due(now).await {
            tracing::warn!(error = %e, "the webhook outbox cannot be read");
            worker.scan = true;
            store_failed = true;
        }
        if let Err(e) = worker.start_attempts().await {
            tracing::warn!(error = %e, "webhook attempts could not be counted; they wait");
            store_failed = true;
        }
        while worker.attempts.try_join_next().is_some() {}
        // Work that arrived during the round makes the next one start at once.
        let wait = if store_failed { STORE_RETRY } else { worker.idle_wait() };
        // The next pruning is due even when no delivery wakes the worker.
        let wait = wait.min(prune_every.saturating_sub(last_prune.map_or(Duration::ZERO, |at| at.elapsed())));
        tokio::select! {
            biased;
            Some(rows) = fresh.recv() => worker.admit_fresh(rows),
            Some(result) = ended.recv() => results.push(result),
            _ = worker.webhooks.inner.wake.notified() => worker.scan = true,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

impl Worker {
    /// How long to sleep when nothing arrives: until the next retry is due or
    /// the safety poll, whichever is first.
    fn idle_wait(&self) -> Duration {
        // More receivers to look at (the cursor goes on).
        if self.scan {
            return Duration::ZERO;
        }
        let poll = IDLE_POLL.saturating_sub(self.last_scan.elapsed());
        match self.next_due {
            Some(due) => Duration::from_millis(due.saturating_sub(now_ms()).max(0) as u64).min(poll),
            None => poll,
        }
    }

    /// Queues rows the inserter has just stored; those that do not fit wait
    /// in the database.
    fn admit_fresh(&mut self, rows: Vec<DeliveryRow>) {
        for row in rows {
            let url = row.url.clone();
            if self.lanes.admit_fresh(row) == Admission::Full {
                self.backlogged.insert(url);
            }
        }
    }

    /// Records the results of ended attempts in one transaction and frees
    /// their slots.
    async fn record(&mut self, results: Vec<Finished>) {
        let writes: Vec<(String, i64, AttemptResult)> = results
            .iter()
            .filter_map(|f| f.result.clone().map(|result| (f.id.clone(), f.number, result)))
            .collect();
        match self.webhooks.inner.store.record_attempts(&writes).await {
            Ok(()) => self.announce_failures(&results),
            Err(e) => {
                // The rows stay as they were, so the attempts are repeated: a
                // receiver may see an event twice, which X-Wasap-Event-Id lets it notice.
                tracing::error!(error = %e, attempts = writes.len(), "webhook attempts could not be recorded");
                self.backlogged.extend(results.iter().map(|f| f.url.clone()));
            }
        }
        for finished in results {
            match &finished.result {
                Some(AttemptResult::Retry { next_attempt_ms, .. }) => {
                    self.next_due = Some(self.next_due.map_or(*next_attempt_ms, |due| due.min(*next_attempt_ms)));
                }
                // Its row is still due as it was.
                None => {
                    self.backlogged.insert(finished.url.clone());
                }
                _ => {}
            }
            self.lanes.release(&finished.id, &finished.url);
        }
    }

    /// Tells `/ws` of the deliveries that have just failed for good.
    fn announce_failures(&self, results: &[Finished]) {
        let Some(system) = &self.webhooks.inner.system else {
            return;
        };
        for finished in results {
            if let Some(AttemptResult::Failed { error }) = &finished.result {
                system.announce(SystemNotice::DeliveryFailed {
                    delivery: finished.id.clone(),
                    event: finished.event.clone(),
                    host: receiver_host(&finished.url),
                    error: error.clone(),
                });
            }
        }
    }

    /// Reads due rows the lanes do not hold yet: looks for receivers with due
    /// rows when [`Worker::scan`] says so, then tops up the lanes of the
    /// backlogged receivers that are running low. A lane is topped up only
    /// once it is half empty, so a long backlog is read in large batches,
    /// not a few rows after every attempt.
    async fn read_due(&mut self, now: i64) -> Result<(), StoreError> {
        let store = &self.webhooks.inner.store;
        if self.scan {
            self.last_scan = tokio::time::Instant::now();
            let urls = store
                .due_delivery_urls(now, self.url_cursor.as_deref(), URLS_PER_SCAN)
                .await?;
            let more = urls.len() == URLS_PER_SCAN as usize;
            self.url_cursor = if more { urls.last().cloned() } else { None };
            self.backlogged.extend(urls);
            self.next_due = store.next_delivery_due_after(now).await?;
            self.scan = more;
        }
        let low: Vec<String> = self
            .backlogged
            .iter()
            .filter(|url| self.lanes.load(url).1 < READY_PER_URL / 2 && self.lanes.room(url) > 0)
            .cloned()
            .collect();
        for url in low {
            // The rows held are among the first due: read past them.
            let (in_flight, ready) = self.lanes.load(&url);
            let limit = in_flight + ready + self.lanes.room(&url);
            let rows = store.due_deliveries_to(&url, now, limit as u32).await?;
            let all_read = rows.len() < limit;
            let mut all_held = true;
            for row in rows {
                if self.lanes.admit(row) == Admission::Full {
                    all_held = false;
                }
            }
            if all_read && all_held {
                self.backlogged.remove(&url);
            }
        }
        Ok(())
    }

    /// Starts as many attempts as the slots allow, counting them first.
    async fn start_attempts(&mut self) -> Result<(), StoreError> {
        let rows = self.lanes.take(MAX_IN_FLIGHT.saturating_sub(self.lanes.in_flight()));
        if rows.is_empty() {
            return Ok(());
        }
        let numbers: Vec<(String, i64)> = rows.iter().map(|row| (row.id.clone(), row.attempts + 1)).collect();
        if let Err(e) = self.webhooks.inner.store.start_attempts(&numbers).await {
            self.lanes.put_back(rows);
            return Err(e);
        }
        for row in rows {
            let webhooks = self.webhooks.clone();
            let finished = self.finished.clone();
            let (id, event, url, number) = (row.id.clone(), row.event_id.clone(), row.url.clone(), row.attempts + 1);
            self.attempts.spawn(async move {
                // A panicking attempt must still hand back its slot.
                let result = match AssertUnwindSafe(attempt(webhooks, row)).catch_unwind().await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::error!(delivery = %id, "a webhook attempt panicked; the delivery stays pending");
                        None
                    }
                };
                let _ = finished.send(Finished {
                    id,
                    event,
                    url,
                    number,
                    result,
                });
            });
        }
        Ok(())
    }

    /// Keeps the outbox from growing without bound: delivered and failed
    /// rows go once older than their retention, a bounded batch per round.
    async fn prune(&self) {
        let retention = &self.webhooks.inner.settings.retention;
        let now = crate::clock::now_secs();
        for (status, keep) in [("delivered", retention.delivered), ("failed", retention.failed)] {
            let before = now.saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX));
            match self
                .webhooks
                .inner
                .store
                .prune_deliveries(status, before, PRUNE_BATCH)
                .await
            {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, status, "old webhook deliveries removed"),
                Err(e) => tracing::warn!(error = %e, status, "old webhook deliveries could not be removed"),
            }
        }
    }
}
