//! The wall clock: "now" in the units the server stores and sends (unix seconds,
//! milliseconds, microseconds), and the RFC 3339 forms the API answers with.
//!
//! The only place the host reads the system time, so every "now" agrees on how it
//! is taken. Event payloads format their own times in `wasap_events::time` (Go's
//! trimmed fractions, shared with the wasm plugins); the API's times here keep
//! chrono's fixed forms.
//!
//! [`Clock`] is this same wall clock plus an offset that only a server on the
//! simulated engine lets a test move (`POST /sim/clock`): the send queue's
//! schedule and the simulated network's send record read it, so a test moves
//! time forward instead of waiting. Everything else reads the plain wall clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch; zero for a system clock set before it.
fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Unix microseconds now (the unit of `Event::at_us`).
pub fn now_us() -> i64 {
    since_epoch().as_micros() as i64
}

/// Unix milliseconds now (the unit of the outbox's `next_attempt_ms` and of QR expiries).
pub fn now_ms() -> i64 {
    since_epoch().as_millis() as i64
}

/// Unix seconds now (the unit of every time column and of message timestamps).
pub fn now_secs() -> i64 {
    since_epoch().as_secs() as i64
}

/// Unix seconds as RFC 3339 UTC (`2025-12-07T23:22:00Z`).
pub fn rfc3339(unix_secs: i64) -> String {
    chrono::DateTime::from_timestamp(unix_secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Unix milliseconds as RFC 3339 UTC, always with three digits of milliseconds
/// (`2025-12-07T23:22:00.120Z`).
pub fn rfc3339_ms(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The wall clock seen through an offset, one per server. Cheap to clone;
/// clones share the offset.
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Bumped on every move, so what waits on the clock wakes up.
    moved: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Clock {
    /// Unix milliseconds now, offset.
    pub fn now_ms(&self) -> i64 {
        now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Moves the clock forward by `ms` (a simulated-engine server only) and
    /// wakes what waits on it; returns the move's number.
    pub fn advance_ms(&self, ms: i64) -> u64 {
        self.offset_ms.fetch_add(ms.max(0), std::sync::atomic::Ordering::SeqCst);
        let mut number = 0;
        self.moved.send_modify(|n| {
            *n += 1;
            number = *n;
        });
        number
    }

    /// A receiver that sees every move of the clock.
    pub fn moves(&self) -> tokio::sync::watch::Receiver<u64> {
        self.moved.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(1733613720), "2024-12-07T23:22:00Z");
        assert_eq!(rfc3339_ms(1733613720120), "2024-12-07T23:22:00.120Z");
    }

    #[test]
    fn the_units_agree() {
        let (secs, ms, us) = (now_secs(), now_ms(), now_us());
        assert!(secs <= ms / 1000 && ms <= us / 1000);
        assert!(us / 1_000_000 - secs < 5);
    }

    #[test]
    fn a_moved_clock_runs_ahead() {
        let clock = Clock::default();
        let moves = clock.moves();
        let before = clock.now_ms();
        assert_eq!(clock.advance_ms(60_000), 1);
        assert!(clock.now_ms() - before >= 60_000);
        assert!(moves.has_changed().unwrap());
    }
}
