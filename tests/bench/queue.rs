//! Benchmark: the durable send queue (issue 21), on SQLite and, with
//! `--database-url`, on PostgreSQL. Two measurements per database, each on a
//! release `wasap` of its own (`serve --engine sim`, a fresh data directory,
//! a fresh PostgreSQL database):
//!
//! 1. **Intake and drain, pacing off.** `--clients` concurrent clients POST
//!    `/api/send/{id}` with `"queue": true` as fast as they can for
//!    `--seconds`; every 202 is a job committed to the database (the queue
//!    answers after the commit). Reported: the accepted rate and latency, then
//!    the rate at which the scheduler gets the jobs `sent` on the simulated
//!    network (`wasap_send_queue_sent_total` in `/metrics`), from the first
//!    request until the last job is sent. Every answer must be a 202, and
//!    every accepted job must be sent.
//! 2. **Idle with scheduled jobs.** `--scheduled` jobs with `send_at` a day
//!    ahead, spread over `--instances` instances; once the server is quiet,
//!    its CPU time (`/proc/<pid>/stat`) over `--idle-secs`: the schedulers
//!    sleep until their first due job instead of polling the queue, so it
//!    must stay near zero. Then the server is restarted on the same data and
//!    measured again (the schedulers start from the stored jobs).
//!
//! ```sh
//! cargo build --release -p wasap -p wasap-tests && \
//!     cargo run --release -p wasap-tests --bin bench-queue -- [--database-url postgres://...] [--clients 64] [--seconds 10]
//! ```
//!
//! Method and results: BENCHMARKS.md, "Send queue".

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use wasap_tests::bench_client::{
    Process, free_port, fresh_postgres, load_average, pair_instance, sibling_binary, wait_healthy,
};

const ADMIN_TOKEN: &str = "bench-admin-token";
const INSTANCE: &str = "bench-queue";
const RECIPIENT: &str = "6289876543210";
/// How long the scheduler may take to send what was accepted.
const DRAIN_LIMIT: Duration = Duration::from_secs(900);

const USAGE: &str = "\
usage: bench-queue [--database-url URL] [--skip-sqlite] [--clients N] [--seconds N] [--scheduled N] [--instances N] [--idle-secs N]

  --database-url  a PostgreSQL server to measure on too (default: $WASAP_BENCH_DATABASE_URL);
                  each measurement creates and drops a database of its own there
  --skip-sqlite   measure PostgreSQL only
  --clients       concurrent HTTP clients of the intake run (default 64)
  --seconds       seconds of the intake run (default 10)
  --scheduled     jobs scheduled a day ahead for the idle run (default 100000)
  --instances     instances they are spread over (default 4)
  --idle-secs     seconds the idle server's CPU is measured, before and after a restart (default 60)";

#[derive(Debug, Clone)]
struct Options {
    database_url: Option<String>,
    sqlite: bool,
    clients: usize,
    seconds: u64,
    scheduled: u64,
    instances: usize,
    idle_secs: u64,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            database_url: std::env::var("WASAP_BENCH_DATABASE_URL").ok().filter(|u| !u.is_empty()),
            sqlite: true,
            clients: 64,
            seconds: 10,
            scheduled: 100_000,
            instances: 4,
            idle_secs: 60,
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
                "--clients" => options.clients = number().clamp(1, 4096) as usize,
                "--seconds" => options.seconds = number().max(1),
                "--scheduled" => options.scheduled = number(),
                "--instances" => options.instances = number().clamp(1, 1000) as usize,
                "--idle-secs" => options.idle_secs = number().max(1),
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
    eprintln!("bench-queue: {message}\n\n{USAGE}");
    std::process::exit(2);
}

fn start_wasap(data_dir: &Path, database_url: Option<&str>, port: u16) -> Process {
    let mut command = Command::new(sibling_binary("wasap"));
    command
        .args(["serve", "--engine", "sim"])
        .env("WASAP_LISTEN", format!("127.0.0.1:{port}"))
        .env("WASAP_DATA_DIR", data_dir)
        .env("WASAP_API_TOKEN", ADMIN_TOKEN)
        // Clients firing as fast as they can is what a benchmark is; the API rate limit is off.
        .env("WASAP_API_RATE", "0")
        // The intake run may get ahead of the scheduler by more than the default 100,000 jobs.
        .env("WASAP_QUEUE_MAX_WAITING", "10000000")
        .env_remove("WASAP_LOG") // the default level, as an operator runs it
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    Process(command.spawn().expect("start the wasap binary"))
}

/// A series of `/metrics`, summed over its instances.
async fn metric(http: &reqwest::Client, base: &str, name: &str) -> u64 {
    let response = http
        .get(format!("{base}/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("GET /metrics");
    let text = response.text().await.expect("the metrics");
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// What the clients of one run saw.
#[derive(Default)]
struct Intake {
    accepted: u64,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

/// `clients` clients queue texts for `instance` (round-robin over `instances`
/// when scheduling) until `until` says stop; every answer must be a 202.
async fn intake(
    http: &reqwest::Client,
    base: &str,
    instances: &[(String, String)],
    clients: usize,
    send_at: Option<String>,
    stop: impl Fn(u64, Duration) -> bool + Send + Sync + 'static,
) -> Intake {
    let started = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(stop);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, base, instances) = (http.clone(), base.to_owned(), instances.to_vec());
        let (issued, stop, send_at) = (issued.clone(), stop.clone(), send_at.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if stop(n, started.elapsed()) {
                    return latencies;
                }
                let (instance, token) = &instances[(n as usize + client) % instances.len()];
                let mut body = json!({ "to": RECIPIENT, "message": format!("queued {n}"), "queue": true });
                if let Some(at) = &send_at {
                    body["send_at"] = json!(at);
                }
                let sent = Instant::now();
                let response = http
                    .post(format!("{base}/api/send/{instance}"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("POST /api/send");
                let status = response.status();
                let answer = response.text().await.unwrap_or_default();
                assert_eq!(status.as_u16(), 202, "a queued send was not accepted: {answer}");
                latencies.push(sent.elapsed());
            }
        }));
    }
    let mut result = Intake::default();
    for task in tasks {
        result.latencies.extend(task.await.expect("a client"));
    }
    result.elapsed = started.elapsed();
    result.accepted = result.latencies.len() as u64;
    result.latencies.sort();
    result
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

/// A running server and what it runs on.
struct Server {
    process: Process,
    base: String,
}

impl Server {
    async fn start(data_dir: &Path, database_url: Option<&str>, http: &reqwest::Client) -> Server {
        let port = free_port();
        let process = start_wasap(data_dir, database_url, port);
        let base = format!("http://127.0.0.1:{port}");
        wait_healthy(http, &base).await;
        Server { process, base }
    }

    /// The server killed and started again on the same data.
    async fn restart(self, data_dir: &Path, database_url: Option<&str>, http: &reqwest::Client) -> Server {
        drop(self.process);
        Server::start(data_dir, database_url, http).await
    }
}

/// Intake then drain with pacing off; one result row.
async fn throughput(http: &reqwest::Client, database: &str, url: Option<&str>, options: &Options) -> String {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), url, http).await;
    let token = pair_instance(http, &server.base, ADMIN_TOKEN, INSTANCE, "6281100000001").await;
    let instances = vec![(INSTANCE.to_owned(), token)];
    // Warm-up: the connections, the recipient, the scheduler's lane.
    let warm_up = intake(http, &server.base, &instances, options.clients, None, |n, _| n >= 500).await;
    // Until every warm-up job is sent, not only out of `queued`: a run of
    // jobs is `sending` together, and those would count as the run's.
    while metric(http, &server.base, "wasap_send_queue_sent_total").await < warm_up.accepted {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent_before = metric(http, &server.base, "wasap_send_queue_sent_total").await;
    let cpu_before = server.process.cpu_time();
    let seconds = Duration::from_secs(options.seconds);
    let started = Instant::now();
    let run = intake(http, &server.base, &instances, options.clients, None, move |_, t| {
        t >= seconds
    })
    .await;
    let sent_in_intake = metric(http, &server.base, "wasap_send_queue_sent_total").await - sent_before;
    let load_in_intake = load_average();
    loop {
        let sent = metric(http, &server.base, "wasap_send_queue_sent_total").await - sent_before;
        if sent >= run.accepted {
            assert_eq!(sent, run.accepted, "more sent than accepted");
            break;
        }
        assert!(started.elapsed() < DRAIN_LIMIT, "only {sent} of {} sent", run.accepted);
        // Not more often: each look counts the waiting jobs in the database.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let drained = started.elapsed();
    let cpu = server.process.cpu_time() - cpu_before;
    let accept_rate = run.accepted as f64 / run.elapsed.as_secs_f64();
    let send_rate = run.accepted as f64 / drained.as_secs_f64();
    println!(
        "{database}: {} accepted in {:.1} s = {accept_rate:.0}/s (p50 {}, p99 {}); {sent_in_intake} sent meanwhile; \
         all sent after {:.1} s = {send_rate:.0}/s; server CPU {:.1} s; load {load_in_intake}",
        run.accepted,
        run.elapsed.as_secs_f64(),
        ms(percentile(&run.latencies, 50.0)),
        ms(percentile(&run.latencies, 99.0)),
        drained.as_secs_f64(),
        cpu.as_secs_f64(),
    );
    format!(
        "| {database} | {} | {} | {accept_rate:.0} | {} | {} | {:.0} | {send_rate:.0} | {:.1} | {load_in_intake} |",
        options.clients,
        run.accepted,
        ms(percentile(&run.latencies, 50.0)),
        ms(percentile(&run.latencies, 99.0)),
        sent_in_intake as f64 / run.elapsed.as_secs_f64(),
        cpu.as_secs_f64() / drained.as_secs_f64() * 100.0,
    )
}

/// CPU of the server over `seconds` once it has settled: (ms, % of a core).
async fn idle_cpu(server: &Server, seconds: u64) -> (u128, f64) {
    server.process.settle(Duration::from_secs(60)).await;
    let before = server.process.cpu_time();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let used = server.process.cpu_time() - before;
    (used.as_millis(), used.as_secs_f64() / seconds as f64 * 100.0)
}

/// Scheduled jobs a day ahead, then the idle server's CPU; one result row.
async fn idle(http: &reqwest::Client, database: &str, url: Option<&str>, options: &Options) -> String {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), url, http).await;
    let mut instances = Vec::new();
    for n in 0..options.instances {
        let id = format!("{INSTANCE}-{n}");
        let token = pair_instance(http, &server.base, ADMIN_TOKEN, &id, &format!("62811000001{n:02}")).await;
        instances.push((id, token));
    }
    let send_at = wasap::clock::rfc3339_ms(wasap::clock::now_ms() + 24 * 3600 * 1000);
    let total = options.scheduled;
    let scheduled = intake(
        http,
        &server.base,
        &instances,
        options.clients,
        Some(send_at),
        move |n, _| n >= total,
    )
    .await;
    assert_eq!(scheduled.accepted, total);
    let (cpu_ms, cpu_pct) = idle_cpu(&server, options.idle_secs).await;
    let load = load_average();
    let waiting = metric(http, &server.base, "wasap_send_queue_waiting").await;
    assert_eq!(waiting, total, "every scheduled job still waits");
    let server = server.restart(dir.path(), url, http).await;
    let (restart_ms, restart_pct) = idle_cpu(&server, options.idle_secs).await;
    let waiting = metric(http, &server.base, "wasap_send_queue_waiting").await;
    assert_eq!(waiting, total, "every scheduled job still waits after the restart");
    assert_eq!(metric(http, &server.base, "wasap_send_queue_sent_total").await, 0);
    println!(
        "{database}: {total} jobs scheduled over {} instances at {:.0}/s; idle {} s: {cpu_ms} ms CPU ({cpu_pct:.2} %), \
         after a restart {restart_ms} ms ({restart_pct:.2} %); load {load}",
        options.instances,
        total as f64 / scheduled.elapsed.as_secs_f64(),
        options.idle_secs,
    );
    format!(
        "| {database} | {total} | {} | {:.0} | {} | {cpu_ms} ms ({cpu_pct:.2} %) | {restart_ms} ms ({restart_pct:.2} %) | {load} |",
        options.instances,
        total as f64 / scheduled.elapsed.as_secs_f64(),
        options.idle_secs,
    )
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.clients.max(64))
        .build()
        .unwrap();
    let mut databases: Vec<&str> = Vec::new();
    if options.sqlite {
        databases.push("SQLite");
    }
    if options.database_url.is_some() {
        databases.push("PostgreSQL");
    }
    let mut intake_rows = Vec::new();
    let mut idle_rows = Vec::new();
    for (step, &database) in databases.iter().enumerate() {
        for (part, rows) in [("intake", &mut intake_rows), ("idle", &mut idle_rows)] {
            let postgres = match database {
                "PostgreSQL" => Some(fresh_postgres(options.database_url.as_deref().unwrap(), "queue", step).await),
                _ => None,
            };
            let url = postgres.as_ref().map(|(url, _, _)| url.as_str());
            let row = match part {
                "intake" => throughput(&http, database, url, &options).await,
                _ => idle(&http, database, url, &options).await,
            };
            rows.push(row);
            if let Some((_, admin, name)) = postgres {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await;
            }
        }
    }
    println!();
    println!(
        "| database | clients | accepted | accepted/s | p50 | p99 | sent/s during intake | sent/s until all sent | server CPU % | load (1/5/15 min) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in intake_rows {
        println!("{row}");
    }
    println!();
    println!(
        "| database | scheduled jobs | instances | scheduled/s | idle seconds | server CPU idle | after a restart | load (1/5/15 min) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in idle_rows {
        println!("{row}");
    }
}
