//! Benchmark: text traffic through the real engine against the WhatsApp
//! simulator on loopback, next to the same traffic on the sim engine.
//! Targets (issue 17): at least 2,000 inbound 1:1 texts per second decrypted
//! and delivered to a webhook, at least 2,000 text sends per second through
//! the real client, and the server's CPU per inbound message beside the sim
//! engine's.
//!
//! The simulator (the contacts that encrypt and decrypt) and the webhook
//! receiver run in this process, whose CPU is reported on its own; wasap runs
//! as its own process, a test build:
//!
//! ```sh
//! cargo build --release -p wasap --features test-whatsapp-server
//! cargo run --release -p wasap-tests --bin bench-real-traffic -- [--messages N] [--contacts K] [--clients C]
//! cargo build --release -p wasap      # put the production build back
//! ```
//!
//! Method and results: BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use wasap_tests::bench_client::{call, load_average, own_cpu_time, pair_instance, wait_healthy};
use wasap_tests::bench_real::{BenchEngine, BenchServer, TOKEN, pair_by_qr, require_test_build, wait_online};
use wasap_tests::bench_receiver::Receiver;
use wasap_whatsapp_sim::Simulator;

/// Each message's text is `MARK` followed by its sequence number.
const MARK: &str = "b17seq-";
const INSTANCE: &str = "bench";
const INSTANCE_PHONE: &str = "15550000001";
/// Longest the bench waits without progress before it calls a run broken.
const STALL: Duration = Duration::from_secs(60);

struct Options {
    messages: u64,
    contacts: u64,
    clients: usize,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            messages: 5000,
            contacts: 8,
            clients: 16,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value: u64 = args
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| fail(&format!("{flag} needs a number")));
            match flag.as_str() {
                "--messages" => options.messages = value.max(1),
                "--contacts" => options.contacts = value.max(1),
                "--clients" => options.clients = value.max(1) as usize,
                _ => fail(&format!("unknown option {flag}")),
            }
        }
        options
    }
}

fn fail(why: &str) -> ! {
    eprintln!("bench-real-traffic: {why}\nusage: bench-real-traffic [--messages N] [--contacts K] [--clients C]");
    std::process::exit(2);
}

fn contact_phone(k: u64) -> String {
    format!("1555900{k:04}")
}

/// CPU used by the server and by this process (simulator, receiver, clients).
struct Cpu {
    server: Duration,
    bench: Duration,
}

impl Cpu {
    fn now(server: &BenchServer) -> Cpu {
        Cpu {
            server: server.process.cpu_time(),
            bench: own_cpu_time(),
        }
    }

    fn since(&self, server: &BenchServer) -> Cpu {
        let now = Cpu::now(server);
        Cpu {
            server: now.server.saturating_sub(self.server),
            bench: now.bench.saturating_sub(self.bench),
        }
    }
}

/// One measured run of one direction on one engine.
struct Row {
    engine: &'static str,
    what: &'static str,
    messages: u64,
    /// First message sent to the last one arriving at its end.
    elapsed: Duration,
    /// Messages whose API request (sends) or injection (inbound) finished.
    accepted: Duration,
    cpu: Cpu,
    load: String,
}

impl Row {
    fn print(&self) {
        let n = self.messages as f64;
        println!(
            "{:<5} {:<9} {:>6} msgs  {:>8.0}/s end to end  {:>8.0}/s accepted  server CPU {:>6.1} µs/msg  \
             bench CPU {:>6.1} µs/msg  (load {})",
            self.engine,
            self.what,
            self.messages,
            n / self.elapsed.as_secs_f64(),
            n / self.accepted.as_secs_f64(),
            self.cpu.server.as_secs_f64() * 1e6 / n,
            self.cpu.bench.as_secs_f64() * 1e6 / n,
            self.load,
        );
    }
}

/// Sends the inbound messages `seqs` to the instance: on the real engine from
/// `contacts` simulated contacts at once (each one's messages in order, as
/// one Signal session must), on the sim engine through `clients` concurrent
/// `/sim/` requests. Returns when every message is handed over.
async fn inject(
    engine: BenchEngine,
    simulator: &Simulator,
    http: &reqwest::Client,
    base: &str,
    seqs: std::ops::Range<u64>,
    options: &Options,
) {
    let next = Arc::new(AtomicU64::new(seqs.start));
    let mut tasks = Vec::new();
    let workers = match engine {
        BenchEngine::Real => options.contacts as usize,
        BenchEngine::Sim => options.clients,
    };
    for worker in 0..workers {
        let (next, end) = (next.clone(), seqs.end);
        let (http, base) = (http.clone(), base.to_owned());
        let contact = simulator.contact(&contact_phone(worker as u64 % options.contacts));
        tasks.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= end {
                    break;
                }
                let text = format!("{MARK}{seq}");
                match engine {
                    BenchEngine::Real => {
                        contact
                            .send_text(INSTANCE_PHONE, &text)
                            .await
                            .unwrap_or_else(|e| panic!("contact send: {e}"));
                    }
                    BenchEngine::Sim => {
                        call(
                            http.post(format!("{base}/sim/instances/{INSTANCE}/incoming"))
                                .bearer_auth(TOKEN)
                                .json(&json!({ "from": contact.number(), "push_name": "Bench", "text": text })),
                        )
                        .await;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Inbound: `seqs` injected, measured until every one reached the webhook.
async fn inbound(
    engine: BenchEngine,
    simulator: &Simulator,
    server: &BenchServer,
    http: &reqwest::Client,
    receiver: &Receiver,
    seqs: std::ops::Range<u64>,
    options: &Options,
) -> Row {
    let cpu = Cpu::now(server);
    let started = Instant::now();
    inject(engine, simulator, http, &server.base, seqs.clone(), options).await;
    let accepted = started.elapsed();
    let receipts = receiver.collect(seqs.clone(), STALL).await;
    let mut seen: Vec<u64> = receipts.iter().filter_map(|r| r.seq).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen.len() as u64,
        seqs.end - seqs.start,
        "every inbound message reached the webhook"
    );
    let last = receipts.iter().map(|r| r.at).max().expect("receipts");
    Row {
        engine: engine_name(engine),
        what: "inbound",
        messages: seqs.end - seqs.start,
        elapsed: last - started,
        accepted,
        cpu: cpu.since(server),
        load: load_average(),
    }
}

/// Sends (`what` names the row): `seqs` sent through `POST /api/send/{id}` by `clients` concurrent
/// clients, round robin over the contacts; on the real engine measured until
/// the contacts decrypted every one.
async fn sends(
    engine: BenchEngine,
    simulator: &Simulator,
    server: &BenchServer,
    http: &reqwest::Client,
    seqs: std::ops::Range<u64>,
    what: &'static str,
    options: &Options,
) -> Row {
    let received_before = received_total(simulator, options);
    let cpu = Cpu::now(server);
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(seqs.start));
    let mut tasks = Vec::new();
    for _ in 0..options.clients {
        let (next, end, contacts) = (next.clone(), seqs.end, options.contacts);
        let (http, base) = (http.clone(), server.base.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= end {
                    break;
                }
                call(
                    http.post(format!("{base}/api/send/{INSTANCE}"))
                        .bearer_auth(TOKEN)
                        .json(&json!({ "to": contact_phone(seq % contacts), "message": format!("{MARK}{seq}") })),
                )
                .await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let accepted = started.elapsed();
    let count = seqs.end - seqs.start;
    if engine == BenchEngine::Real {
        let want = received_before + count as usize;
        let mut last_progress = (Instant::now(), received_total(simulator, options));
        while last_progress.1 < want {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let now = received_total(simulator, options);
            if now > last_progress.1 {
                last_progress = (Instant::now(), now);
            }
            assert!(
                last_progress.0.elapsed() < STALL,
                "the contacts decrypted {} of {want} messages",
                last_progress.1
            );
        }
    }
    Row {
        engine: engine_name(engine),
        what,
        messages: count,
        elapsed: started.elapsed(),
        accepted,
        cpu: cpu.since(server),
        load: load_average(),
    }
}

fn received_total(simulator: &Simulator, options: &Options) -> usize {
    (0..options.contacts)
        .map(|k| simulator.contact(&contact_phone(k)).received().len())
        .sum()
}

fn engine_name(engine: BenchEngine) -> &'static str {
    match engine {
        BenchEngine::Real => "real",
        BenchEngine::Sim => "sim",
    }
}

/// One engine: a fresh server, the instance paired, a warm-up, then inbound
/// and sends measured.
async fn run(engine: BenchEngine, simulator: &Simulator, options: &Options) -> Vec<Row> {
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let server = BenchServer::start(dir.path(), engine, &simulator.ws_url(), "warn");
    wait_healthy(&http, &server.base).await;
    match engine {
        BenchEngine::Real => {
            pair_by_qr(&http, &server.base, simulator, INSTANCE, INSTANCE_PHONE).await;
            wait_online(&http, &server.base, 1, Instant::now()).await;
        }
        BenchEngine::Sim => {
            pair_instance(&http, &server.base, TOKEN, INSTANCE, INSTANCE_PHONE).await;
        }
    }
    let receiver = Receiver::start(MARK).await;
    call(
        http.post(format!("{}/api/instances/{INSTANCE}/webhook-setconfig", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({ "url": receiver.url })),
    )
    .await;
    // Warm-up: Signal sessions both ways, connections, caches, plugin instances.
    let warm = 0..(options.contacts * 25);
    inbound(engine, simulator, &server, &http, &receiver, warm.clone(), options).await;
    sends(engine, simulator, &server, &http, warm.clone(), "warm-up", options).await;
    server.process.settle(Duration::from_secs(60)).await;

    let first = warm.end;
    let inbound_row = inbound(
        engine,
        simulator,
        &server,
        &http,
        &receiver,
        first..first + options.messages,
        options,
    )
    .await;
    server.process.settle(Duration::from_secs(60)).await;
    let sends_row = sends(
        engine,
        simulator,
        &server,
        &http,
        first..first + options.messages,
        "sends",
        options,
    )
    .await;
    let mut rows = vec![inbound_row, sends_row];
    if engine == BenchEngine::Real {
        // The same sends without the contacts' delivery receipts (which the
        // sim engine does not produce): the send path alone.
        server.process.settle(Duration::from_secs(60)).await;
        simulator.auto_delivery_receipts(false);
        let next = first + options.messages;
        rows.push(
            sends(
                engine,
                simulator,
                &server,
                &http,
                next..next + options.messages,
                "sends-nr",
                options,
            )
            .await,
        );
        simulator.auto_delivery_receipts(true);
    }
    server.stop();
    rows
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let version = require_test_build();
    let simulator = Simulator::start().await.expect("the simulator starts");
    println!("{version}");
    let mut rows = run(BenchEngine::Real, &simulator, &options).await;
    rows.extend(run(BenchEngine::Sim, &simulator, &options).await);
    assert_eq!(
        simulator.unhandled(),
        Vec::<String>::new(),
        "stanzas the simulator did not handle"
    );
    for row in &rows {
        row.print();
    }
}
