//! Per-plugin counters for `GET /metrics`, and the alert about a failing
//! built-in output.
//!
//! - `wasap_plugin_reloads_total{plugin}`: how often a plugin's files were
//!   loaded (at start-up, by an upload, by a change of its files). Files that
//!   did not change are not loaded again, so on an idle server it stays put.
//! - `wasap_plugin_builtin_failures_total{plugin}`: failures of the built-in
//!   outputs, which are never quarantined (see [`super::chain`]). The first
//!   failure, and then at most one per [`ALERT_EVERY`] while they go on, also
//!   raises a `system` event, so an operator learns that webhooks or frames
//!   are being lost without a flood of notices.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least time between two alerts about one built-in output.
pub const ALERT_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Counts {
    loads: u64,
    builtin_failures: u64,
    last_alert: Option<Instant>,
}

/// The counters of every plugin seen since the server started.
#[derive(Debug, Default)]
pub struct PluginCounters {
    inner: Mutex<BTreeMap<String, Counts>>,
}

impl PluginCounters {
    fn with<R>(&self, name: &str, f: impl FnOnce(&mut Counts) -> R) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(inner.entry(name.to_owned()).or_default())
    }

    /// Counts one load of plugin `name`'s files.
    pub fn count_load(&self, name: &str) {
        self.with(name, |c| c.loads += 1);
    }

    /// How often plugin `name`'s files were loaded.
    pub fn loads(&self, name: &str) -> u64 {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.get(name).map_or(0, |c| c.loads)
    }

    /// Counts a failure of the built-in output `name` at `now`; the failures
    /// so far when an alert is due (the first one, then one per [`ALERT_EVERY`]).
    pub fn builtin_failed(&self, name: &str, now: Instant) -> Option<u64> {
        self.with(name, |c| {
            c.builtin_failures += 1;
            let due = c.last_alert.is_none_or(|last| now.duration_since(last) >= ALERT_EVERY);
            if due {
                c.last_alert = Some(now);
            }
            due.then_some(c.builtin_failures)
        })
    }

    /// The Prometheus text of the counters.
    pub fn render(&self, out: &mut String) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Plugin names are [a-z0-9-]: nothing to escape in a label.
        out.push_str(
            "# HELP wasap_plugin_reloads_total Loads of a plugin's files: start-up, uploads and changed files.\n",
        );
        out.push_str("# TYPE wasap_plugin_reloads_total counter\n");
        for (name, counts) in inner.iter().filter(|(_, c)| c.loads > 0) {
            let _ = writeln!(out, "wasap_plugin_reloads_total{{plugin=\"{name}\"}} {}", counts.loads);
        }
        out.push_str(
            "# HELP wasap_plugin_builtin_failures_total Failures of the built-in outputs (never quarantined).\n",
        );
        out.push_str("# TYPE wasap_plugin_builtin_failures_total counter\n");
        for (name, counts) in inner.iter().filter(|(_, c)| c.builtin_failures > 0) {
            let _ = writeln!(
                out,
                "wasap_plugin_builtin_failures_total{{plugin=\"{name}\"}} {}",
                counts.builtin_failures
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_builtin_is_alerted_at_first_then_at_most_once_a_minute() {
        let counters = PluginCounters::default();
        let start = Instant::now();
        assert_eq!(counters.builtin_failed("webhook", start), Some(1));
        assert_eq!(counters.builtin_failed("webhook", start + Duration::from_secs(1)), None);
        assert_eq!(counters.builtin_failed("websocket", start), Some(1), "per plugin");
        assert_eq!(counters.builtin_failed("webhook", start + ALERT_EVERY), Some(3));
        counters.count_load("echo");
        counters.count_load("echo");
        assert_eq!(counters.loads("echo"), 2);
        let mut text = String::new();
        counters.render(&mut text);
        assert!(text.contains("wasap_plugin_reloads_total{plugin=\"echo\"} 2"), "{text}");
        assert!(
            text.contains("wasap_plugin_builtin_failures_total{plugin=\"webhook\"} 3"),
            "{text}"
        );
        assert!(
            !text.contains("wasap_plugin_reloads_total{plugin=\"webhook\"}"),
            "{text}"
        );
    }
}
