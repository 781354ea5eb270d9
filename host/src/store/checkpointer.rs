//! SQLite's WAL checkpoints, run by a task of their own on a connection of
//! their own, so that no write waits for one.
//!
//! Left to SQLite, the checkpoint runs inside the commit that crosses the
//! WAL's mark: whichever write made that commit (often the inbound journal's,
//! which the engine's acks wait for) then also copies every page the WAL
//! holds into the database file. Here the pool's connections never
//! checkpoint (`wal_autocheckpoint` is 0) and this task copies the WAL back
//! every [`INTERVAL`] when something was written since its last pass
//! (BENCHMARKS.md, "Series G, a seventh time").
//!
//! The WAL's size stays bounded: a pass copies all it can, and the next
//! writer then starts the WAL again from its beginning (SQLite's usual
//! restart), within `journal_size_limit` on disk. A pass that fails (a full
//! disk) is logged and tried again at the next tick.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the WAL is copied back while writes come. At the journal's
/// burst rate this is a few thousand pages a pass: a page written again and
/// again within it (a journal or outbox leaf) is copied once.
const INTERVAL: Duration = Duration::from_millis(250);

/// The running checkpoint task of one store.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Opens its connection (with the pool's options, so the same file and
    /// busy timeout) and starts the task.
    pub(super) async fn start(options: &SqliteConnectOptions) -> Result<Checkpointer, sqlx::Error> {
        let mut connection = options.connect().await?;
        super::sqlite_busy::install(&mut connection).await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(connection, stopped));
        Ok(Checkpointer {
            stop,
            task: std::sync::Mutex::new(Some(task)),
        })
    }

    /// Stops the task after a last pass, and closes its connection.
    pub(super) async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn run(mut connection: SqliteConnection, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // `data_version` changes when another connection commits: an idle
    // database costs one cheap query a tick, no checkpoint.
    let mut seen_version = None;
    let mut failing = false;
    loop {
        let stopping = tokio::select! {
            _ = ticks.tick() => false,
            _ = stopped.changed() => true,
        };
        match pass(&mut connection, &mut seen_version).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("WAL checkpoints succeed again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "WAL checkpoint failed; retried every {INTERVAL:?}");
            }
            Err(e) => tracing::debug!(error = %e, "WAL checkpoint failed again"),
        }
        if stopping {
            break;
        }
    }
    let _ = connection.close().await;
}

/// One checkpoint, when something was committed since the last one.
async fn pass(connection: &mut SqliteConnection, seen_version: &mut Option<i64>) -> Result<(), sqlx::Error> {
    let (version,): (i64,) = sqlx::query_as("PRAGMA data_version")
        .fetch_one(&mut *connection)
        .await?;
    if *seen_version == Some(version) {
        return Ok(());
    }
    // PASSIVE: copies what no reader still needs, and never waits for them.
    // What a reader still needed is copied at a later tick, even if nothing
    // is committed meanwhile.
    let (busy, in_wal, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *connection)
        .await?;
    if busy == 0 && copied == in_wal {
        *seen_version = Some(version);
    }
    Ok(())
}
