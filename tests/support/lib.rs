//! Shared support for wasap's test binaries: a fresh database per test.
//!
//! Every test gets its own database so tests run in parallel without seeing
//! each other's rows. Which engine is used is chosen by the environment, so the
//! same suite runs on both: with `WASAP_TEST_DATABASE_URL` set to a PostgreSQL
//! URL, each test creates a new database on that server, dropped when the test
//! ends (kept, and named, when it fails); otherwise each test gets a new SQLite
//! file in a temporary directory.

pub mod bench_client;
pub mod bench_real;
pub mod bench_receiver;
pub mod child_server;
pub mod engines;
pub mod file_server;
pub mod outputs;
pub mod plugins;
pub mod process_memory;
pub mod send_queue;
pub mod sim;
pub mod small_disk;
pub mod webhook_receiver;
pub mod websocket;

use std::path::PathBuf;

use rand::Rng;
use sqlx::Connection;

/// The environment variable that points the suite at a PostgreSQL server.
pub const POSTGRES_ENV: &str = "WASAP_TEST_DATABASE_URL";

/// A database that belongs to one test.
pub struct TestDb {
    url: String,
    // Held so the SQLite file outlives the test; removed on drop.
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL server's admin URL and the database's name, to drop it.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// Creates an empty database on the engine the environment selects.
    pub async fn new() -> TestDb {
        match std::env::var(POSTGRES_ENV) {
            Ok(admin_url) if !admin_url.is_empty() => Self::new_postgres(&admin_url).await,
            _ => Self::new_sqlite(),
        }
    }

    fn new_sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("wasap-test-")
            .tempdir()
            .expect("create a temporary directory");
        let path: PathBuf = dir.path().join("wasap.db");
        TestDb {
            url: format!("sqlite://{}", path.display()),
            _dir: Some(dir),
            postgres: None,
        }
    }

    async fn new_postgres(admin_url: &str) -> TestDb {
        let name = format!("wasap_test_{:016x}", rand::rng().random::<u64>());
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.ok();
        TestDb {
            url: replace_database_name(admin_url, &name),
            _dir: None,
            postgres: Some((admin_url.to_owned(), name)),
        }
    }

    /// The URL to hand to `DATABASE_URL` or `Store::open`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}

impl Drop for TestDb {
    /// Drops a PostgreSQL test database, so a run leaves none behind; a failed test's
    /// is kept for a look, and named. Drop cannot await, so a thread of its own does
    /// it (`WITH (FORCE)` ends connections the test's server may still hold).
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("kept the failed test's database {name}");
            return;
        }
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop a test database: {e}"),
            Err(_) => eprintln!("dropping a test database panicked"),
        }
    }
}

/// Swaps the database name in a PostgreSQL URL, keeping credentials and query.
fn replace_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // The database is the path after the authority (`scheme://authority/db`).
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// A wasap server running in this process on a free loopback port, started
/// exactly as `wasap serve` starts it, and stopped when dropped.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub admin_token: String,
    pub data_dir: PathBuf,
    /// Every event the server published since it started.
    pub events: Events,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The test's database and data directory, when the server was given
    /// them to keep ([`TestServer::keep`]): dropped with it, after the stop.
    kept: Option<(TestDb, tempfile::TempDir)>,
}

/// A fresh, empty data directory for a server, removed when dropped.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wasap-data-")
        .tempdir()
        .expect("temporary data directory")
}

/// The configuration black-box tests use: the simulated network, a free
/// port, the test's database, short reconnect delays, and outbound URLs
/// allowed to reach loopback (where tests serve their files).
pub fn sim_config(db: &TestDb, data_dir: &std::path::Path) -> wasap::Config {
    let mut config = wasap::Config::with_data_dir(data_dir);
    config.listen = "127.0.0.1:0".parse().expect("loopback address");
    config.database_url = Some(db.url().to_owned());
    config.api_token = None;
    config.engine = wasap::engine::EngineKind::Sim;
    config.reconnect_min_ms = 20;
    config.reconnect_max_ms = 200;
    config.allow_private_urls = true;
    config
}

impl TestServer {
    /// Starts a server on the simulated network and `db`, data in `data_dir`.
    pub async fn start(db: &TestDb, data_dir: &std::path::Path) -> TestServer {
        Self::start_with(sim_config(db, data_dir)).await
    }

    /// Starts a server with a configuration of the test's own.
    pub async fn start_with(config: wasap::Config) -> TestServer {
        Self::launch(config).await
    }

    /// Binds and runs the server on the test's runtime.
    async fn launch(config: wasap::Config) -> TestServer {
        test_logs();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let data_dir = config.data_dir.clone();
        let task = tokio::spawn(async move {
            let server = wasap::Server::bind(config).await.expect("server starts");
            // Subscribed before `run` resumes the instances: no event is missed.
            let events = Events(server.bus().subscribe());
            let _ = started_tx.send((server.local_addr(), server.admin_token().to_owned(), events));
            server
                .run(async {
                    let _ = rx.await;
                })
                .await
                .expect("server runs");
        });
        let (addr, admin_token, events) = started.await.expect("the server started (see its panic above)");
        TestServer {
            addr,
            admin_token,
            data_dir,
            events,
            shutdown: Some(tx),
            task: Some(task),
            kept: None,
        }
    }

    /// Keeps the database and the data directory the server runs on for as
    /// long as the server: a test that holds the server need not hold them.
    pub fn keep(&mut self, db: TestDb, dir: tempfile::TempDir) {
        self.kept = Some((db, dir));
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// An HTTP client that sends the admin token.
    pub fn admin(&self) -> Api {
        Api::new(self, Some(&self.admin_token))
    }

    /// An HTTP client that sends `token` (or none).
    pub fn client(&self, token: Option<&str>) -> Api {
        Api::new(self, token)
    }

    /// Stops the server gracefully and waits until it has closed its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task ends cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// With `WASAP_TEST_LOG` set (a filter such as `wasap=debug,whatsapp_sim=debug`),
/// the servers' (and the WhatsApp simulator's) logs go to the test's output.
fn test_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if let Ok(filter) = std::env::var("WASAP_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

/// Creates instance `id`, pairs it by the sim's QR scan as `phone` and waits
/// until it is online and its events are through the plugins (a webhook set
/// up next sees none of them); its instance token.
pub async fn online(server: &mut TestServer, id: &str, phone: &str) -> String {
    let (status, created) = server
        .admin()
        .post("/api/instances", serde_json::json!({ "instance_id": id }))
        .await;
    assert_eq!(status, 201, "{created}");
    server.admin().get(&format!("/api/instances/{id}/qr")).await;
    server.sim(id).scan(phone).await;
    server.events.wait_status(id, "online").await;
    server.admin().plugins_settled().await;
    created["token"]
        .as_str()
        .expect("the created instance's token")
        .to_owned()
}

/// How long a test waits for something the server should do promptly.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The server's event stream, as a test reads it.
pub struct Events(tokio::sync::broadcast::Receiver<std::sync::Arc<wasap::events::Event>>);

impl Events {
    /// Waits (up to [`WAIT`]) for the first event that `matches`, returning it
    /// and every event seen before it.
    pub async fn wait_for(
        &mut self,
        what: &str,
        matches: impl Fn(&wasap::events::Event) -> bool,
    ) -> (
        std::sync::Arc<wasap::events::Event>,
        Vec<std::sync::Arc<wasap::events::Event>>,
    ) {
        let mut before = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.0.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; saw {before:#?}"))
                .unwrap_or_else(|e| panic!("event stream broke waiting for {what}: {e}"));
            if matches(&next) {
                return (next, before);
            }
            before.push(next);
        }
    }

    /// Asserts that nothing happens to instance `id` for `quiet`: for checks
    /// that something (a reconnect, say) does not follow, where it would
    /// otherwise follow well within that time.
    pub async fn expect_quiet(&mut self, id: &str, quiet: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(deadline, self.0.recv()).await {
                Err(_) => return,
                Ok(Ok(event)) => assert!(event.instance_id != id, "unexpected event for {id}: {event:#?}"),
                Ok(Err(e)) => panic!("event stream broke: {e}"),
            }
        }
    }

    /// Waits until every instance of `ids` has reached `status`, in any order;
    /// returns every other event seen meanwhile.
    pub async fn wait_statuses(&mut self, ids: &[&str], status: &str) -> Vec<std::sync::Arc<wasap::events::Event>> {
        let mut waiting: Vec<&str> = ids.to_vec();
        let mut seen = Vec::new();
        while !waiting.is_empty() {
            let what = format!("{waiting:?} to become {status}");
            let (event, before) = self
                .wait_for(&what, |e| {
                    waiting.contains(&e.instance_id.as_str())
                        && matches!(&e.kind, wasap::events::EventKind::StatusChanged { status: s, .. } if s.as_str() == status)
                })
                .await;
            waiting.retain(|id| *id != event.instance_id);
            seen.extend(before);
        }
        seen
    }

    /// Waits for instance `id` to reach `status`; returns the events before it.
    pub async fn wait_status(&mut self, id: &str, status: &str) -> Vec<std::sync::Arc<wasap::events::Event>> {
        let what = format!("{id} to become {status}");
        self.wait_for(&what, |e| {
            e.instance_id == id
                && matches!(&e.kind, wasap::events::EventKind::StatusChanged { status: s, .. } if s.as_str() == status)
        })
        .await
        .1
    }
}

/// A small HTTP client for the API: JSON in, status and JSON out.
pub struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    fn new(server: &TestServer, token: Option<&str>) -> Api {
        Api::at(format!("http://{}", server.addr), token)
    }

    /// A client of the server at `base` (`http://host:port`), sending `token` (or none).
    pub fn at(base: String, token: Option<&str>) -> Api {
        Api {
            base,
            token: token.map(str::to_owned),
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request and returns the status and the JSON body (`null` if none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("response body");
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {bytes:?}"))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn post_empty(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::POST, path, None).await
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// A raw response, for non-JSON answers (the QR image).
    pub async fn get_raw(&self, path: &str, accept: Option<&str>) -> reqwest::Response {
        let mut request = self.request(reqwest::Method::GET, path);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// The value of the unlabelled series `name` in `/metrics` (admin token).
    pub async fn metric(&self, name: &str) -> f64 {
        let response = self.get_raw("/metrics", None).await;
        assert_eq!(response.status(), 200, "GET /metrics");
        let text = response.text().await.expect("the metrics");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} is not in /metrics:\n{text}"))
    }

    /// Waits (up to [`WAIT`]) until every event published so far is through
    /// the plugins and its webhooks are in the outbox
    /// (`wasap_plugin_events_pending` is 0): a webhook set up after this does
    /// not receive those events, which it would while they were pending.
    pub async fn plugins_settled(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let pending = self.metric("wasap_plugin_events_pending").await;
            if pending == 0.0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{pending} events still pending in the plugins"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database_name;

    #[test]
    fn database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            replace_database_name("postgres://u:p@127.0.0.1:5433/postgres?sslmode=disable", "t1"),
            "postgres://u:p@127.0.0.1:5433/t1?sslmode=disable"
        );
        assert_eq!(
            replace_database_name("postgres://localhost", "t2"),
            "postgres://localhost/t2"
        );
    }
}
