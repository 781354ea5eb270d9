//! Receipts move sent jobs on: a delivery receipt for a job's message id
//! makes it `delivered`, a read (or played) receipt `read`. Receipts are
//! read from the event bus; one that arrives while the listener lags far
//! behind is missed (the job stays where it was).
//!
//! Receipts that wait together are handled together: a run of receipts of
//! one instance and one kind is one statement per many message ids, in the
//! order they came. Most receipts are for messages no job sent (direct sends,
//! or a phone's own), and a statement each would be a write per receipt.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::{JobStatus, SendQueue};
use crate::events::{Event, EventKind, ReceiptType};

/// Receipt events taken from the bus at once at most.
const EVENTS_PER_ROUND: usize = 256;

/// What one kind of receipt does to a job: the statuses it moves a job from,
/// the one it moves it to.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Move {
    from: &'static [&'static str],
    to: &'static str,
    status: JobStatus,
}

impl Move {
    fn of(receipt_type: ReceiptType) -> Move {
        match receipt_type {
            ReceiptType::Delivered => Move {
                from: &["sent"],
                to: "delivered",
                status: JobStatus::Delivered,
            },
            ReceiptType::Read | ReceiptType::Played => Move {
                from: &["sent", "delivered"],
                to: "read",
                status: JobStatus::Read,
            },
        }
    }
}

pub(super) fn listen(queue: SendQueue, mut events: broadcast::Receiver<Arc<Event>>) {
    let mut stop = queue.inner.stop.subscribe();
    tokio::spawn(async move {
        loop {
            let first = tokio::select! {
                event = events.recv() => event,
                _ = stop.wait_for(|stopped| *stopped) => return,
            };
            let mut round = Vec::new();
            let mut next = Some(first);
            while let Some(event) = next.take() {
                match event {
                    Ok(event) => {
                        if matches!(event.kind, EventKind::Receipt(_)) {
                            round.push(event);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the send queue missed events; some jobs may miss a receipt");
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        settle(&queue, &round).await;
                        return;
                    }
                }
                if round.len() < EVENTS_PER_ROUND {
                    next = match events.try_recv() {
                        Ok(event) => Some(Ok(event)),
                        Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                            Some(Err(broadcast::error::RecvError::Lagged(missed)))
                        }
                        Err(broadcast::error::TryRecvError::Closed) => Some(Err(broadcast::error::RecvError::Closed)),
                        Err(broadcast::error::TryRecvError::Empty) => None,
                    };
                }
            }
            settle(&queue, &round).await;
        }
    });
}

/// Moves the jobs of `receipts` (receipt events), a run of one instance and
/// one kind at a time, in order.
async fn settle(queue: &SendQueue, receipts: &[Arc<Event>]) {
    let mut run: Vec<&str> = Vec::new();
    let mut run_of: Option<(&str, Move)> = None;
    for event in receipts {
        let EventKind::Receipt(receipt) = &event.kind else {
            continue;
        };
        let key = (event.instance_id.as_str(), Move::of(receipt.receipt_type));
        if run_of.is_some_and(|of| of != key) {
            apply(queue, run_of.take(), &mut run).await;
        }
        run_of = Some(key);
        run.extend(receipt.ids.iter().map(String::as_str));
    }
    apply(queue, run_of, &mut run).await;
}

/// Applies one run's move to the jobs of `message_ids`, and empties it.
async fn apply(queue: &SendQueue, of: Option<(&str, Move)>, message_ids: &mut Vec<&str>) {
    let Some((instance_id, what)) = of else { return };
    if message_ids.is_empty() {
        return;
    }
    let now = queue.inner.clock.now_ms();
    match queue
        .inner
        .store
        .receipt_send_jobs(instance_id, message_ids, what.from, what.to, now)
        .await
    {
        Ok(moved) => {
            for job in moved {
                let update = super::events::update(&job, what.status, None);
                queue.changed(instance_id, update).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, receipts = message_ids.len(), "receipts could not move their send jobs"),
    }
    message_ids.clear();
}
