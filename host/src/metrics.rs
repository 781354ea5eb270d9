//! Counters for `GET /metrics`, kept in memory and written in the Prometheus
//! text format: HTTP requests by route template, method and status (with a
//! latency histogram), and messages sent by instance and kind. Instance
//! counts by status are read when the metrics are written, and so are the
//! inbound pipeline's counters (`instances::inbound`) and the failed writes
//! it retries (`write_retry`).
//!
//! Label sets are bounded: routes are templates, never raw paths, methods
//! outside the API's few are folded into `OTHER`, and past
//! [`MAX_SENT_SERIES`] instance/kind pairs new ones are counted as `_other`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::instances::InboundStats;
use crate::write_retry::WriteRetry;

/// Upper bounds of the request latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

/// At most this many instance/kind series for sent messages.
pub const MAX_SENT_SERIES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RequestKey {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Default, Clone)]
struct RequestStats {
    count: u64,
    seconds: f64,
    /// Not cumulative: `buckets[i]` counts requests that took at most
    /// `LATENCY_BUCKETS[i]` and more than the bound before it.
    buckets: [u64; LATENCY_BUCKETS.len()],
}

/// The server's counters. Shared behind an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<HashMap<RequestKey, RequestStats>>,
    sent: Mutex<HashMap<(String, &'static str), u64>>,
    /// Open, refused and timed-out HTTP connections, kept by the front door.
    pub connections: Arc<crate::front_door::Stats>,
    /// The inbound pipeline's counters and its retried writes, once attached.
    inbound: OnceLock<(Arc<InboundStats>, WriteRetry)>,
}

impl Metrics {
    /// Writes the inbound pipeline's counters and retried writes too (once).
    pub fn attach_inbound(&self, stats: Arc<InboundStats>, retry: WriteRetry) {
        let _ = self.inbound.set((stats, retry));
    }

    /// Counts one answered request. `route` is a path template or `unmatched`.
    pub fn observe_request(&self, route: &'static str, method: &str, status: u16, elapsed: Duration) {
        let key = RequestKey {
            route,
            method: known_method(method),
            status,
        };
        let seconds = elapsed.as_secs_f64();
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let stats = requests.entry(key).or_default();
        stats.count += 1;
        stats.seconds += seconds;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
            stats.buckets[i] += 1;
        }
    }

    /// Counts one message sent by `instance`; `kind` is `text`, `image`, ...
    pub fn message_sent(&self, instance: &str, kind: &'static str) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = sent.get_mut(&(instance.to_owned(), kind)) {
            *count += 1;
            return;
        }
        let instance = if sent.len() < MAX_SENT_SERIES {
            instance
        } else {
            "_other"
        };
        *sent.entry((instance.to_owned(), kind)).or_default() += 1;
    }

    /// The Prometheus text exposition of every counter, with the instance
    /// counts given by status.
    pub fn render(&self, instances_by_status: &BTreeMap<String, i64>) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        self.render_sent(&mut out);
        self.connections.render(&mut out);
        if let Some((stats, retry)) = self.inbound.get() {
            stats.render(&mut out);
            retry.render_metrics(&mut out);
        }
        crate::store::sqlite_busy::render_metrics(&mut out);
        out.push_str("# HELP wasap_instances Instances by connection status.\n# TYPE wasap_instances gauge\n");
        for (status, count) in instances_by_status {
            let _ = writeln!(out, "wasap_instances{{status=\"{}\"}} {count}", escape(status));
        }
        out
    }

    fn render_requests(&self, out: &mut String) {
        let requests: BTreeMap<RequestKey, RequestStats> = {
            let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            requests.iter().map(|(k, v)| (*k, v.clone())).collect()
        };
        out.push_str("# HELP wasap_http_requests_total HTTP requests by route template, method and status.\n");
        out.push_str("# TYPE wasap_http_requests_total counter\n");
        for (key, stats) in &requests {
            let _ = writeln!(out, "wasap_http_requests_total{{{}}} {}", labels(key), stats.count);
        }
        out.push_str("# HELP wasap_http_request_duration_seconds Time to answer HTTP requests.\n");
        out.push_str("# TYPE wasap_http_request_duration_seconds histogram\n");
        for (key, stats) in &requests {
            let labels = labels(key);
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(stats.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "wasap_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "wasap_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "wasap_http_request_duration_seconds_sum{{{labels}}} {}",
                stats.seconds
            );
            let _ = writeln!(
                out,
                "wasap_http_request_duration_seconds_count{{{labels}}} {}",
                stats.count
            );
        }
    }

    fn render_sent(&self, out: &mut String) {
        let sent: BTreeMap<(String, &'static str), u64> = {
            let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
            sent.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        out.push_str("# HELP wasap_messages_sent_total Messages sent, by instance and kind.\n");
        out.push_str("# TYPE wasap_messages_sent_total counter\n");
        for ((instance, kind), count) in &sent {
            let _ = writeln!(
                out,
                "wasap_messages_sent_total{{instance=\"{}\",kind=\"{kind}\"}} {count}",
                escape(instance)
            );
        }
    }
}

fn labels(key: &RequestKey) -> String {
    format!(
        "route=\"{}\",method=\"{}\",status=\"{}\"",
        escape(key.route),
        key.method,
        key.status
    )
}

fn known_method(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN.into_iter().find(|known| *known == method).unwrap_or("OTHER")
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_template_method_and_status_with_a_histogram() {
        let metrics = Metrics::default();
        metrics.observe_request("/api/send/{id}", "POST", 200, Duration::from_micros(300));
        metrics.observe_request("/api/send/{id}", "POST", 200, Duration::from_millis(3));
        metrics.observe_request("unmatched", "BREW", 404, Duration::from_millis(1));
        let text = metrics.render(&BTreeMap::new());
        assert!(
            text.contains("wasap_http_requests_total{route=\"/api/send/{id}\",method=\"POST\",status=\"200\"} 2\n")
        );
        assert!(text.contains("wasap_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1\n"));
        let bucket = |le: &str| {
            format!(
                "wasap_http_request_duration_seconds_bucket{{route=\"/api/send/{{id}}\",method=\"POST\",status=\"200\",le=\"{le}\"}}"
            )
        };
        assert!(text.contains(&format!("{} 1\n", bucket("0.0005"))));
        assert!(text.contains(&format!("{} 1\n", bucket("0.0025"))));
        assert!(text.contains(&format!("{} 2\n", bucket("0.005"))));
        assert!(text.contains(&format!("{} 2\n", bucket("+Inf"))));
    }

    #[test]
    fn sent_messages_are_counted_and_their_series_bounded() {
        let metrics = Metrics::default();
        metrics.message_sent("a", "text");
        metrics.message_sent("a", "text");
        metrics.message_sent("a", "image");
        for i in 0..MAX_SENT_SERIES + 5 {
            metrics.message_sent(&format!("n{i}"), "text");
        }
        metrics.message_sent("a", "text");
        let text = metrics.render(&BTreeMap::from([("online".to_owned(), 3)]));
        assert!(text.contains("wasap_messages_sent_total{instance=\"a\",kind=\"text\"} 3\n"));
        assert!(text.contains("wasap_messages_sent_total{instance=\"a\",kind=\"image\"} 1\n"));
        assert!(text.contains("wasap_messages_sent_total{instance=\"_other\",kind=\"text\"} 7\n"));
        assert!(text.contains("wasap_instances{status=\"online\"} 3\n"));
        assert_eq!(text.matches("wasap_messages_sent_total{").count(), MAX_SENT_SERIES + 1);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
