//! Connection counters for `GET /metrics`, and the rate-limited warning
//! about refused connections.
//!
//! A flood of refused connections must not become a flood of log lines: the
//! first refusal is a warning, the following ones within
//! [`WARN_INTERVAL`] are only counted (and logged at debug), and the next
//! warning says how many there were.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::activity::Expired;
use super::limits::Refused;

/// At most one warning about refused connections this often.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// The front door's counters. Kept in [`crate::metrics::Metrics`].
#[derive(Debug, Default)]
pub struct Stats {
    open: AtomicUsize,
    refused_full: AtomicU64,
    refused_client_full: AtomicU64,
    header_timeouts: AtomicU64,
    idle_timeouts: AtomicU64,
    /// When the last warning about refusals was logged, and how many came since.
    last_warning: Mutex<Option<(Instant, u64)>>,
}

impl Stats {
    pub(super) fn set_open(&self, open: usize) {
        self.open.store(open, Ordering::Relaxed);
    }

    /// Connections open now (upgraded ones excepted).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Counts a refused connection, and warns about it unless a warning went out recently.
    pub(super) fn refused(&self, refused: Refused, peer: std::net::IpAddr) {
        match refused {
            Refused::Full(_) => &self.refused_full,
            Refused::ClientFull(_) => &self.refused_client_full,
        }
        .fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *last {
            Some((at, since)) if now.duration_since(*at) < WARN_INTERVAL => {
                *since += 1;
                drop(last);
                tracing::debug!(%peer, reason = %refused, "connection refused");
            }
            _ => {
                let suppressed = last.map_or(0, |(_, since)| since);
                *last = Some((now, 0));
                drop(last);
                tracing::warn!(
                    %peer,
                    reason = %refused,
                    refused_since_last_warning = suppressed,
                    "connection refused (further refusals are logged at debug for {}s)",
                    WARN_INTERVAL.as_secs()
                );
            }
        }
    }

    /// Counts a connection closed for running out of time.
    pub(super) fn timed_out(&self, expired: Expired) {
        match expired {
            Expired::Header => &self.header_timeouts,
            Expired::Idle => &self.idle_timeouts,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text of the counters.
    pub fn render(&self, out: &mut String) {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP wasap_http_connections Open HTTP connections (upgraded WebSockets are counted by the hub).\n\
             # TYPE wasap_http_connections gauge\nwasap_http_connections {}",
            self.open()
        );
        let _ = writeln!(
            out,
            "# HELP wasap_http_connections_refused_total HTTP connections refused at a connection cap, by cap.\n\
             # TYPE wasap_http_connections_refused_total counter\n\
             wasap_http_connections_refused_total{{limit=\"server\"}} {}\n\
             wasap_http_connections_refused_total{{limit=\"client\"}} {}",
            load(&self.refused_full),
            load(&self.refused_client_full)
        );
        let _ = writeln!(
            out,
            "# HELP wasap_http_connections_timed_out_total HTTP connections closed for taking too long \
             to send a request head, or for staying idle between requests.\n\
             # TYPE wasap_http_connections_timed_out_total counter\n\
             wasap_http_connections_timed_out_total{{phase=\"header\"}} {}\n\
             wasap_http_connections_timed_out_total{{phase=\"idle\"}} {}",
            load(&self.header_timeouts),
            load(&self.idle_timeouts)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_written_by_limit_and_phase() {
        let stats = Stats::default();
        let peer = "127.0.0.1".parse().unwrap();
        stats.refused(Refused::Full(1), peer);
        stats.refused(Refused::ClientFull(1), peer);
        stats.refused(Refused::ClientFull(1), peer);
        stats.timed_out(Expired::Header);
        stats.set_open(4);
        let mut text = String::new();
        stats.render(&mut text);
        for line in [
            "wasap_http_connections 4",
            "wasap_http_connections_refused_total{limit=\"server\"} 1",
            "wasap_http_connections_refused_total{limit=\"client\"} 2",
            "wasap_http_connections_timed_out_total{phase=\"header\"} 1",
            "wasap_http_connections_timed_out_total{phase=\"idle\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        // The warning went out once; the two refusals after it were counted for the next one.
        assert_eq!(stats.last_warning.lock().unwrap().map(|(_, since)| since), Some(2));
    }
}
