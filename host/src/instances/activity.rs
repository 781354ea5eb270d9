//! What an instance's traffic says about its health: when something last
//! came in from WhatsApp, how often it reconnected, how many sends WhatsApp
//! refused. Counted in memory since the server started (a restart starts at
//! zero), shown as the instance's `stats` and, labelled by instance, in
//! `/metrics`.
//!
//! The inbound side is counted by wrapping the instance's inbound sink
//! ([`Activity::wrap`]): whatever it journals or passes on came in.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use async_trait::async_trait;

use crate::clock;
use crate::engine::{InboundClosed, InboundEvent, InboundSink};
use crate::events::EventKind;

/// One instance's counters.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Unix ms of the last inbound event; 0 before the first.
    last_inbound_ms: AtomicI64,
    reconnects: AtomicU64,
    send_failures: AtomicU64,
}

/// An instance's counters, as `GET /api/instances/{id}` shows them (`stats`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct InstanceStats {
    /// When the last inbound event (message, receipt, call, chat state, ...) came in
    /// (RFC 3339); `null` before the first one since the server started.
    pub last_inbound_at: Option<String>,
    /// Seconds since then.
    pub last_inbound_age_secs: Option<u64>,
    /// Connections the instance opened again after losing one (a drop, a ban's end, the
    /// watchdog, `POST /reconnect`).
    pub reconnects: u64,
    /// Sends WhatsApp refused or that failed on the way (the instance was connected).
    pub send_failures: u64,
}

impl Activity {
    pub(crate) fn heard_inbound(&self) {
        self.last_inbound_ms.store(clock::now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn send_failed(&self) {
        self.send_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> InstanceStats {
        let last = Some(self.last_inbound_ms.load(Ordering::Relaxed)).filter(|ms| *ms > 0);
        InstanceStats {
            last_inbound_at: last.map(|ms| clock::rfc3339(ms.div_euclid(1000))),
            last_inbound_age_secs: last.map(|ms| (clock::now_ms() - ms).max(0) as u64 / 1000),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            send_failures: self.send_failures.load(Ordering::Relaxed),
        }
    }

    /// `sink`, noting the time of everything that passes it.
    pub(crate) fn wrap(self: &Arc<Self>, sink: Arc<dyn InboundSink>) -> Arc<dyn InboundSink> {
        Arc::new(Sink {
            inner: sink,
            activity: self.clone(),
        })
    }
}

struct Sink {
    inner: Arc<dyn InboundSink>,
    activity: Arc<Activity>,
}

#[async_trait]
impl InboundSink for Sink {
    async fn accept(&self, events: Vec<InboundEvent>) -> Result<(), InboundClosed> {
        if !events.is_empty() {
            self.activity.heard_inbound();
        }
        self.inner.accept(events).await
    }

    async fn pass_on(&self, kind: EventKind) {
        self.activity.heard_inbound();
        self.inner.pass_on(kind).await;
    }

    fn holding(&self, change: isize) {
        self.inner.holding(change);
    }
}

/// The per-instance lines of `/metrics`: `(instance, stats)` in order.
pub fn render_metrics(out: &mut String, instances: &[(String, InstanceStats)]) {
    use std::fmt::Write;
    let escape = |value: &str| value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n");
    out.push_str(
        "# HELP wasap_instance_last_inbound_age_seconds Seconds since the instance last received anything (absent before the first).\n\
         # TYPE wasap_instance_last_inbound_age_seconds gauge\n",
    );
    for (id, stats) in instances {
        if let Some(age) = stats.last_inbound_age_secs {
            let _ = writeln!(
                out,
                "wasap_instance_last_inbound_age_seconds{{instance=\"{}\"}} {age}",
                escape(id)
            );
        }
    }
    out.push_str(
        "# HELP wasap_instance_reconnects_total Connections an instance opened again after losing one.\n\
         # TYPE wasap_instance_reconnects_total counter\n",
    );
    for (id, stats) in instances {
        let _ = writeln!(
            out,
            "wasap_instance_reconnects_total{{instance=\"{}\"}} {}",
            escape(id),
            stats.reconnects
        );
    }
    out.push_str(
        "# HELP wasap_instance_send_failures_total Sends of an instance that WhatsApp refused or that failed.\n\
         # TYPE wasap_instance_send_failures_total counter\n",
    );
    for (id, stats) in instances {
        let _ = writeln!(
            out,
            "wasap_instance_send_failures_total{{instance=\"{}\"}} {}",
            escape(id),
            stats.send_failures
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_show_in_the_stats_and_the_metrics() {
        let activity = Activity::default();
        assert_eq!(activity.stats().last_inbound_at, None);
        activity.heard_inbound();
        activity.reconnected();
        activity.send_failed();
        activity.send_failed();
        let stats = activity.stats();
        assert!(stats.last_inbound_at.is_some());
        assert_eq!(stats.last_inbound_age_secs, Some(0));
        assert_eq!((stats.reconnects, stats.send_failures), (1, 2));
        let mut out = String::new();
        render_metrics(&mut out, &[("shop\"1".to_owned(), stats)]);
        assert!(out.contains("wasap_instance_last_inbound_age_seconds{instance=\"shop\\\"1\"} 0\n"));
        assert!(out.contains("wasap_instance_reconnects_total{instance=\"shop\\\"1\"} 1\n"));
        assert!(out.contains("wasap_instance_send_failures_total{instance=\"shop\\\"1\"} 2\n"));
    }
}
