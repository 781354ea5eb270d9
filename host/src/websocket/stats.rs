//! WebSocket counters for `GET /metrics`, by route (`/ws` or `/api/listen`:
//! never the instance id, so there are two series per metric whatever the
//! number of instances): frames sent, connections closed for being too slow
//! or idle. Open connections are counted by the hub and passed in when the
//! metrics are written.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Channel;

/// The route label of a channel.
fn route(channel: &Channel) -> usize {
    match channel {
        Channel::Global => 0,
        Channel::Instance(_) => 1,
    }
}

const ROUTES: [&str; 2] = ["/ws", "/api/listen"];

/// The counters of both routes.
#[derive(Debug, Default)]
pub struct Stats {
    frames_sent: [AtomicU64; 2],
    too_slow: [AtomicU64; 2],
    idle: [AtomicU64; 2],
}

impl Stats {
    /// A frame was written to a connection on `channel` (pings and close frames are not counted).
    pub fn frame_sent(&self, channel: &Channel) {
        self.frames_sent[route(channel)].fetch_add(1, Ordering::Relaxed);
    }

    /// A connection on `channel` was closed for falling too far behind.
    pub fn closed_too_slow(&self, channel: &Channel) {
        self.too_slow[route(channel)].fetch_add(1, Ordering::Relaxed);
    }

    /// A connection on `channel` was closed for staying silent too long.
    pub fn closed_idle(&self, channel: &Channel) {
        self.idle[route(channel)].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text of every counter, with the open connections per
    /// route (`open[0]` on `/ws`, `open[1]` on `/api/listen`).
    pub fn render(&self, open: [usize; 2], out: &mut String) {
        out.push_str("# HELP wasap_websocket_connections Open WebSocket connections, by route.\n");
        out.push_str("# TYPE wasap_websocket_connections gauge\n");
        for (route, count) in ROUTES.iter().zip(open) {
            let _ = writeln!(out, "wasap_websocket_connections{{route=\"{route}\"}} {count}");
        }
        let counters = [
            (
                "wasap_websocket_frames_sent_total",
                "WebSocket frames sent to clients, by route.",
                &self.frames_sent,
            ),
            (
                "wasap_websocket_closed_too_slow_total",
                "WebSocket connections closed because their reader fell too far behind, by route.",
                &self.too_slow,
            ),
            (
                "wasap_websocket_idle_timeouts_total",
                "WebSocket connections closed after showing no sign of life for the idle timeout, by route.",
                &self.idle,
            ),
        ];
        for (name, help, values) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (route, value) in ROUTES.iter().zip(values) {
                let _ = writeln!(out, "{name}{{route=\"{route}\"}} {}", value.load(Ordering::Relaxed));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_kept_per_route_never_per_instance() {
        let stats = Stats::default();
        stats.frame_sent(&Channel::Global);
        stats.frame_sent(&Channel::Instance("a".into()));
        stats.frame_sent(&Channel::Instance("b".into()));
        stats.closed_too_slow(&Channel::Instance("a".into()));
        stats.closed_idle(&Channel::Global);
        let mut text = String::new();
        stats.render([3, 1], &mut text);
        for line in [
            "wasap_websocket_connections{route=\"/ws\"} 3",
            "wasap_websocket_connections{route=\"/api/listen\"} 1",
            "wasap_websocket_frames_sent_total{route=\"/ws\"} 1",
            "wasap_websocket_frames_sent_total{route=\"/api/listen\"} 2",
            "wasap_websocket_closed_too_slow_total{route=\"/ws\"} 0",
            "wasap_websocket_closed_too_slow_total{route=\"/api/listen\"} 1",
            "wasap_websocket_idle_timeouts_total{route=\"/ws\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 8);
    }
}
