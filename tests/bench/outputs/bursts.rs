//! The webhook burst and drain runs: concurrent injection, the receipts
//! collected, and each run's row checked and printed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasap_tests::bench_client::Process;

use crate::{MARK, incoming};
use wasap_tests::bench_receiver::{Receipt, Receiver};

/// What a burst of injected events gave.
pub(crate) struct Burst {
    events: u64,
    refused: u64,
    /// First request sent to last answer.
    inject: Duration,
    receipts: Vec<Receipt>,
    /// First request sent.
    started: Instant,
    server_cpu: Duration,
}

/// Injects events `seqs` with `clients` concurrent clients, as fast as the
/// server answers.
pub(crate) async fn burst(
    http: &reqwest::Client,
    base: &str,
    seqs: std::ops::Range<u64>,
    clients: usize,
) -> (Duration, u64, Instant) {
    let next = Arc::new(AtomicU64::new(seqs.start));
    let refused = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, base, next, refused) = (http.clone(), base.to_owned(), next.clone(), refused.clone());
        let end = seqs.end;
        tasks.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= end {
                    break;
                }
                if !incoming(&http, &base, format!("{MARK}{seq}")).await {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (started.elapsed(), refused.load(Ordering::Relaxed) as u64, started)
}

/// The burst run: injection and delivery at the same time.
pub(crate) async fn live_burst(
    server: &Process,
    http: &reqwest::Client,
    base: &str,
    receiver: &Receiver,
    seqs: std::ops::Range<u64>,
    clients: usize,
) -> Burst {
    receiver.take();
    let cpu = server.cpu_time();
    let (inject, refused, started) = burst(http, base, seqs.clone(), clients).await;
    collected(server, receiver, seqs, inject, refused, started, cpu).await
}

/// The drain run: the receiver holds its answers during the injection, so
/// the outbox fills; `started` is when it lets them through.
pub(crate) async fn drain_burst(
    server: &Process,
    http: &reqwest::Client,
    base: &str,
    receiver: &Receiver,
    seqs: std::ops::Range<u64>,
    clients: usize,
) -> Burst {
    receiver.take();
    receiver.open.send_replace(false);
    let (inject, refused, _) = burst(http, base, seqs.clone(), clients).await;
    // Every event through the plugin chain and into the outbox.
    server.settle(Duration::from_secs(120)).await;
    let cpu = server.cpu_time();
    let started = Instant::now();
    receiver.open.send_replace(true);
    collected(server, receiver, seqs, inject, refused, started, cpu).await
}

/// Waits for the receipts of `seqs` and makes the run's [`Burst`]; server
/// CPU is counted from `cpu`.
async fn collected(
    server: &Process,
    receiver: &Receiver,
    seqs: std::ops::Range<u64>,
    inject: Duration,
    refused: u64,
    started: Instant,
    cpu: Duration,
) -> Burst {
    let receipts = receiver.collect(seqs.clone(), Duration::from_secs(30)).await;
    Burst {
        events: seqs.end - seqs.start,
        refused,
        inject,
        receipts,
        started,
        server_cpu: server.cpu_time().saturating_sub(cpu),
    }
}

/// Checks a burst's receipts and prints its row.
pub(crate) fn report_burst(database: &str, kind: &str, run: usize, seqs: std::ops::Range<u64>, burst: &Burst) -> f64 {
    let ours: Vec<&Receipt> = burst
        .receipts
        .iter()
        .filter(|r| r.seq.is_some_and(|s| seqs.contains(&s)))
        .collect();
    let distinct_seqs: std::collections::HashSet<u64> = ours.iter().filter_map(|r| r.seq).collect();
    let distinct_ids: std::collections::HashSet<&str> = ours.iter().map(|r| r.event_id.as_str()).collect();
    let lost = burst.events - distinct_seqs.len() as u64;
    let first = ours.iter().map(|r| r.at).min();
    let last = ours.iter().map(|r| r.at).max();
    let (rate_receipts, rate_total) = match (first, last) {
        // One receipt spans no time: no rate to give.
        (Some(first), Some(last)) if last > first => (
            distinct_seqs.len() as f64 / last.duration_since(first).as_secs_f64().max(1e-9),
            distinct_seqs.len() as f64 / last.duration_since(burst.started).as_secs_f64().max(1e-9),
        ),
        _ => (0.0, 0.0),
    };
    println!(
        "| {database} | {kind} | {run} | {} | {:.0} | {:.2} s | {:.0} | {:.0} | {} | {} | {} | {:.0} µs |",
        burst.events,
        burst.events as f64 / burst.inject.as_secs_f64(),
        burst.inject.as_secs_f64(),
        rate_receipts,
        rate_total,
        lost,
        ours.len() - distinct_seqs.len(),
        if distinct_ids.len() == distinct_seqs.len() {
            "yes"
        } else {
            "NO"
        },
        burst.server_cpu.as_secs_f64() * 1e6 / burst.events as f64,
    );
    if burst.refused > 0 {
        println!("  ({} incoming requests were refused)", burst.refused);
    }
    rate_total
}
