//! Benchmark: many paired instances in one server (issue targets: at most
//! 1 MB of resident memory per idle instance; all back online within 10 s of a
//! restart), plus the resident memory of idle real-engine clients.
//!
//! It drives the release `wasap` binary as a separate process over loopback
//! HTTP, exactly as an operator would, and reads the process's resident set
//! size from /proc. Run it with:
//!
//! ```sh
//! cargo build --release -p wasap && cargo run --release -p wasap-tests --bin bench-instances -- [COUNT]
//! ```
//!
//! Method and results: BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasap::store::Store;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::DeviceStore;

const TOKEN: &str = "bench-admin-token";
const CONCURRENCY: usize = 32;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    /// A bench that fails half-way must not leave a server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(binary: &Path, data_dir: &Path, envs: &[(&str, String)]) -> Server {
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("WASAP_LISTEN", format!("127.0.0.1:{port}"))
            .env("WASAP_DATA_DIR", data_dir)
            .env("WASAP_API_TOKEN", TOKEN)
            // One client firing as fast as it can is what a benchmark is; the API rate limit is off.
            .env("WASAP_API_RATE", "0")
            .env("WASAP_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in envs {
            command.env(key, value);
        }
        let child = command.spawn().expect("start the wasap binary");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn rss_kib(&self) -> u64 {
        wasap_tests::process_memory::rss_kib(self.child.id())
    }

    /// SIGTERM, then wait: the graceful shutdown path.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_healthy(http: &reqwest::Client, server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = http.get(format!("{}/health", server.base)).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("server did not become healthy");
}

/// Instances online per /health; 0 while the server is not answering yet.
async fn online_count(http: &reqwest::Client, server: &Server) -> u64 {
    let Ok(response) = http.get(format!("{}/health", server.base)).send().await else {
        return 0;
    };
    let health: Value = response.json().await.unwrap_or(Value::Null);
    health["instances"]["online"].as_u64().unwrap_or(0)
}

/// Polls /health until `count` instances are online; returns how long it took.
async fn wait_online(http: &reqwest::Client, server: &Server, count: u64, since: Instant) -> Duration {
    let deadline = since + Duration::from_secs(120);
    loop {
        if online_count(http, server).await >= count {
            return since.elapsed();
        }
        assert!(Instant::now() < deadline, "instances did not come online");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> Value {
    let response = http.post(url).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn pair_all(http: &reqwest::Client, server: &Server, count: usize) {
    let ids: Vec<usize> = (0..count).collect();
    for chunk in ids.chunks(CONCURRENCY) {
        let tasks = chunk.iter().map(|i| {
            let http = http.clone();
            let base = server.base.clone();
            async move {
                let id = format!("bench-{i:05}");
                post(&http, format!("{base}/api/instances"), json!({ "instance_id": id })).await;
                let response = http
                    .get(format!("{base}/api/instances/{id}/qr"))
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                let phone = format!("62811{i:08}");
                post(
                    &http,
                    format!("{base}/sim/instances/{id}/scan"),
                    json!({ "phone": phone }),
                )
                .await;
            }
        });
        futures::future::join_all(tasks).await;
    }
}

/// Linked real-engine instances, written straight into the database as if
/// they had paired on an earlier run (nothing can pair with WhatsApp here).
async fn seed_linked_instances(data_dir: &Path, count: usize) {
    let store = Store::open(&Store::sqlite_url_in(data_dir)).await.unwrap();
    for i in 0..count {
        let device_id = store.allocate_device_id().await.unwrap();
        let backend = store.device(device_id);
        let mut device = Device::new();
        let jid = format!("62899{i:08}:1@s.whatsapp.net");
        device.pn = Some(jid.parse().unwrap());
        backend.save(&device).await.unwrap();
        store
            .insert_instance(&wasap::store::instances::InstanceRow {
                id: format!("real-{i:03}"),
                name: format!("real {i}"),
                token_hash: wasap::instances::token::hash(&format!("token-{i}")),
                status: "online".into(),
                device_id: Some(device_id),
                jid: Some(jid),
                phone_number: Some(format!("62899{i:08}")),
                push_name: None,
                created_at: 0,
                connected_at: None,
                last_seen: None,
            })
            .await
            .unwrap();
    }
    store.close().await;
}

fn release_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    let binary = dir.join("wasap");
    assert!(
        binary.is_file(),
        "build it first: cargo build --release -p wasap ({} missing)",
        binary.display()
    );
    binary
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let binary = release_binary();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();

    // --- sim engine: COUNT paired instances -----------------------------------
    let dir = tempfile::tempdir().unwrap();
    let sim = [("WASAP_ENGINE", "sim".to_owned())];
    let server = Server::start(&binary, dir.path(), &sim);
    wait_healthy(&http, &server).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let empty = server.rss_kib();
    let started = Instant::now();
    pair_all(&http, &server, count).await;
    wait_online(&http, &server, count as u64, started).await;
    let pairing = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await; // let allocator caches settle: idle means idle
    let loaded = server.rss_kib();
    server.stop();

    let started = Instant::now();
    let server = Server::start(&binary, dir.path(), &sim);
    let back_online = wait_online(&http, &server, count as u64, started).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restarted = server.rss_kib();
    server.stop();

    println!("instances (sim engine): {count}");
    println!(
        "  create + QR + scan, all online:        {:.2} s",
        pairing.as_secs_f64()
    );
    println!("  RSS empty server:                      {} KiB", empty);
    println!("  RSS with {count} idle online instances: {} KiB", loaded);
    println!(
        "  RSS per idle instance:                 {:.1} KiB",
        (loaded - empty) as f64 / count as f64
    );
    println!(
        "  restart until all online:              {:.2} s (process start included)",
        back_online.as_secs_f64()
    );
    println!(
        "  RSS after restart, per instance:       {:.1} KiB",
        (restarted.saturating_sub(empty)) as f64 / count as f64
    );

    // --- real engine: idle, disconnected clients -------------------------------
    let real = 20;
    let refused = format!("ws://127.0.0.1:{}/ws/chat", free_port());
    let engine = [("WASAP_ENGINE", "whatsapp".to_owned()), ("WASAP_WHATSAPP_URL", refused)];
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&binary, dir.path(), &engine);
    wait_healthy(&http, &server).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = server.rss_kib();
    server.stop();
    seed_linked_instances(dir.path(), real).await;
    let server = Server::start(&binary, dir.path(), &engine);
    wait_healthy(&http, &server).await;
    tokio::time::sleep(Duration::from_secs(5)).await; // each client tried, failed and went idle
    let with_clients = server.rss_kib();
    let health: Value = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.stop();
    println!(
        "real engine, {real} linked instances, WhatsApp unreachable: {}",
        health["instances"]
    );
    println!(
        "  RSS per idle disconnected client:      {:.1} KiB",
        (with_clients.saturating_sub(baseline)) as f64 / real as f64
    );
}
