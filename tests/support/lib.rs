//! Shared support for wasap's test binaries: a fresh database per test.
//!
//! Every test gets its own database so tests run in parallel without seeing
//! each other's rows. Which engine is used is chosen by the environment, so the
//! same suite runs on both: with `WASAP_TEST_DATABASE_URL` set to a PostgreSQL
//! URL, each test creates a new database on that server; otherwise each test
//! gets a new SQLite file in a temporary directory.

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

#[cfg(test)]
mod tests {
    use super::replace_database_name;

    #[test]
    fn database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            replace_database_name("postgres://u:p@127.0.0.1:5433/postgres?sslmode=disable", "t1"),
            "postgres://u:p@127.0.0.1:5433/t1?sslmode=disable"
        );
        assert_eq!(replace_database_name("postgres://localhost", "t2"), "postgres://localhost/t2");
    }
}

/// A wasap server running in this process on a free loopback port, started
/// exactly as `wasap serve` starts it, and stopped when dropped.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub admin_token: String,
    pub data_dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on `db`, keeping its data in `data_dir`.
    pub async fn start(db: &TestDb, data_dir: &std::path::Path) -> TestServer {
        let mut config = wasap::Config::with_data_dir(data_dir);
        config.listen = "127.0.0.1:0".parse().expect("loopback address");
        config.database_url = Some(db.url().to_owned());
        config.api_token = None;
        Self::start_with(config).await
    }

    /// Starts a server with a configuration of the test's own.
    pub async fn start_with(config: wasap::Config) -> TestServer {
        let data_dir = config.data_dir.clone();
        let server = wasap::Server::bind(config).await.expect("server starts");
        let addr = server.local_addr();
        let admin_token = server.admin_token().to_owned();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            admin_token,
            data_dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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
