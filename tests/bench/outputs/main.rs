//! Benchmark: the two outputs of events, webhooks and WebSocket listeners
//! (issue targets: at least 5,000 durable webhook deliveries per second to a
//! loopback receiver on SQLite and on PostgreSQL, event-to-receipt p99 at most
//! 20 ms at 1,000 events per second, and one event fanned out to 1,000
//! WebSocket listeners reaching the last one within 50 ms).
//!
//! The release `wasap` binary runs as its own process (`serve --engine sim`,
//! a fresh data directory, and for PostgreSQL a fresh database), with
//! `WASAP_ALLOW_PRIVATE_URLS=true` so that it may deliver to loopback. The
//! bench pairs one instance over HTTP and points the instance's primary
//! webhook at a hyper server inside this process, which answers 200 and
//! records when each delivery arrived and its `X-Wasap-Event-Id`. Events are
//! simulated incoming messages (`POST /sim/instances/{id}/incoming`), each
//! with a sequence number in its text, so a delivery is matched to the
//! request that caused it; both clocks are this process's `Instant`.
//!
//! - Webhook burst: concurrent clients inject a burst as fast as the server
//!   takes it. Measured: deliveries per second from the first receipt to the
//!   last, and from the first request to the last receipt; every event must
//!   arrive (distinct sequence numbers and event ids).
//! - Webhook drain: the receiver holds its answers while a burst is injected,
//!   so the deliveries pile up in the outbox; then it lets them through.
//!   Measured: the outbox drained per second, the delivery worker alone.
//! - Latency: injection paced at a fixed rate (1,000 events/s); per event,
//!   receipt time minus the time its request was sent; p50/p99/max.
//! - Fan-out: many `/api/listen/{id}` listeners (token in the query), then
//!   one incoming message; the time from sending its request to the last
//!   listener holding the frame. Repeated; median and max.
//!
//! ```sh
//! cargo build --release --workspace --bins --locked && ulimit -n 8192 && \
//!     cargo run --release -p wasap-tests --bin bench-outputs -- [--database-url postgres://...] [--burst 20000] [--runs 2]
//! ```
//!
//! Method and results: BENCHMARKS.md.

mod bursts;
mod fanout;
mod latency;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use wasap_tests::bench_client::{
    Process, call, free_port, fresh_postgres, load_average, pair_instance, sibling_binary, wait_healthy,
};

use bursts::{burst, drain_burst, live_burst, report_burst};
use fanout::{fan_out_round, open_listeners};
use latency::latency;
use wasap_tests::bench_receiver::Receiver;

const ADMIN_TOKEN: &str = "bench-admin-token";
const INSTANCE: &str = "bench-outputs";
const SENDER_PHONE: &str = "6281100000002";
const CONTACT: &str = "6281234567890";
/// The text of event number N is `MARK` followed by N: the receiver finds it
/// in the delivery's body, whatever the body's format.
const MARK: &str = "b7seq-";
/// The text of fan-out round N.
const FAN_MARK: &str = "b7fan-";

const USAGE: &str = "\
usage: bench-outputs [--database-url URL] [--skip-sqlite] [--burst N] [--clients N] [--rate N] [--seconds N]
                     [--listeners N] [--rounds N] [--runs N]

  --database-url  a PostgreSQL server to measure on too (default: $WASAP_BENCH_DATABASE_URL);
                  each run creates and drops a database of its own there
  --skip-sqlite   PostgreSQL only
  --burst         events per webhook burst (default 20000)
  --clients       concurrent injecting HTTP clients in the bursts (default 32)
  --rate          paced events per second of the latency run (default 1000)
  --seconds       length of the latency run (default 10)
  --listeners     WebSocket listeners of the fan-out (default 1000)
  --rounds        measured fan-out events (default 10)
  --runs          runs of everything per database (default 1)";

#[derive(Debug, Clone)]
struct Options {
    database_url: Option<String>,
    sqlite: bool,
    burst: u64,
    clients: usize,
    rate: u64,
    seconds: u64,
    listeners: usize,
    rounds: usize,
    runs: usize,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            database_url: std::env::var("WASAP_BENCH_DATABASE_URL").ok().filter(|u| !u.is_empty()),
            sqlite: true,
            burst: 20_000,
            clients: 32,
            rate: 1000,
            seconds: 10,
            listeners: 1000,
            rounds: 10,
            runs: 1,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                "--skip-sqlite" => {
                    options.sqlite = false;
                    continue;
                }
                _ => {}
            }
            let value = args.next().unwrap_or_else(|| fail(&format!("{flag} needs a value")));
            let number = || -> u64 {
                value
                    .parse()
                    .unwrap_or_else(|_| fail(&format!("{flag}: not a number: {value}")))
            };
            match flag.as_str() {
                "--database-url" => options.database_url = Some(value.clone()),
                "--burst" => options.burst = number().max(1),
                "--clients" => options.clients = number().max(1) as usize,
                "--rate" => options.rate = number().max(1),
                "--seconds" => options.seconds = number().max(1),
                "--listeners" => options.listeners = number().max(1) as usize,
                "--rounds" => options.rounds = number().max(1) as usize,
                "--runs" => options.runs = number().max(1) as usize,
                _ => fail(&format!("unknown option {flag}")),
            }
        }
        if !options.sqlite && options.database_url.is_none() {
            fail("--skip-sqlite leaves nothing to measure without --database-url");
        }
        options
    }
}

fn fail(message: &str) -> ! {
    eprintln!("bench-outputs: {message}\n\n{USAGE}");
    std::process::exit(2);
}

fn start_wasap(data_dir: &Path, database_url: Option<&str>) -> (Process, String) {
    let port = free_port();
    let mut command = Command::new(sibling_binary("wasap"));
    command
        .args(["serve", "--engine", "sim"])
        .env("WASAP_LISTEN", format!("127.0.0.1:{port}"))
        .env("WASAP_DATA_DIR", data_dir)
        .env("WASAP_API_TOKEN", ADMIN_TOKEN)
        // One client firing as fast as it can is what a benchmark is; the API rate limit is off.
        .env("WASAP_API_RATE", "0")
        // The receiver is on loopback, which the outbound policy refuses by default.
        .env("WASAP_ALLOW_PRIVATE_URLS", "true")
        // The drain run holds the first deliveries while the burst is injected:
        // they must not time out and go to the retry schedule meanwhile.
        .env("WASAP_WEBHOOK_TIMEOUT_MS", "300000")
        .env_remove("WASAP_LOG") // the default level, as an operator runs it
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    (
        Process(command.spawn().expect("start the wasap binary")),
        format!("127.0.0.1:{port}"),
    )
}

/// One incoming text message from the contact; whether the server took it.
async fn incoming(http: &reqwest::Client, base: &str, text: String) -> bool {
    let request = http
        .post(format!("{base}/sim/instances/{INSTANCE}/incoming"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "from": CONTACT, "push_name": "Bench", "text": text }));
    match request.send().await {
        Ok(response) => response.status().is_success(),
        Err(_) => false,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let receiver = Receiver::start(MARK).await;
    let mut databases: Vec<&str> = Vec::new();
    if options.sqlite {
        databases.push("SQLite");
    }
    if options.database_url.is_some() {
        databases.push("PostgreSQL");
    }
    let mut burst_rows = Vec::new();
    let mut latency_rows = Vec::new();
    let mut fan_rows = Vec::new();
    for run in 1..=options.runs {
        for &database in &databases {
            let dir = tempfile::tempdir().unwrap();
            let postgres = match database {
                "PostgreSQL" => Some(fresh_postgres(options.database_url.as_deref().unwrap(), "outputs", run).await),
                _ => None,
            };
            let (server, addr) = start_wasap(
                &dir.path().join("data"),
                postgres.as_ref().map(|(url, _, _)| url.as_str()),
            );
            let base = format!("http://{addr}");
            wait_healthy(&http, &base).await;
            let token = pair_instance(&http, &base, ADMIN_TOKEN, INSTANCE, SENDER_PHONE).await;
            call(
                http.post(format!("{base}/api/instances/{INSTANCE}/webhook-setconfig"))
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&json!({ "url": receiver.url })),
            )
            .await;
            let mut seq = 0u64;
            let mut next = |n: u64| {
                let range = seq..seq + n;
                seq += n;
                range
            };
            // Warm-up: connections, caches, the plugin instances.
            let warm = next(500);
            burst(&http, &base, warm.clone(), options.clients).await;
            receiver.collect(warm, Duration::from_secs(30)).await;
            server.settle(Duration::from_secs(30)).await;

            println!(
                "{database} run {run}, load average before the burst: {}",
                load_average()
            );
            let seqs = next(options.burst);
            let live = live_burst(&server, &http, &base, &receiver, seqs.clone(), options.clients).await;
            burst_rows.push((format!("{database} ({})", load_average()), "burst", run, seqs, live));
            server.settle(Duration::from_secs(60)).await;

            println!(
                "{database} run {run}, load average before the drain: {}",
                load_average()
            );
            let seqs = next(options.burst);
            let drain = drain_burst(&server, &http, &base, &receiver, seqs.clone(), options.clients).await;
            burst_rows.push((format!("{database} ({})", load_average()), "drain", run, seqs, drain));
            server.settle(Duration::from_secs(60)).await;

            println!(
                "{database} run {run}, load average before the paced run: {}",
                load_average()
            );
            let count = options.rate * options.seconds;
            let (latencies, lost, achieved) = latency(
                &http,
                &base,
                &receiver,
                next(count).start,
                options.rate,
                options.seconds,
            )
            .await;
            latency_rows.push((
                format!("{database} ({})", load_average()),
                run,
                latencies,
                lost,
                achieved,
            ));
            server.settle(Duration::from_secs(30)).await;

            println!(
                "{database} run {run}, load average before the fan-out: {}",
                load_average()
            );
            let (mut frames, listeners) = open_listeners(&addr, &token, options.listeners).await;
            // The first round is unmeasured: the first frame of each connection.
            fan_out_round(&http, &base, &mut frames, 0, options.listeners).await;
            let mut rounds = Vec::new();
            for round in 1..=options.rounds as u64 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if let Some(times) = fan_out_round(&http, &base, &mut frames, round, options.listeners).await {
                    rounds.push(times);
                }
            }
            fan_rows.push((format!("{database} ({})", load_average()), run, rounds));
            for listener in listeners {
                listener.abort();
            }
            drop(server);
            if let Some((_, admin, name)) = postgres {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await;
            }
            receiver.take();
        }
    }

    println!(
        "\nWebhook bursts ({} events, {} injecting clients; drain: the outbox filled first):\n",
        options.burst, options.clients
    );
    println!(
        "| database (load after) | run kind | run | events | injected/s | injection time | deliveries/s first→last receipt | deliveries/s first request→last receipt | lost | duplicates | ids distinct | server CPU/event |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (database, kind, run, seqs, burst) in &burst_rows {
        report_burst(database, kind, *run, seqs.clone(), burst);
    }
    println!(
        "\nEvent-to-receipt latency, paced at {} events/s for {} s:\n",
        options.rate, options.seconds
    );
    println!("| database (load after) | run | achieved rate | lost | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|");
    for (database, run, latencies, lost, achieved) in &latency_rows {
        println!(
            "| {database} | {run} | {achieved:.0}/s | {lost} | {} | {} | {} | {} |",
            ms(percentile(latencies, 50.0)),
            ms(percentile(latencies, 90.0)),
            ms(percentile(latencies, 99.0)),
            ms(percentile(latencies, 100.0)),
        );
    }
    println!(
        "\nFan-out to {} listeners, {} rounds (request sent → frame held):\n",
        options.listeners, options.rounds
    );
    println!(
        "| database (load after) | run | complete rounds | last listener, median | last listener, max | first listener, median | median listener, median |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (database, run, rounds) in &fan_rows {
        let median = |pick: fn(&(Duration, Duration, Duration)) -> Duration| {
            let mut values: Vec<Duration> = rounds.iter().map(pick).collect();
            values.sort();
            values.get(values.len() / 2).copied().unwrap_or_default()
        };
        let max_last = rounds.iter().map(|r| r.2).max().unwrap_or_default();
        println!(
            "| {database} | {run} | {} | {} | {} | {} | {} |",
            rounds.len(),
            ms(median(|r| r.2)),
            ms(max_last),
            ms(median(|r| r.0)),
            ms(median(|r| r.1)),
        );
    }
}
