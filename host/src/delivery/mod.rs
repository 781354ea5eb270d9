//! Webhooks: the durable outbox and the HTTP delivery worker.
//!
//! The built-in webhook plugin (and any plugin granted the capability) asks
//! for `webhook` actions; the plugin host hands each one to [`Webhooks::enqueue_all`],
//! which resolves the receivers and writes one outbox row per receiver before
//! the event counts as handled. The [`worker`] then sends every pending row,
//! signed per format ([`signing`]), retrying with backoff, and survives
//! restarts because the rows are its only state.
//!
//! - [`settings`]: switches, retry schedule, global receivers.
//! - [`subscriptions`]: event filters and formats of configured webhooks.
//! - [`receivers`]: the configured webhooks, cached.
//! - [`signing`]: the signature header of each format.
//! - [`inserter`]: stores queued deliveries, many events per transaction.
//! - [`worker`]: runs the attempts, its bookkeeping written in batches.
//! - [`lanes`]: the worker's rows in memory, one bounded lane per receiver URL.
//! - [`attempt`]: one HTTP attempt and what it means for the row.

mod attempt;
mod inserter;
mod lanes;
mod receivers;
pub mod settings;
pub mod signing;
pub mod subscriptions;
mod worker;

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, oneshot};

pub use settings::{DeliverySettings, GlobalWebhook, Retention};

use wasap_events::Format;

use crate::outbound::Requester;
use crate::store::Store;
use crate::store::deliveries::NewDelivery;
use crate::system_events::SystemEvents;
use inserter::QueueRequest;
use receivers::Receivers;

/// Queue requests waiting for the worker before senders have to wait.
const QUEUE_REQUESTS: usize = 1024;

/// Why webhook requests could not be queued (the event's deliveries are lost).
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// Shared: one failed transaction answers every request it held.
    #[error("the webhook outbox could not store the deliveries: {0}")]
    Store(#[source] Arc<crate::store::StoreError>),
}

impl From<crate::store::StoreError> for QueueError {
    fn from(e: crate::store::StoreError) -> QueueError {
        QueueError::Store(Arc::new(e))
    }
}

/// A webhook request of a plugin, with the event it came from.
#[derive(Debug, Clone)]
pub struct PluginRequest {
    /// The event's instance; empty for events of no instance.
    pub instance_id: String,
    pub event_kind: String,
    pub plugin: String,
    pub request: Outgoing,
}

/// Where an outgoing webhook request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every enabled webhook of the event's instance in the request's format
    /// that subscribes to the event's kind, and for `gowa` the global ones.
    Subscribers,
    /// One URL, unsigned (the plugin's manifest allowed its host).
    Url(String),
}

/// A webhook request of a plugin, for the outbox.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub target: Target,
    pub format: String,
    /// `X-Wasap-Event-Id`, and the outbox's deduplication key per receiver.
    pub event_id: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// The webhook outbox and its worker. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    requester: Requester,
    settings: DeliverySettings,
    receivers: Receivers,
    /// Where deliveries that failed for good are announced (`/ws`).
    system: Option<SystemEvents>,
    /// The running worker's queue; without a worker, deliveries are stored directly.
    queue: Mutex<Option<mpsc::Sender<QueueRequest>>>,
    /// Tells the worker that rows it was not handed are due (a retry by the API).
    wake: Notify,
}

/// The running worker; dropping it or calling [`WorkerHandle::stop`] ends it
/// and every attempt in flight (their rows stay pending for the next start).
/// Deliveries queued from then on are stored directly.
pub struct WorkerHandle(Option<(tokio::task::JoinHandle<()>, Webhooks)>);

impl WorkerHandle {
    pub async fn stop(mut self) {
        if let Some((task, webhooks)) = self.0.take() {
            webhooks.detach_worker();
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        if let Some((task, webhooks)) = self.0.take() {
            webhooks.detach_worker();
            task.abort();
        }
    }
}

impl Webhooks {
    /// `system`, when given, hears of every delivery that fails for good.
    pub fn new(
        store: Store,
        requester: Requester,
        settings: DeliverySettings,
        system: Option<SystemEvents>,
    ) -> Webhooks {
        Webhooks {
            inner: Arc::new(Inner {
                receivers: Receivers::new(store.clone()),
                store,
                requester,
                settings,
                system,
                queue: Mutex::new(None),
                wake: Notify::new(),
            }),
        }
    }

    pub fn settings(&self) -> &DeliverySettings {
        &self.inner.settings
    }

    /// Starts sending the queued deliveries, those left from earlier runs
    /// first; nothing is sent while webhooks are switched off.
    pub fn start(&self) -> WorkerHandle {
        if !self.inner.settings.enabled {
            tracing::info!("webhook sending is off (WASAP_ENABLE_WEBHOOK / SUDEVWA_ENABLE_WEBHOOK)");
            return WorkerHandle(None);
        }
        let (sender, receiver) = mpsc::channel(QUEUE_REQUESTS);
        *self.inner.queue.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
        WorkerHandle(Some((tokio::spawn(worker::run(self.clone(), receiver)), self.clone())))
    }

    fn detach_worker(&self) {
        *self.inner.queue.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Wakes the worker: a delivery it was not handed is due now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Queues every request of `requests` for each of its receivers, all in
    /// one transaction; how many rows were new. Returns once they are stored.
    pub async fn enqueue_all(&self, requests: Vec<PluginRequest>) -> Result<usize, QueueError> {
        if !self.inner.settings.enabled {
            tracing::debug!(
                requests = requests.len(),
                "webhook sending is off; webhook requests are dropped"
            );
            return Ok(0);
        }
        let mut rows = Vec::new();
        for request in &requests {
            self.deliveries_of(request, &mut rows).await?;
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let queued = self.store(rows).await?;
        tracing::debug!(requests = requests.len(), queued, "webhook requests queued");
        Ok(queued)
    }

    /// Hands `rows` to the worker, or stores them directly when no worker
    /// runs (not started yet, or stopped while a plugin was still busy).
    async fn store(&self, rows: Vec<NewDelivery>) -> Result<usize, QueueError> {
        let queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(queue) = queue {
            let (done, answer) = oneshot::channel();
            // A copy stays here in case the worker is stopped before it
            // answers; storing twice is harmless (one row per receiver and event).
            if queue
                .send(QueueRequest {
                    rows: rows.clone(),
                    done,
                })
                .await
                .is_ok()
                && let Ok(result) = answer.await
            {
                return result;
            }
        }
        let stored = self.inner.store.enqueue_deliveries(&rows).await?.len();
        // A worker that is still running finds them when it looks.
        self.wake();
        Ok(stored)
    }

    /// The rows `request` makes, one per receiver, appended to `rows`.
    async fn deliveries_of(&self, request: &PluginRequest, rows: &mut Vec<NewDelivery>) -> Result<(), QueueError> {
        let settings = &self.inner.settings;
        let PluginRequest {
            instance_id,
            event_kind,
            plugin,
            request,
        } = request;
        let mut receivers: Vec<(String, String)> = Vec::new();
        match &request.target {
            Target::Subscribers => {
                if !instance_id.is_empty() {
                    for webhook in self.inner.receivers.of(instance_id).await?.iter() {
                        if webhook.enabled
                            && webhook.format == request.format
                            && subscriptions::wants(&webhook.events, event_kind)
                        {
                            receivers.push((webhook.id.clone(), webhook.url.clone()));
                        }
                    }
                }
                // Global webhooks take the gowa format only, and have no
                // event list: every kind but the opt-in ones.
                if request.format == Format::Gowa.name() && subscriptions::wants(&[], event_kind) {
                    receivers.extend(settings.global.iter().map(|g| (g.id.clone(), g.url.clone())));
                }
            }
            Target::Url(url) => receivers.push((
                format!("{}{}", settings::URL_PREFIX, settings::url_digest(url)),
                url.clone(),
            )),
        }
        tracing::debug!(%plugin, instance = %instance_id, event = %request.event_id, format = %request.format, receivers = receivers.len(), "webhook request");
        for (webhook_id, url) in receivers {
            rows.push(NewDelivery {
                id: crate::random::hex(16),
                webhook_id,
                instance_id: (!instance_id.is_empty()).then(|| instance_id.clone()),
                event_id: request.event_id.clone(),
                event_kind: event_kind.clone(),
                url,
                format: request.format.clone(),
                content_type: request.content_type.clone(),
                headers: request.headers.clone(),
                payload: request.body.clone(),
            });
        }
        Ok(())
    }
}
