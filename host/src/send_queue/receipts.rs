//! Receipts move sent jobs on: a delivery receipt for a job's message id
//! makes it `delivered`, a read (or played) receipt `read`. Receipts are
//! read from the event bus; one that arrives while the listener lags far
//! behind is missed (the job stays where it was).

use std::sync::Arc;

use tokio::sync::broadcast;

use super::{JobStatus, SendQueue};
use crate::events::{Event, EventKind, ReceiptType};

pub(super) fn listen(queue: SendQueue, mut events: broadcast::Receiver<Arc<Event>>) {
    let mut stop = queue.inner.stop.subscribe();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = stop.wait_for(|stopped| *stopped) => return,
            };
            let event = match event {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the send queue missed events; some jobs may miss a receipt");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let EventKind::Receipt(receipt) = &event.kind else {
                continue;
            };
            let (from, to, status): (&[&str], _, _) = match receipt.receipt_type {
                ReceiptType::Delivered => (&["sent"], "delivered", JobStatus::Delivered),
                ReceiptType::Read | ReceiptType::Played => (&["sent", "delivered"], "read", JobStatus::Read),
            };
            for message_id in &receipt.ids {
                let now = queue.inner.clock.now_ms();
                match queue
                    .inner
                    .store
                    .receipt_send_job(&event.instance_id, message_id, from, to, now)
                    .await
                {
                    Ok(moved) => {
                        for job in moved {
                            let update = super::events::update(&job, status, None);
                            queue.changed(&event.instance_id, update).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "a receipt could not move its send job"),
                }
            }
        }
    });
}
