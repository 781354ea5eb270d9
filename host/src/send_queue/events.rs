//! Job status events (`queue_job`, docs/API.md "Send queue"): every status a
//! job takes becomes one event, published as a `queue.job` frame on `/ws`
//! and handed to the plugin chain, where the built-in webhook output turns
//! it into payloads for the webhooks that name `queue_job` in their `events`
//! (the kind is opt-in: an empty filter leaves it out).
//!
//! As for `system` notices, the host publishes the `/ws` frame itself (the
//! websocket output's manifest leaves `queue_job` out), so a frame is queued
//! on every open connection before the status change returns. The plugin
//! chain is fed by one task, through a bounded channel: events keep their
//! order (the chain keeps each instance's order), a chain that falls behind
//! makes the queue wait instead of piling events up, and no event costs a
//! database round trip of its own (the webhook outbox writes them in
//! batches). They are not broadcast on the event bus: a bulk of thousands of
//! jobs would push the receipts the queue itself listens for out of it.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::events::{Bus, Event, EventKind, new_event_id, sudevwa};
use crate::store::send_jobs::JobRow;
use crate::websocket::{Channel, Hub};
use wasap_events::{JobStatus, QueueJob};

/// Events waiting for the plugin chain before the queue has to wait.
const CHAIN_QUEUE: usize = 1024;

/// Where job status events go. Cheap to clone.
#[derive(Clone)]
pub(super) struct JobEvents {
    hub: Hub,
    chain: mpsc::Sender<Arc<Event>>,
}

impl JobEvents {
    /// Publishes to `hub`, and starts the task that feeds the plugin chain
    /// through `bus` until `stop` turns true.
    pub(super) fn start(bus: Bus, hub: Hub, mut stop: watch::Receiver<bool>) -> JobEvents {
        let (chain, mut events) = mpsc::channel::<Arc<Event>>(CHAIN_QUEUE);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = stop.wait_for(|stopped| *stopped) => return,
                };
                let Some(event) = event else { return };
                bus.dispatch(event).await;
            }
        });
        JobEvents { hub, chain }
    }

    /// Emits `job`'s new status, which it took at `at_ms` (the queue's clock).
    pub(super) async fn emit(&self, instance_id: &str, at_ms: i64, job: QueueJob) {
        let event = Arc::new(Event {
            id: new_event_id(),
            instance_id: instance_id.to_owned(),
            at_us: at_ms.saturating_mul(1000),
            kind: EventKind::QueueJob(job),
        });
        if let Some(frame) = sudevwa::to_vec(&event).and_then(|bytes| String::from_utf8(bytes).ok()) {
            self.hub.publish(&Channel::Global, Arc::from(frame));
        }
        // Closed only once the queue stops: the event is not needed then.
        let _ = self.chain.send(event).await;
    }
}

/// The event of `row` taking `status`; `failure` is the reason of a failed
/// attempt, if this change comes from one.
pub(super) fn update(row: &JobRow, status: JobStatus, failure: Option<&str>) -> QueueJob {
    QueueJob {
        job_id: row.id,
        status,
        kind: row.kind.clone(),
        batch_id: row.batch_id.clone(),
        message_id: row.message_id.clone(),
        failure: failure.map(str::to_owned),
        to: recipient(&row.request),
    }
}

/// The `to` of a stored request, read without building the whole request.
pub(super) fn recipient(request: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct To {
        to: Option<String>,
    }
    serde_json::from_str::<To>(request).ok().and_then(|r| r.to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipient_is_read_from_the_stored_request() {
        assert_eq!(
            recipient(r#"{"message":"hi","to":"6281234567890"}"#).as_deref(),
            Some("6281234567890")
        );
        assert_eq!(recipient(r#"{"message":"hi"}"#), None);
        assert_eq!(recipient("not json"), None);
    }
}
