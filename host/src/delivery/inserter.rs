//! The outbox inserter: stores the deliveries plugins queue, many events per
//! transaction, and only then tells each sender its deliveries are safe.
//!
//! It runs beside the delivery [`super::worker`] so that a database that
//! flushes every commit to disk (PostgreSQL by default) delays neither side:
//! while one commit is flushed, the next batch gathers, and the attempts go
//! on. Stored rows go to the worker straight from memory.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{QueueError, Webhooks};
use crate::clock::now_ms;
use crate::store::deliveries::{DeliveryRow, NewDelivery};

/// Queue requests stored per transaction at most (each holds the deliveries
/// of a few events).
const REQUESTS_PER_BATCH: usize = 256;

/// Deliveries to store, and who waits to hear they are stored.
pub struct QueueRequest {
    pub rows: Vec<NewDelivery>,
    pub done: oneshot::Sender<Result<usize, QueueError>>,
}

/// Stores what arrives on `requests` until the channel closes or the task
/// is aborted; hands the rows it stored to `stored`.
pub async fn run(
    webhooks: Webhooks,
    mut requests: mpsc::Receiver<QueueRequest>,
    stored: mpsc::Sender<Vec<DeliveryRow>>,
) {
    let mut batch = Vec::with_capacity(REQUESTS_PER_BATCH);
    while requests.recv_many(&mut batch, REQUESTS_PER_BATCH).await > 0 {
        let rows = store(&webhooks, std::mem::take(&mut batch)).await;
        if !rows.is_empty() && stored.send(rows).await.is_err() {
            // The worker is gone (stopping): the rows are safe in the outbox.
            break;
        }
    }
}

/// Stores the deliveries of `requests` in one transaction and answers each
/// request; the rows that were new.
async fn store(webhooks: &Webhooks, requests: Vec<QueueRequest>) -> Vec<DeliveryRow> {
    let mut rows: Vec<NewDelivery> = Vec::new();
    let mut answers = Vec::with_capacity(requests.len());
    for request in requests {
        answers.push((request.rows.len(), request.done));
        rows.extend(request.rows);
    }
    match webhooks.inner.store.enqueue_deliveries(&rows).await {
        Ok(inserted) => {
            let inserted: HashSet<String> = inserted.into_iter().collect();
            let now_ms = now_ms();
            let mut rows = rows.into_iter();
            let mut new_rows = Vec::with_capacity(inserted.len());
            for (count, done) in answers {
                let before = new_rows.len();
                new_rows.extend(
                    rows.by_ref()
                        .take(count)
                        .filter(|row| inserted.contains(&row.id))
                        .map(|row| row.into_pending_row(now_ms)),
                );
                let _ = done.send(Ok(new_rows.len() - before));
            }
            new_rows
        }
        Err(e) => {
            let error = Arc::new(e);
            tracing::error!(error = %error, deliveries = rows.len(), "webhook deliveries could not be stored");
            for (_, done) in answers {
                let _ = done.send(Err(QueueError::Store(error.clone())));
            }
            Vec::new()
        }
    }
}
