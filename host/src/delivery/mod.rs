//! Webhooks: the durable outbox and the HTTP delivery worker.
//!
//! The built-in webhook plugin (and any plugin granted the capability) asks
//! for `webhook` actions; the plugin host hands each one to [`Webhooks::enqueue`],
//! which resolves the receivers and writes one outbox row per receiver before
//! the event counts as handled. The [`worker`] then sends every pending row,
//! signed per format ([`signing`]), retrying with backoff, and survives
//! restarts because the rows are its only state.
//!
//! - [`settings`]: switches, retry schedule, global receivers.
//! - [`subscriptions`]: event filters and formats of configured webhooks.
//! - [`signing`]: the signature header of each format.
//! - [`worker`]: claims due rows, one bounded lane per receiver URL.
//! - [`attempt`]: one HTTP attempt and what it means for the row.

mod attempt;
pub mod settings;
pub mod signing;
pub mod subscriptions;
mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

pub use settings::{DeliverySettings, GlobalWebhook};

use crate::outbound::Requester;
use crate::store::deliveries::NewDelivery;
use crate::store::{Store, StoreError};

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
    /// Wakes the worker when rows were queued.
    wake: Notify,
}

/// The running worker; dropping it or calling [`WorkerHandle::stop`] ends it
/// and every attempt in flight (their rows stay pending for the next start).
pub struct WorkerHandle(Option<tokio::task::JoinHandle<()>>);

impl WorkerHandle {
    pub async fn stop(mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

impl Webhooks {
    pub fn new(store: Store, requester: Requester, settings: DeliverySettings) -> Webhooks {
        Webhooks {
            inner: Arc::new(Inner {
                store,
                requester,
                settings,
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
        WorkerHandle(Some(tokio::spawn(worker::run(self.clone()))))
    }

    /// Wakes the worker: a delivery is due now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Queues `request` of `plugin`, made from an event of `instance_id` of
    /// kind `event_kind`, for each of its receivers; how many rows were new.
    /// Returns once the rows are stored.
    pub async fn enqueue(&self, instance_id: &str, event_kind: &str, plugin: &str, request: Outgoing) -> Result<usize, StoreError> {
        let settings = &self.inner.settings;
        if !settings.enabled {
            tracing::debug!(%plugin, instance = %instance_id, "webhook sending is off; a webhook request is dropped");
            return Ok(0);
        }
        let mut receivers: Vec<(String, String)> = Vec::new();
        match &request.target {
            Target::Subscribers => {
                if !instance_id.is_empty() {
                    for webhook in self.inner.store.webhooks_for(instance_id, &request.format).await? {
                        if subscriptions::wants(&webhook.events, event_kind) {
                            receivers.push((webhook.id, webhook.url));
                        }
                    }
                }
                if request.format == "gowa" {
                    receivers.extend(settings.global.iter().map(|g| (g.id.clone(), g.url.clone())));
                }
            }
            Target::Url(url) => receivers.push((format!("{}{}", settings::URL_PREFIX, settings::url_digest(url)), url.clone())),
        }
        let mut queued = 0;
        for (webhook_id, url) in receivers {
            let delivery = NewDelivery {
                id: crate::random::hex(16),
                webhook_id,
                instance_id: (!instance_id.is_empty()).then(|| instance_id.to_owned()),
                event_id: request.event_id.clone(),
                event_kind: event_kind.to_owned(),
                url,
                format: request.format.clone(),
                content_type: request.content_type.clone(),
                headers: request.headers.clone(),
                payload: request.body.clone(),
            };
            if self.inner.store.enqueue_delivery(&delivery).await? {
                queued += 1;
            }
        }
        if queued > 0 {
            self.wake();
        }
        tracing::debug!(%plugin, instance = %instance_id, event = %request.event_id, format = %request.format, queued, "webhook request queued");
        Ok(queued)
    }
}
