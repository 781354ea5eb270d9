//! Benchmark: the real engine against the WhatsApp simulator on loopback.
//! COUNT instances (default 200) pair through the simulated phone and stay
//! connected and idle; then the server restarts and they log back in (Noise
//! IK, no QR). Targets (issue 16): at most 1 MB of resident memory per
//! connected idle instance, and 200 linked instances back online within 10 s
//! of a restart.
//!
//! The simulator runs in this process; wasap runs as its own process, a test
//! build (only a test build may pair with the simulator, whose certificates
//! WhatsApp did not sign), so its resident memory is the server's alone:
//!
//! ```sh
//! cargo build --release -p wasap --features test-whatsapp-server
//! cargo run --release -p wasap-tests --bin bench-real-engine -- [COUNT]
//! cargo build --release -p wasap      # put the production build back
//! ```
//!
//! Method and results: BENCHMARKS.md.

use std::time::{Duration, Instant};

use wasap_tests::bench_client::wait_healthy;
use wasap_tests::bench_real::{BenchEngine, BenchServer, pair_by_qr, require_test_build, wait_online};
use wasap_whatsapp_sim::Simulator;

/// Pairings in flight at once.
const CONCURRENCY: usize = 16;

/// Creates instance `i`, reads its QR through the API and has phone `i` scan it.
async fn pair(http: &reqwest::Client, base: &str, simulator: &Simulator, i: usize) {
    pair_by_qr(http, base, simulator, &format!("bench-{i:04}"), &format!("1555{i:07}")).await;
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let version = require_test_build();
    let simulator = Simulator::start().await.expect("the simulator starts");
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();

    let server = BenchServer::start(dir.path(), BenchEngine::Real, &simulator.ws_url(), "error");
    wait_healthy(&http, &server.base).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let empty = server.rss_kib();
    let started = Instant::now();
    let ids: Vec<usize> = (0..count).collect();
    for chunk in ids.chunks(CONCURRENCY) {
        futures::future::join_all(chunk.iter().map(|&i| pair(&http, &server.base, &simulator, i))).await;
    }
    wait_online(&http, &server.base, count as u64, started).await;
    let pairing = started.elapsed();
    // Post-login work (pre-key uploads, app-state syncs) finishes, then idle means idle.
    server.process.settle(Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = server.rss_kib();
    server.stop();

    let started = Instant::now();
    let server = BenchServer::start(dir.path(), BenchEngine::Real, &simulator.ws_url(), "error");
    let back_online = wait_online(&http, &server.base, count as u64, started).await;
    server.process.settle(Duration::from_secs(60)).await;
    let restarted = server.rss_kib();
    server.stop();
    assert_eq!(
        simulator.unhandled(),
        Vec::<String>::new(),
        "stanzas the simulator did not handle"
    );

    println!("real engine against the simulator: {count} instances ({version})");
    println!(
        "  create + QR + scan, all online:           {:.2} s",
        pairing.as_secs_f64()
    );
    println!("  RSS empty server:                         {empty} KiB");
    println!("  RSS with {count} connected idle instances:   {loaded} KiB");
    println!(
        "  RSS per connected idle instance:          {:.1} KiB",
        loaded.saturating_sub(empty) as f64 / count as f64
    );
    println!(
        "  restart until all online (IK):            {:.2} s (process start included)",
        back_online.as_secs_f64()
    );
    println!(
        "  RSS after the restart, per instance:      {:.1} KiB",
        restarted.saturating_sub(empty) as f64 / count as f64
    );
}
