//! The benchmarks' side of a `wasap` test build run as a process against the
//! WhatsApp simulator: starting it on either engine, its resident memory,
//! stopping it gracefully, counting instances online, and pairing an
//! instance through the API's QR and the simulated phone. Shared by
//! `bench-real-engine` and `bench-real-traffic`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasap_whatsapp_sim::Simulator;

use crate::bench_client::{Process, free_port, sibling_binary};

/// The admin token the benches start the server with.
pub const TOKEN: &str = "bench-admin-token";

/// Which engine the server under test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchEngine {
    /// whatsapp-rust against the simulator at this URL.
    Real,
    /// The in-process simulated network (`/sim/` routes).
    Sim,
}

/// A `wasap` process under test.
pub struct BenchServer {
    pub process: Process,
    pub base: String,
}

/// `wasap --version` of the binary next to the bench; exits with how to build
/// a test build when it is not one (only a test build may pair with the
/// simulator, whose certificates WhatsApp did not sign).
pub fn require_test_build() -> String {
    let version = Command::new(sibling_binary("wasap")).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    if !version.contains("OFF (test build)") {
        eprintln!("{version}: not a test build; run: cargo build --release -p wasap --features test-whatsapp-server");
        std::process::exit(2);
    }
    version
}

impl BenchServer {
    /// Starts the binary on a fresh port, embedded SQLite in `data_dir`, with
    /// `engine` (the real one connecting to `whatsapp_url`) and `log` as its
    /// log filter.
    pub fn start(data_dir: &Path, engine: BenchEngine, whatsapp_url: &str, log: &str) -> BenchServer {
        let port = free_port();
        let mut command = Command::new(sibling_binary("wasap"));
        command
            .arg("serve")
            .env("WASAP_LISTEN", format!("127.0.0.1:{port}"))
            .env("WASAP_DATA_DIR", data_dir)
            .env("WASAP_API_TOKEN", TOKEN)
            // One client firing as fast as it can is what a benchmark is; the API rate limit is off.
            .env("WASAP_API_RATE", "0")
            .env("WASAP_LOG", log)
            // The benches' webhook receivers are on loopback.
            .env("WASAP_ALLOW_PRIVATE_URLS", "true")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        match engine {
            BenchEngine::Real => command
                .env("WASAP_ENGINE", "whatsapp")
                .env("WASAP_WHATSAPP_URL", whatsapp_url),
            BenchEngine::Sim => command.env("WASAP_ENGINE", "sim"),
        };
        let child = command.spawn().expect("start the wasap binary");
        BenchServer {
            process: Process(child),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The process's resident memory (`VmRSS`), KiB.
    pub fn rss_kib(&self) -> u64 {
        crate::process_memory::rss_kib(self.process.0.id())
    }

    /// SIGTERM, then wait: the graceful shutdown path (sessions closed, state saved).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.process.0.id().to_string())
            .status();
        let _ = self.process.0.wait();
    }
}

/// Instances `/health` counts online (0 while the server does not answer).
pub async fn online_count(http: &reqwest::Client, base: &str) -> u64 {
    let Ok(response) = http.get(format!("{base}/health")).send().await else {
        return 0;
    };
    let health: Value = response.json().await.unwrap_or(Value::Null);
    health["instances"]["online"].as_u64().unwrap_or(0)
}

/// Polls /health every 5 ms until `count` instances are online; the time since `since`.
pub async fn wait_online(http: &reqwest::Client, base: &str, count: u64, since: Instant) -> Duration {
    let deadline = since + Duration::from_secs(300);
    loop {
        if online_count(http, base).await >= count {
            return since.elapsed();
        }
        assert!(Instant::now() < deadline, "instances did not come online");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Creates instance `id`, reads its QR through the API and has the simulated
/// phone `phone` scan it; the instance's token. Online follows shortly after.
pub async fn pair_by_qr(http: &reqwest::Client, base: &str, simulator: &Simulator, id: &str, phone: &str) -> String {
    let response = http
        .post(format!("{base}/api/instances"))
        .bearer_auth(TOKEN)
        .json(&json!({ "instance_id": id }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "create {id}: {}", response.status());
    let created: Value = response.json().await.unwrap();
    let qr: Value = http
        .get(format!("{base}/api/instances/{id}/qr"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let qr = qr["qr"].as_str().unwrap_or_else(|| panic!("a QR for {id}: {qr}"));
    simulator
        .phone(phone)
        .scan(qr)
        .await
        .unwrap_or_else(|e| panic!("scanning {id}: {e}"));
    created["token"].as_str().expect("the instance's token").to_owned()
}
