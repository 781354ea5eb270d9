//! The delivery worker: takes due rows from the outbox and attempts them,
//! concurrently but bounded, so that one slow receiver never delays the others.
//!
//! Every attempt in flight is tracked here by row id and by receiver URL.
//! At most [`MAX_IN_FLIGHT`] attempts run at once, and at most [`PER_URL`] of
//! them for one URL: rows of a URL that has its share are left in the
//! database (not even read) until one of its attempts ends. A receiver that
//! never answers thus holds [`PER_URL`] slots for at most the attempt
//! timeout, and every other receiver keeps its own.
//!
//! The worker has no state besides the rows: at start every pending row is
//! due at its stored time, so deliveries interrupted by a crash or a restart
//! simply resume.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio::task::JoinSet;

use super::Webhooks;
use super::attempt::attempt;
use crate::store::deliveries::unix_now_ms;

/// Attempts in flight at most, server-wide.
const MAX_IN_FLIGHT: usize = 256;
/// Attempts in flight at most per receiver URL.
const PER_URL: usize = 8;
/// Rows read per query.
const BATCH: usize = 128;
/// The longest the worker sleeps without looking at the outbox: a safety net
/// for rows written without a wake-up (by another server on the same database).
const IDLE_POLL: Duration = Duration::from_secs(5);
/// The wait after the database failed, before trying again.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// How long delivered rows are kept (for `GET /api/deliveries`), in seconds.
const KEEP_DELIVERED_SECS: i64 = 7 * 24 * 3600;
/// How often old delivered rows are removed, and how many at a time.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const PRUNE_BATCH: u32 = 10_000;

/// Runs until the task is aborted; aborting drops every attempt in flight.
pub async fn run(webhooks: Webhooks) {
    let mut attempts: JoinSet<(String, String)> = JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    let mut per_url: HashMap<String, usize> = HashMap::new();
    tracing::info!(
        attempts = webhooks.inner.settings.attempts,
        timeout = ?webhooks.inner.settings.timeout,
        global = webhooks.inner.settings.global.len(),
        "webhook delivery worker started"
    );
    let mut last_prune: Option<tokio::time::Instant> = None;
    loop {
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(tokio::time::Instant::now());
            prune(&webhooks).await;
        }
        let mut full_batch = false;
        let mut wait = IDLE_POLL;
        let free = MAX_IN_FLIGHT - busy.len();
        if free > 0 {
            let saturated: Vec<String> = per_url.iter().filter(|(_, n)| **n >= PER_URL).map(|(url, _)| url.clone()).collect();
            let busy_ids: Vec<String> = busy.iter().cloned().collect();
            let now = unix_now_ms();
            let limit = free.min(BATCH);
            match webhooks.inner.store.due_deliveries(now, &busy_ids, &saturated, limit as u32).await {
                Ok(rows) => {
                    full_batch = rows.len() == limit;
                    for row in rows {
                        let count = per_url.entry(row.url.clone()).or_insert(0);
                        // A batch may hold more rows of one URL than its share:
                        // the rest wait for a later query.
                        if *count >= PER_URL {
                            continue;
                        }
                        *count += 1;
                        busy.insert(row.id.clone());
                        let (id, url) = (row.id.clone(), row.url.clone());
                        let webhooks = webhooks.clone();
                        attempts.spawn(async move {
                            // A panicking attempt must still hand back its id
                            // and URL, or their slots would stay taken.
                            if AssertUnwindSafe(attempt(webhooks, row)).catch_unwind().await.is_err() {
                                tracing::error!(delivery = %id, "a webhook attempt panicked; the delivery stays pending");
                            }
                            (id, url)
                        });
                    }
                    match webhooks.inner.store.next_delivery_due().await {
                        // Rows due now are in flight or of a saturated URL:
                        // an attempt ending wakes the loop for them.
                        Ok(Some(due)) if due > now => wait = Duration::from_millis((due - now) as u64).min(IDLE_POLL),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "the webhook outbox cannot be read"),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the webhook outbox cannot be read");
                    wait = STORE_RETRY;
                }
            }
        }
        if full_batch && busy.len() < MAX_IN_FLIGHT {
            // More may be due right away.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = webhooks.inner.wake.notified() => {}
            Some(done) = attempts.join_next(), if !attempts.is_empty() => finish(done, &mut busy, &mut per_url),
            _ = tokio::time::sleep(wait) => {}
        }
        // Collect every other attempt that ended meanwhile.
        while let Some(done) = attempts.try_join_next() {
            finish(done, &mut busy, &mut per_url);
        }
    }
}

/// Keeps the outbox from growing without bound: delivered rows go after
/// [`KEEP_DELIVERED_SECS`], a bounded batch per round.
async fn prune(webhooks: &Webhooks) {
    let before = crate::store::unix_now() - KEEP_DELIVERED_SECS;
    match webhooks.inner.store.prune_delivered(before, PRUNE_BATCH).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "old delivered webhook deliveries removed"),
        Err(e) => tracing::warn!(error = %e, "old webhook deliveries could not be removed"),
    }
}

fn finish(
    done: Result<(String, String), tokio::task::JoinError>,
    busy: &mut HashSet<String>,
    per_url: &mut HashMap<String, usize>,
) {
    match done {
        Ok((id, url)) => {
            busy.remove(&id);
            if let Some(count) = per_url.get_mut(&url) {
                *count -= 1;
                if *count == 0 {
                    per_url.remove(&url);
                }
            }
        }
        // Attempts catch their panics, so this is a cancellation: the worker is stopping.
        Err(e) => tracing::debug!(error = %e, "a webhook attempt was cancelled"),
    }
}
