//! The benchmarks' side of a `wasap` server they run as a process: finding
//! the binary, owning the child process and reading its CPU time, waiting
//! for it to answer, calling it, and pairing the bench's instance on the sim
//! engine, and a fresh PostgreSQL database. Shared by `bench-send`,
//! `bench-outputs` and `bench-queue`.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A child process killed when the bench ends, however it ends.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// User plus system CPU time the process has used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time_in(&format!("/proc/{}/stat", self.0.id()))
    }

    /// Waits until the server has had nothing to do for a while (its CPU
    /// time stands still), up to `limit`: queued work is then finished.
    pub async fn settle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut before = self.cpu_time();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = self.cpu_time();
            if now.saturating_sub(before) <= Duration::from_millis(10) {
                return;
            }
            before = now;
        }
    }
}

/// User plus system CPU time the bench's own process has used so far.
pub fn own_cpu_time() -> Duration {
    cpu_time_in("/proc/self/stat")
}

/// CPU time from a `/proc/<pid>/stat` file.
fn cpu_time_in(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).expect("read /proc stat");
    // The command name may hold spaces: fields are counted after its ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat format") + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports in USER_HZ, which is 100 on every mainstream architecture.
    Duration::from_millis(ticks * 10)
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A binary built next to the running bench (the same cargo profile); exits
/// with how to build it when it is missing.
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().join(name);
    if !binary.is_file() {
        eprintln!(
            "build it first: cargo build --release --workspace --bins ({} missing)",
            binary.display()
        );
        std::process::exit(2);
    }
    binary
}

/// Waits (up to a minute) until `GET /health` answers 2xx.
pub async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = http.get(format!("{base}/health")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("wasap did not become healthy");
}

/// Sends `request`; its JSON answer, which must be a 2xx.
pub async fn call(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request to wasap");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Creates instance `instance`, pairs it as `phone` through the sim's scan
/// route and waits until it is online; its token.
pub async fn pair_instance(
    http: &reqwest::Client,
    base: &str,
    admin_token: &str,
    instance: &str,
    phone: &str,
) -> String {
    let created = call(
        http.post(format!("{base}/api/instances"))
            .bearer_auth(admin_token)
            .json(&json!({ "instance_id": instance })),
    )
    .await;
    let token = created["token"].as_str().expect("instance token").to_owned();
    call(
        http.get(format!("{base}/api/instances/{instance}/qr"))
            .bearer_auth(admin_token),
    )
    .await;
    call(
        http.post(format!("{base}/sim/instances/{instance}/scan"))
            .bearer_auth(admin_token)
            .json(&json!({ "phone": phone })),
    )
    .await;
    // Polled: the bench talks to another process, with no event stream of its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = call(
            http.get(format!("{base}/api/instances/{instance}"))
                .bearer_auth(admin_token),
        )
        .await;
        if answer["status"] == "online" {
            return token;
        }
        assert!(Instant::now() < deadline, "the instance did not come online: {answer}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The machine's load averages (1, 5 and 15 minutes), printed beside
/// every result: a bench shares its two cores with whatever else runs.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A fresh database on the PostgreSQL server of `url`, named after the
/// bench (`label`), its process and `run`: its URL, and the admin pool and
/// name to drop it with. Exits with a message when the server is unreachable.
pub async fn fresh_postgres(url: &str, label: &str, run: usize) -> (String, sqlx::PgPool, String) {
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot connect to {url}: {e}");
            std::process::exit(2);
        });
    let name = format!("wasap_bench_{label}_{}_{run}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let mut fresh = reqwest::Url::parse(url).unwrap_or_else(|e| {
        eprintln!("not a database URL: {url}: {e}");
        std::process::exit(2);
    });
    fresh.set_path(&format!("/{name}"));
    (fresh.to_string(), admin, name)
}
