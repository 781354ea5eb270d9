//! The paced run: injection at a fixed rate, and each event's time from
//! request sent to webhook receipt.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{MARK, incoming};
use wasap_tests::bench_receiver::Receiver;

/// When each event's request was sent, in nanoseconds after `base`.
struct SendTimes {
    base: Instant,
    sent: Vec<AtomicU64>,
}

impl SendTimes {
    fn new(count: u64) -> SendTimes {
        SendTimes {
            base: Instant::now(),
            sent: (0..count).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn mark(&self, index: u64) {
        self.sent[index as usize].store(self.base.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn at(&self, index: u64) -> Instant {
        self.base + Duration::from_nanos(self.sent[index as usize].load(Ordering::Relaxed))
    }
}

/// Paced injection at `rate` per second for `seconds`; latency of each event.
pub(crate) async fn latency(
    http: &reqwest::Client,
    base: &str,
    receiver: &Receiver,
    first_seq: u64,
    rate: u64,
    seconds: u64,
) -> (Vec<Duration>, u64, f64) {
    receiver.take();
    let count = rate * seconds;
    let seqs = first_seq..first_seq + count;
    let times = Arc::new(SendTimes::new(count));
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    // A late tick is made up at once: the schedule, not the pace of answers, sets the load.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        ticker.tick().await;
        let (http, base, times) = (http.clone(), base.to_owned(), times.clone());
        tasks.spawn(async move {
            times.mark(index);
            incoming(&http, &base, format!("{MARK}{}", first_seq + index)).await
        });
    }
    let achieved = count as f64 / started.elapsed().as_secs_f64();
    let mut refused = 0;
    while let Some(done) = tasks.join_next().await {
        if !done.unwrap() {
            refused += 1;
        }
    }
    let receipts = receiver.collect(seqs.clone(), Duration::from_secs(30)).await;
    let mut first_receipt = vec![None; count as usize];
    for receipt in receipts {
        if let Some(seq) = receipt.seq.filter(|s| seqs.contains(s)) {
            let slot = &mut first_receipt[(seq - first_seq) as usize];
            if slot.is_none_or(|at| receipt.at < at) {
                *slot = Some(receipt.at);
            }
        }
    }
    let mut latencies: Vec<Duration> = first_receipt
        .iter()
        .enumerate()
        .filter_map(|(index, at)| at.map(|at| at.saturating_duration_since(times.at(index as u64))))
        .collect();
    latencies.sort();
    let lost = count - latencies.len() as u64;
    if refused > 0 {
        println!("  ({refused} incoming requests were refused)");
    }
    (latencies, lost, achieved)
}
