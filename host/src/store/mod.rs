//! The database: one connection pool over PostgreSQL or an embedded SQLite file.
//!
//! This module owns opening the database, running the migrations, and the
//! dispatch between the two engines. Everything else reaches the database
//! through the stores defined under it (today: the whatsapp-rust device store
//! in [`device`], instances, the plugins' key-value store in [`plugin_kv`],
//! [`webhooks`] and their delivery outbox in [`deliveries`] and [`outbox`], the
//! inbound [`journal`]).
//! Both engines run the same SQL wherever the dialects agree
//! (numbered `$n` parameters, `ON CONFLICT` upserts, `RETURNING`), so the
//! queries are written once and run on whichever pool is open.

mod checkpointer;
pub mod contacts;
pub mod deliveries;
pub mod device;
mod error;
mod held;
pub mod inbound_media;
pub mod instances;
pub mod journal;
pub mod journal_prune;
pub mod message_keys;
pub mod outbox;
pub mod plugin_kv;
pub mod polls;
mod redact;
pub mod send_batches;
pub mod send_jobs;
pub mod sent_content;
mod sent_records;
pub mod sim_sent;
pub mod sqlite_busy;
mod statements;
pub mod webhooks;
mod write_probe;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use device::DeviceBackend;
pub use error::StoreError;
pub use held::HeldConnection;
pub use plugin_kv::KvSet;
pub use redact::redact;

/// How long a statement waits for a locked SQLite database before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in the pool. SQLite serialises writers anyway; readers gain from a few.
const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// What the WAL file keeps after a checkpoint; past it, it is cut back.
const SQLITE_WAL_KEPT_BYTES: u64 = 64 * 1024 * 1024;
/// Prepared statements kept per connection (sqlx's default is 100). The
/// multi-row writes have one text per row count, so a busy server has many
/// more than 100; one prepared again costs more than running it.
const SQLITE_STATEMENTS_CACHED: usize = 1024;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
/// Connections of the relaxed PostgreSQL pool (only the delivery worker's bookkeeping uses it).
const RELAXED_MAX_CONNECTIONS: u32 = 2;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database engine a [`Store`] is running on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// An open pool on one of the two engines.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression on whichever pool is open.
///
/// The body is expanded once per engine with `$p` bound to that engine's typed
/// pool, so each arm is type-checked against its own driver: one query text,
/// two native code paths, no `Any` driver conversions in between.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite($p) => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// The application's database. Cheap to clone: clones share one pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// PostgreSQL only: a few connections whose commits do not wait for the
    /// WAL flush, for writes whose loss in a crash of the database server is
    /// harmless (see [`outbox`]).
    relaxed: Option<Pool>,
    /// SQLite on disk only: the WAL's checkpoints (`checkpointer.rs`).
    checkpointer: Option<std::sync::Arc<checkpointer::Checkpointer>>,
    /// Bumped by every write that changes which webhooks exist or where they
    /// point, so that caches of them (the delivery worker's) know when to reload.
    webhooks_version: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The last write check of `/health`.
    write_probe: write_probe::WriteProbe,
    /// Per-device write gates, closed when a device is wiped (`device/retire.rs`).
    device_gates: device::Gates,
    /// The records of sent messages, group-committed (`sent_records.rs`).
    sent_records: sent_records::SentRecords,
    /// How many connections writers may keep (`held.rs`).
    holders: held::Holders,
}

impl Store {
    /// Opens the database at `url` and brings its schema up to date.
    ///
    /// `postgres://` and `postgresql://` URLs select PostgreSQL; `sqlite:` URLs
    /// select SQLite, whose file (and its directory) is created when missing.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let (pool, relaxed, checkpointer) = if is_postgres_url(url) {
            let options = PgConnectOptions::from_str(url).map_err(StoreError::open(url))?;
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_MAX_CONNECTIONS)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await
                .map_err(StoreError::open(url))?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            let relaxed = PgPoolOptions::new()
                .max_connections(RELAXED_MAX_CONNECTIONS)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy_with(options.options([("synchronous_commit", "off")]));
            (Pool::Postgres(pool), Some(Pool::Postgres(relaxed)), None)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(StoreError::open(url))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL with NORMAL is durable across application crashes and
                // only loses the last commits on power loss: the usual trade.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                // Checkpoints are the checkpointer's, off every write's path.
                .pragma("wal_autocheckpoint", "0")
                .pragma("journal_size_limit", SQLITE_WAL_KEPT_BYTES.to_string())
                .statement_cache_capacity(SQLITE_STATEMENTS_CACHED);
            if let Some(dir) = options.get_filename().parent() {
                create_dir(dir).map_err(|e| StoreError::Open {
                    url: redact(url),
                    source: sqlx::Error::Io(e),
                })?;
            }
            // The file holds the device keys and webhook secrets: 0600, and
            // SQLite gives its WAL and shared-memory files the same mode.
            let on_disk = !url.contains(":memory:") && !url.contains("mode=memory") && !url.contains("mode=ro");
            if on_disk {
                crate::private_fs::prepare_sqlite_file(options.get_filename()).map_err(|e| StoreError::Open {
                    url: redact(url),
                    source: sqlx::Error::Io(e),
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(SQLITE_MAX_CONNECTIONS)
                // No ping before each use: the file cannot go away under an
                // open connection, and the ping was a round trip to the
                // connection's thread for every statement (a third of a
                // journal write's time in a burst, BENCHMARKS.md "Series G,
                // a seventh time").
                .test_before_acquire(false)
                .after_connect(|conn, _| Box::pin(sqlite_busy::install(conn)))
                // A connection that comes back still counting a transaction is
                // closed, not reused. SQLite rolls a transaction back by itself
                // when its COMMIT fails with a full disk; sqlx's rollback then
                // fails ("no transaction is active") and leaves its count at 1,
                // so the connection's next transaction would be a SAVEPOINT
                // whose failed RELEASE is undone by a ROLLBACK TO that keeps
                // the transaction open: that connection would hold the write
                // lock until closed, and every other write would wait for it
                // (found by the full-disk test, tests/server/lossless_inbound.rs).
                .after_release(|conn, _| {
                    use sqlx::{Database, TransactionManager};
                    let depth = <sqlx::Sqlite as Database>::TransactionManager::get_transaction_depth(conn);
                    Box::pin(async move { Ok(depth == 0) })
                })
                .connect_with(options.clone())
                .await
                .map_err(StoreError::open(url))?;
            SQLITE_MIGRATIONS.run(&pool).await?;
            // A database in memory or read-only has no WAL to copy back.
            let checkpointer = if on_disk {
                let checkpointer = checkpointer::Checkpointer::start(&options)
                    .await
                    .map_err(StoreError::open(url))?;
                Some(std::sync::Arc::new(checkpointer))
            } else {
                None
            };
            (Pool::Sqlite(pool), None, checkpointer)
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        let holders = held::Holders::for_pool(match pool {
            Pool::Sqlite(_) => SQLITE_MAX_CONNECTIONS,
            Pool::Postgres(_) => POSTGRES_MAX_CONNECTIONS,
        });
        Ok(Store {
            pool,
            relaxed,
            checkpointer,
            webhooks_version: Default::default(),
            write_probe: Default::default(),
            device_gates: Default::default(),
            sent_records: Default::default(),
            holders,
        })
    }

    /// The SQLite URL of the default database file inside `data_dir`.
    pub fn sqlite_url_in(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("wasap.db").display())
    }

    /// The engine this store runs on.
    pub fn kind(&self) -> DbKind {
        match self.pool {
            Pool::Sqlite(_) => DbKind::Sqlite,
            Pool::Postgres(_) => DbKind::Postgres,
        }
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        on_pool!(&self.pool, |p| p.close().await);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop().await;
        }
        if let Some(relaxed) = &self.relaxed {
            on_pool!(relaxed, |p| p.close().await);
        }
    }

    /// Answers whether the database responds, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The pool for writes that may be lost in a crash of the database
    /// server: the relaxed one on PostgreSQL; on SQLite the only one (whose
    /// commits do not wait for the disk anyway, see `synchronous`).
    pub(crate) fn relaxed_pool(&self) -> &Pool {
        self.relaxed.as_ref().unwrap_or(&self.pool)
    }

    /// Changes whenever this store adds, changes or removes a webhook
    /// (deleting an instance removes its webhooks too).
    pub fn webhooks_version(&self) -> u64 {
        self.webhooks_version.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn webhooks_changed(&self) {
        self.webhooks_version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    crate::private_fs::create_dir_all(dir)
}
