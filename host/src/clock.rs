//! The wall clock: "now" in the units the server stores and sends (unix seconds,
//! milliseconds, microseconds), and the RFC 3339 forms the API answers with.
//!
//! The only place the host reads the system time, so every "now" agrees on how it
//! is taken. Event payloads format their own times in `wasap_events::time` (Go's
//! trimmed fractions, shared with the wasm plugins); the API's times here keep
//! chrono's fixed forms.

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
}
