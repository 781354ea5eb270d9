//! Benchmark: sending text on the `sim` engine (issue targets: at least
//! 20,000 requests per second, p99 at most 5 ms, and within 3x of a bare hyper
//! "hello" server measured in the same run, the loopback ceiling).
//!
//! The release `wasap` binary runs as its own process (`serve --engine sim`,
//! a fresh temporary data directory); the bench pairs one instance over the
//! HTTP API, warms the recipient cache, then points `wrk` (a second process)
//! at `POST /api/send/{id}`, and with exactly the same wrk settings, request
//! and body at the bare hyper server of `bench-hello` (a third process).
//! Runs alternate between the two, so both see the same machine load. Every
//! run is checked: wrk saw no error and no non-2xx answer, and the simulated
//! network really received the run's messages.
//!
//! ```sh
//! cargo build --release -p wasap -p wasap-tests && \
//!     cargo run --release -p wasap-tests --bin bench-send -- [-t 1] [-c 16] [-d 10] [--runs 3]
//! ```
//!
//! Needs `wrk` on the PATH (Debian: `apt-get install wrk`). Method and
//! results: BENCHMARKS.md.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;
use wasap_tests::bench_client::{Process, call, free_port, load_average, pair_instance, sibling_binary, wait_healthy};

const ADMIN_TOKEN: &str = "bench-admin-token";
const INSTANCE: &str = "bench-send";
const SENDER_PHONE: &str = "6281100000001";
const RECIPIENT: &str = "6289876543210";
/// What the simulated network keeps per instance (`SENT_LOG_CAPACITY`).
const SENT_LOG_CAPACITY: u64 = 10_000;

const USAGE: &str = "\
usage: bench-send [-t THREADS] [-c CONNECTIONS] [-d SECONDS] [--runs N] [--warmup SECONDS] [--token instance|admin]

  -t, --threads      wrk threads (default 1)
  -c, --connections  wrk connections, kept open (default 16)
  -d, --duration     seconds per measured wrk run (default 10)
      --runs         measured runs of each server, alternating (default 3)
      --warmup       seconds of unmeasured load on each server first (default 2)
      --token        which token the sends carry: the instance's own (default) or the admin token";

#[derive(Debug, Clone)]
struct Options {
    threads: u32,
    connections: u32,
    duration: u32,
    runs: u32,
    warmup: u32,
    admin_token: bool,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            threads: 1,
            connections: 16,
            duration: 10,
            runs: 3,
            warmup: 2,
            admin_token: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = args.next().unwrap_or_else(|| fail(&format!("{flag} needs a value")));
            let number = || -> u32 {
                value
                    .trim_end_matches('s')
                    .parse()
                    .unwrap_or_else(|_| fail(&format!("{flag}: not a number: {value}")))
            };
            match flag.as_str() {
                "-t" | "--threads" => options.threads = number().max(1),
                "-c" | "--connections" => options.connections = number().max(1),
                "-d" | "--duration" => options.duration = number().max(1),
                "--runs" => options.runs = number().max(1),
                "--warmup" => options.warmup = number(),
                "--token" => {
                    options.admin_token = match value.as_str() {
                        "admin" => true,
                        "instance" => false,
                        _ => fail("--token is instance or admin"),
                    }
                }
                _ => fail(&format!("unknown option {flag}")),
            }
        }
        if options.connections < options.threads {
            fail("wrk needs at least one connection per thread");
        }
        options
    }

    fn wrk_settings(&self) -> String {
        format!(
            "wrk -t{} -c{} -d{}s --latency",
            self.threads, self.connections, self.duration
        )
    }
}

fn fail(message: &str) -> ! {
    eprintln!("bench-send: {message}\n\n{USAGE}");
    std::process::exit(2);
}

fn start_wasap(data_dir: &Path) -> (Process, String) {
    let port = free_port();
    let child = Command::new(sibling_binary("wasap"))
        .args(["serve", "--engine", "sim"])
        .env("WASAP_LISTEN", format!("127.0.0.1:{port}"))
        .env("WASAP_DATA_DIR", data_dir)
        .env("WASAP_API_TOKEN", ADMIN_TOKEN)
        // One client firing as fast as it can is what a benchmark is; the API rate limit is off.
        .env("WASAP_API_RATE", "0")
        .env_remove("WASAP_LOG") // the default level, as an operator runs it
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the wasap binary");
    (Process(child), format!("http://127.0.0.1:{port}"))
}

fn start_hello() -> (Process, String) {
    let mut child = Command::new(sibling_binary("bench-hello"))
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start bench-hello");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read bench-hello's address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("bench-hello prints its address")
        .to_owned();
    (Process(child), format!("http://{addr}"))
}

/// Messages of the simulated network's record that carry `text`.
async fn sent_with_text(http: &reqwest::Client, base: &str, text: &str) -> u64 {
    let sent = call(
        http.get(format!("{base}/sim/instances/{INSTANCE}/sent"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    sent["messages"]
        .as_array()
        .expect("sent messages")
        .iter()
        .filter(|m| m["text"] == text)
        .count() as u64
}

/// The wrk script: one POST with a JSON text body, sent on every request.
fn write_script(dir: &Path, name: &str, token: &str, text: &str) -> PathBuf {
    let body = json!({ "to": RECIPIENT, "message": text }).to_string();
    let script = format!(
        "wrk.method = \"POST\"\n\
         wrk.body = [[{body}]]\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
    );
    let path = dir.join(name);
    std::fs::write(&path, script).expect("write the wrk script");
    path
}

/// What one wrk run reported.
#[derive(Debug, Clone, Default)]
struct WrkResult {
    requests: u64,
    rps: f64,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    max_us: f64,
    non_2xx: u64,
    socket_errors: u64,
}

fn run_wrk(options: &Options, seconds: u32, url: &str, script: &Path) -> WrkResult {
    let output = Command::new("wrk")
        .arg(format!("-t{}", options.threads))
        .arg(format!("-c{}", options.connections))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run wrk ({e}); install it: apt-get install wrk")));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed:\n{text}");
    parse_wrk(&text).unwrap_or_else(|| panic!("unexpected wrk output:\n{text}"))
}

/// Parses `wrk --latency` output.
fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut result = WrkResult::default();
    let mut found = (false, false, false);
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", _avg, _stdev, max, ..] => result.max_us = duration_us(max)?,
            ["50%", value] => result.p50_us = duration_us(value)?,
            ["90%", value] => result.p90_us = duration_us(value)?,
            ["99%", value] => {
                result.p99_us = duration_us(value)?;
                found.0 = true;
            }
            [count, "requests", "in", ..] => {
                result.requests = count.parse().ok()?;
                found.1 = true;
            }
            ["Requests/sec:", value] => {
                result.rps = value.parse().ok()?;
                found.2 = true;
            }
            ["Non-2xx", "or", "3xx", "responses:", count] => result.non_2xx = count.parse().ok()?,
            ["Socket", "errors:", ..] => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                result.socket_errors = words[2..]
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    (found == (true, true, true)).then_some(result)
}

/// A wrk duration (`512.00us`, `1.23ms`, `2.00s`, `1.00m`) in microseconds.
fn duration_us(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(number * scale)
}

fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1e3)
}

struct Measured {
    result: WrkResult,
    /// Server CPU time per request, in microseconds.
    cpu_us: f64,
}

fn measure(options: &Options, server: &Process, url: &str, script: &Path) -> Measured {
    let before = server.cpu_time();
    let result = run_wrk(options, options.duration, url, script);
    let cpu = server.cpu_time().saturating_sub(before);
    let cpu_us = cpu.as_secs_f64() * 1e6 / result.requests.max(1) as f64;
    Measured { result, cpu_us }
}

fn row(name: &str, run: u32, m: &Measured, ratio: Option<f64>) {
    let r = &m.result;
    println!(
        "| {name} | {run} | {:.0} | {} | {} | {} | {} | {} | {:.1} µs | {} |",
        r.rps,
        ms(r.p50_us),
        ms(r.p90_us),
        ms(r.p99_us),
        ms(r.max_us),
        r.non_2xx + r.socket_errors,
        m.cpu_us,
        ratio.map(|x| format!("{x:.2}")).unwrap_or_default()
    );
}

fn range(values: impl Iterator<Item = f64>, show: impl Fn(f64) -> String) -> String {
    let values: Vec<f64> = values.collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.len() == 1 {
        show(min)
    } else {
        format!("{} – {}", show(min), show(max))
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    println!("load average before: {}", load_average());

    let (wasap, base) = start_wasap(&dir.path().join("data"));
    wait_healthy(&http, &base).await;
    let instance_token = pair_instance(&http, &base, ADMIN_TOKEN, INSTANCE, SENDER_PHONE).await;
    let token = if options.admin_token {
        ADMIN_TOKEN
    } else {
        &instance_token
    };
    // The first send to a number asks WhatsApp (here the simulated network)
    // whether it is on WhatsApp; the answer is cached. Measure the steady state.
    call(
        http.post(format!("{base}/api/send/{INSTANCE}"))
            .bearer_auth(token)
            .json(&json!({ "to": RECIPIENT, "message": "warm-up" })),
    )
    .await;
    let (hello, hello_base) = start_hello();

    let send_url = format!("{base}/api/send/{INSTANCE}");
    let hello_url = format!("{hello_base}/api/send/{INSTANCE}");
    if options.warmup > 0 {
        let script = write_script(dir.path(), "warmup.lua", token, "bench-send warm-up");
        run_wrk(&options, options.warmup, &send_url, &script);
        run_wrk(&options, options.warmup, &hello_url, &script);
    }

    println!(
        "{}, {} s per run, {} runs, sends with the {} token",
        options.wrk_settings(),
        options.duration,
        options.runs,
        if options.admin_token { "admin" } else { "instance" }
    );
    println!();
    println!("| server | run | requests/s | p50 | p90 | p99 | max | errors | server CPU/request | hello/wasap |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut runs: Vec<(Measured, Measured)> = Vec::new();
    let mut problems = Vec::new();
    for run in 1..=options.runs {
        let text = format!("bench-send run {run}");
        let script = write_script(dir.path(), &format!("run-{run}.lua"), token, &text);
        let sent = measure(&options, &wasap, &send_url, &script);
        let ceiling = measure(&options, &hello, &hello_url, &script);

        // wrk counts the answers it read; every one of them was a send.
        let received = sent_with_text(&http, &base, &text).await;
        let expected = sent.result.requests.min(SENT_LOG_CAPACITY);
        if received < expected {
            problems.push(format!(
                "run {run}: the simulated network holds {received} of the run's messages, expected {expected}"
            ));
        }
        for (name, m) in [("wasap", &sent), ("hello", &ceiling)] {
            if m.result.non_2xx > 0 || m.result.socket_errors > 0 {
                problems.push(format!(
                    "run {run}, {name}: {} non-2xx answers, {} socket errors",
                    m.result.non_2xx, m.result.socket_errors
                ));
            }
        }
        let ratio = ceiling.result.rps / sent.result.rps;
        row("wasap send", run, &sent, None);
        row("hyper hello", run, &ceiling, Some(ratio));
        runs.push((sent, ceiling));
    }
    drop(hello);
    drop(wasap);

    let rps = |m: &Measured| m.result.rps;
    let p99 = |m: &Measured| m.result.p99_us;
    let whole = |x: f64| format!("{x:.0}");
    println!();
    println!("summary over {} runs ({}):", runs.len(), options.wrk_settings());
    println!(
        "  wasap send  requests/s {}",
        range(runs.iter().map(|(s, _)| rps(s)), whole)
    );
    println!(
        "              p50 {}",
        range(runs.iter().map(|(s, _)| s.result.p50_us), ms)
    );
    println!("              p99 {}", range(runs.iter().map(|(s, _)| p99(s)), ms));
    println!(
        "  hyper hello requests/s {}",
        range(runs.iter().map(|(_, h)| rps(h)), whole)
    );
    println!("              p99 {}", range(runs.iter().map(|(_, h)| p99(h)), ms));
    println!(
        "  hello/wasap throughput ratio {}",
        range(runs.iter().map(|(s, h)| rps(h) / rps(s)), |x| format!("{x:.2}"))
    );
    println!("load average after: {}", load_average());

    let min_rps = runs.iter().map(|(s, _)| rps(s)).fold(f64::INFINITY, f64::min);
    let max_p99 = runs.iter().map(|(s, _)| p99(s)).fold(0.0, f64::max);
    let max_ratio = runs.iter().map(|(s, h)| rps(h) / rps(s)).fold(0.0, f64::max);
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!();
    println!("targets, in every run:");
    println!(
        "  >= 20,000 requests/s: {} (lowest {min_rps:.0})",
        verdict(min_rps >= 20_000.0)
    );
    println!(
        "  p99 <= 5 ms:          {} (highest {})",
        verdict(max_p99 <= 5_000.0),
        ms(max_p99)
    );
    println!(
        "  within 3x of hello:   {} (highest ratio {max_ratio:.2})",
        verdict(max_ratio <= 3.0)
    );

    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("bench-send: {problem}");
        }
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_parsed() {
        let output = "\
Running 10s test @ http://127.0.0.1:2121/api/send/bench-send
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   612.52us  301.10us  12.34ms   90.00%
    Req/Sec    25.80k     1.20k   28.00k    70.00%
  Latency Distribution
     50%  580.00us
     75%  700.00us
     90%  850.00us
     99%    1.50ms
  256789 requests in 10.00s, 50.12MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:  25678.90
Transfer/sec:      5.01MB
";
        let r = parse_wrk(output).unwrap();
        assert_eq!(r.requests, 256_789);
        assert!((r.rps - 25_678.9).abs() < 1e-6);
        assert!((r.p50_us - 580.0).abs() < 1e-6);
        assert!((r.p90_us - 850.0).abs() < 1e-6);
        assert!((r.p99_us - 1_500.0).abs() < 1e-6);
        assert!((r.max_us - 12_340.0).abs() < 1e-6);
        assert_eq!((r.non_2xx, r.socket_errors), (4, 3));
        assert_eq!(duration_us("2.00s"), Some(2e6));
        assert_eq!(duration_us("12"), None);
    }
}
