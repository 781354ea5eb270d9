//! What a SQLite connection does while another holds the write lock: it
//! tries again after a few tens of microseconds, not after SQLite's
//! milliseconds.
//!
//! SQLite lets one connection write at a time, and a connection that finds
//! the lock taken calls its busy handler until the lock is free or the
//! handler gives up. The one `busy_timeout` installs sleeps 1, 2, 5, 10 ms
//! and more between tries; our writes (a journal batch, a done mark, an
//! outbox row) hold the lock for far less than that, so a write that met
//! another one slept long after the lock was free: about 240 such sleeps a
//! second in a webhook burst (BENCHMARKS.md, "Series G, a seventh time").
//! This handler tries again after [`FIRST_PAUSE`], doubling up to
//! [`LONGEST_PAUSE`], and gives up after [`super::SQLITE_BUSY_TIMEOUT`] as
//! before.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnection;

use super::SQLITE_BUSY_TIMEOUT;

/// The first pause before trying the lock again.
const FIRST_PAUSE: Duration = Duration::from_micros(20);
/// The longest pause between tries, reached after a few milliseconds of
/// waiting: a lock held that long belongs to a large write.
const LONGEST_PAUSE: Duration = Duration::from_millis(2);

/// Waits for the write lock since the start, every store of the process
/// together (the callback has no state of its own): `GET /metrics`.
static WAITS: AtomicU64 = AtomicU64::new(0);

/// Waits of a connection for another's write lock, since the start.
pub fn waits() -> u64 {
    WAITS.load(Ordering::Relaxed)
}

/// [`waits`] in the Prometheus text format.
pub fn render_metrics(out: &mut String) {
    use std::fmt::Write as _;
    out.push_str(
        "# HELP wasap_sqlite_busy_waits_total Waits of a SQLite connection for another's write lock (SQLite only).\n\
         # TYPE wasap_sqlite_busy_waits_total counter\n",
    );
    let _ = writeln!(out, "wasap_sqlite_busy_waits_total {}", waits());
}

thread_local! {
    /// When the current wait for the lock began. A connection's statements
    /// run on its own worker thread, one at a time, so one per thread is one
    /// per waiting connection.
    static WAITING_SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Installs the handler on `connection` (in place of `busy_timeout`'s).
pub(super) async fn install(connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    // SAFETY: the handle is a live connection, locked for us while we set
    // it; the callback takes no state of its own (a null argument).
    let status = unsafe {
        libsqlite3_sys::sqlite3_busy_handler(handle.as_raw_handle().as_ptr(), Some(on_busy), std::ptr::null_mut())
    };
    if status == libsqlite3_sys::SQLITE_OK {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!(
            "sqlite3_busy_handler failed with code {status}"
        )))
    }
}

/// SQLite's busy callback: nonzero to try again, zero to give up (the
/// statement then fails with `SQLITE_BUSY`). `tries` counts the calls of
/// this wait before this one.
extern "C" fn on_busy(_: *mut c_void, tries: c_int) -> c_int {
    let now = Instant::now();
    let since = match WAITING_SINCE.get() {
        Some(since) if tries > 0 => since,
        _ => {
            WAITS.fetch_add(1, Ordering::Relaxed);
            WAITING_SINCE.set(Some(now));
            now
        }
    };
    let waited = now - since;
    if waited >= SQLITE_BUSY_TIMEOUT {
        return 0;
    }
    std::thread::sleep(pause(tries).min(SQLITE_BUSY_TIMEOUT - waited));
    1
}

/// The pause before try `tries` + 1.
fn pause(tries: c_int) -> Duration {
    let doublings = tries.clamp(0, 16) as u32;
    FIRST_PAUSE.saturating_mul(1 << doublings).min(LONGEST_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_start_short_and_double_to_the_longest() {
        assert_eq!(pause(0), FIRST_PAUSE);
        assert_eq!(pause(1), FIRST_PAUSE * 2);
        assert_eq!(pause(3), FIRST_PAUSE * 8);
        assert_eq!(pause(20), LONGEST_PAUSE);
        assert_eq!(pause(c_int::MAX), LONGEST_PAUSE);
        let first_ten: Duration = (0..10).map(pause).sum();
        assert!(first_ten < Duration::from_millis(10), "{first_ten:?}");
    }
}
