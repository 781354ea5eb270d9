//! The plugin host: which plugins are installed, the chain they form, and
//! the per-instance workers that pass every event through the chain and
//! carry out the actions that come out of it.
//!
//! Each instance has its own worker and bounded queue, so events of one
//! instance keep their order and a slow plugin on one instance never holds
//! up another's events; a full queue makes the publisher wait rather than
//! lose an event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Semaphore, mpsc};

use super::bindings::types;
use super::builtin::Builtin;
use super::chain::{Chain, ChainOutcome, PluginFailure};
use super::engine::PluginEngine;
use super::registry::Registry;
use super::runner::HostServices;
use crate::delivery::{Outgoing, PluginRequest, Target, Webhooks};
use crate::engine::MediaKind;
use crate::events::{Bus, Event, EventFeed, EventKind, new_event};
use crate::messaging::outgoing_media::{MediaFromUrl, MediaUrlError};
use crate::messaging::{Messenger, SendError};
use crate::system_events::SystemEvents;
use crate::websocket::{Channel, Hub};

/// Events waiting per instance before its publisher has to wait.
const QUEUE: usize = 1024;
/// Events an instance's worker takes at once.
const BATCH: usize = 64;
/// Sends waiting per instance before its worker has to wait.
const SENDS: usize = 256;
/// Plugin actions (sends) carried out at the same time, server-wide.
const CONCURRENT_ACTIONS: usize = 64;

/// Where the plugins come from.
pub struct PluginSources {
    /// The plugins directory (`NAME.toml` + `NAME.wasm`), watched for changes.
    pub dir: std::path::PathBuf,
    /// Compiled components by content hash, for every plugin, built-in or not.
    pub cache_dir: std::path::PathBuf,
    /// The built-in plugins the configuration switches on.
    pub builtins: Vec<&'static Builtin>,
}

/// The plugin host. Cheap to clone.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

struct Inner {
    chain: Arc<Chain>,
    registry: Arc<Registry>,
    /// Reloads plugins whose files change; stops when the host is dropped.
    _watcher: Option<notify::RecommendedWatcher>,
    queues: Mutex<HashMap<String, mpsc::Sender<Arc<Event>>>>,
    outputs: ActionOutputs,
    bus: Bus,
    actions: Arc<Semaphore>,
}

/// What plugins' actions reach.
#[derive(Clone)]
pub struct ActionOutputs {
    /// `send-text` and `send-media`.
    pub messenger: Messenger,
    /// The media of `send-media`, fetched by URL.
    pub media: MediaFromUrl,
    /// `publish`.
    pub hub: Hub,
    /// `webhook`.
    pub webhooks: Webhooks,
}

impl PluginHost {
    /// A host over the built-in plugins and those of the plugins directory, loaded now.
    pub async fn start(
        engine: Arc<PluginEngine>,
        sources: PluginSources,
        services: HostServices,
        outputs: ActionOutputs,
        system: SystemEvents,
    ) -> PluginHost {
        let chain = Arc::new(Chain::default());
        let PluginSources {
            dir,
            cache_dir,
            builtins,
        } = sources;
        let bus = system.bus().clone();
        let registry = Arc::new(Registry::new(
            engine,
            dir,
            cache_dir,
            services,
            chain.clone(),
            system,
            builtins,
        ));
        registry.load_all().await;
        let watcher = match super::watch::watch(&registry) {
            Ok(watcher) => Some(watcher),
            Err(e) => {
                tracing::warn!(dir = %registry.dir().display(), error = %e, "plugins will not hot-reload: the directory cannot be watched");
                None
            }
        };
        PluginHost {
            inner: Arc::new(Inner {
                chain,
                registry,
                _watcher: watcher,
                queues: Mutex::new(HashMap::new()),
                outputs,
                bus,
                actions: Arc::new(Semaphore::new(CONCURRENT_ACTIONS)),
            }),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The queue of `instance_id`'s worker, started on first use.
    fn queue(&self, instance_id: &str) -> mpsc::Sender<Arc<Event>> {
        let mut queues = self.inner.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(queue) = queues.get(instance_id)
            && !queue.is_closed()
        {
            return queue.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        queues.insert(instance_id.to_owned(), sender.clone());
        tokio::spawn(work(Arc::downgrade(&self.inner), receiver));
        sender
    }

    /// Reports the chain's failures and carries out its actions. Sends go to
    /// the instance's send lane, so replies leave in the order of the events
    /// that caused them, while the next event already runs through the chain.
    /// Webhook requests are collected in `webhooks`, for the worker to queue
    /// together with those of the other events of its batch.
    async fn carry_out(
        &self,
        instance_id: &str,
        event_kind: &str,
        outcome: ChainOutcome,
        was_plugin_error: bool,
        sends: &mpsc::Sender<PlannedSend>,
        webhooks: &mut Vec<PluginRequest>,
    ) {
        for failure in outcome.failures {
            self.report(instance_id, failure, was_plugin_error);
        }
        for planned in outcome.actions {
            let plugin = planned.plugin.name().to_owned();
            match planned.action {
                types::Action::SendText(send) => {
                    self.plan(
                        instance_id,
                        sends,
                        PlannedSend {
                            plugin,
                            send: Message::Text(send),
                        },
                    )
                    .await
                }
                types::Action::SendMedia(send) => {
                    self.plan(
                        instance_id,
                        sends,
                        PlannedSend {
                            plugin,
                            send: Message::Media(send),
                        },
                    )
                    .await
                }
                // The chain has checked the grant and that an instance channel
                // is the event's own; the hub never waits on a listener.
                types::Action::Publish(publish) => {
                    let channel = match publish.channel {
                        types::Channel::Global => Channel::Global,
                        types::Channel::Instance(id) => Channel::Instance(id),
                    };
                    self.inner.outputs.hub.publish(&channel, Arc::from(publish.frame));
                }
                types::Action::Webhook(request) => {
                    let request = Outgoing {
                        target: match request.target {
                            types::WebhookTarget::Subscribers => Target::Subscribers,
                            types::WebhookTarget::Url(url) => Target::Url(url),
                        },
                        format: request.format,
                        event_id: request.event_id,
                        content_type: request.content_type,
                        body: request.body,
                        headers: request.headers,
                    };
                    webhooks.push(PluginRequest {
                        instance_id: instance_id.to_owned(),
                        event_kind: event_kind.to_owned(),
                        plugin,
                        request,
                    });
                }
            }
        }
    }

    async fn plan(&self, instance_id: &str, sends: &mpsc::Sender<PlannedSend>, send: PlannedSend) {
        if sends.send(send).await.is_err() {
            tracing::error!(instance = %instance_id, "the send lane of an instance stopped; a plugin's message was not sent");
        }
    }

    /// Tells `/ws` listeners (and plugins subscribed to `plugin_error`) that a
    /// plugin failed. A failure on a `plugin_error` event is only logged, so a
    /// failing plugin cannot feed itself.
    fn report(&self, instance_id: &str, failure: PluginFailure, was_plugin_error: bool) {
        let what = if failure.quarantined {
            format!("{} (quarantined after repeated failures)", failure.failure)
        } else {
            failure.failure.to_string()
        };
        tracing::warn!(plugin = %failure.plugin, instance = %instance_id, error = %what, "plugin failed");
        if was_plugin_error {
            return;
        }
        let event = Arc::new(new_event(
            instance_id,
            EventKind::PluginError {
                plugin: failure.plugin,
                error: what,
            },
        ));
        self.inner.bus.broadcast(event.clone());
        if !self.inner.chain.is_empty()
            && let Err(e) = self.queue(instance_id).try_send(event)
        {
            tracing::warn!(instance = %instance_id, error = %e, "a plugin error event could not reach the plugins");
        }
    }
}

/// One instance's worker: its events through the chain, in order. It holds
/// the host weakly: the host owns the queue, so when the host goes the queue
/// closes and the worker ends.
///
/// It takes the events that are waiting (up to [`BATCH`]) at once, runs them
/// through the chain one by one, and queues the webhook requests of all of
/// them in one outbox write, awaited: an event the worker has moved past is
/// one whose deliveries survive a crash.
async fn work(host: Weak<Inner>, mut events: mpsc::Receiver<Arc<Event>>) {
    let mut sends = None;
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let Some(inner) = host.upgrade() else { break };
        let host = PluginHost { inner };
        let mut webhooks = Vec::new();
        for event in batch.drain(..) {
            let was_plugin_error = matches!(event.kind, EventKind::PluginError { .. });
            let instance_id = event.instance_id.clone();
            let sends = sends.get_or_insert_with(|| {
                let (sender, receiver) = mpsc::channel(SENDS);
                let lane = SendLane {
                    instance_id: instance_id.clone(),
                    messenger: host.inner.outputs.messenger.clone(),
                    media: host.inner.outputs.media.clone(),
                    permits: host.inner.actions.clone(),
                };
                tokio::spawn(lane.run(receiver));
                sender
            });
            let outcome = host.inner.chain.run((*event).clone()).await;
            host.carry_out(
                &instance_id,
                event.name(),
                outcome,
                was_plugin_error,
                sends,
                &mut webhooks,
            )
            .await;
        }
        if !webhooks.is_empty() {
            let count = webhooks.len();
            if let Err(e) = host.inner.outputs.webhooks.enqueue_all(webhooks).await {
                tracing::error!(requests = count, error = %e, "webhook requests of plugins could not be queued");
            }
        }
    }
}

/// A message a plugin asked for.
struct PlannedSend {
    plugin: String,
    send: Message,
}

enum Message {
    Text(types::SendText),
    Media(types::SendMedia),
}

/// Why a plugin's message was not sent (logged: the plugin has already answered).
#[derive(Debug, thiserror::Error)]
enum LaneError {
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Media(#[from] MediaUrlError),
}

/// One instance's send lane: its plugins' messages, one at a time, in the
/// order they were planned (under the server-wide limit on concurrent sends).
/// It ends when the worker that feeds it does, after the last queued send.
struct SendLane {
    instance_id: String,
    messenger: Messenger,
    media: MediaFromUrl,
    permits: Arc<Semaphore>,
}

impl SendLane {
    async fn run(self, mut sends: mpsc::Receiver<PlannedSend>) {
        while let Some(PlannedSend { plugin, send }) = sends.recv().await {
            let Ok(_permit) = self.permits.acquire().await else {
                return;
            };
            if let Err(e) = self.send(send).await {
                tracing::warn!(%plugin, instance = %self.instance_id, error = %e, "a plugin's message was not sent");
            }
        }
    }

    async fn send(&self, send: Message) -> Result<(), LaneError> {
        match send {
            Message::Text(text) => {
                self.messenger
                    .send_text(&self.instance_id, &text.to, &text.text, text.reply_to.as_deref())
                    .await?;
            }
            Message::Media(media) => {
                // As the media-url route does: the recipient first, so a
                // message that cannot be sent costs no download.
                self.messenger.check_sendable(&self.instance_id, &media.to).await?;
                let kind = match media.media_type {
                    types::MediaType::Image => MediaKind::Image,
                    types::MediaType::Video => MediaKind::Video,
                    types::MediaType::Audio => MediaKind::Audio,
                    types::MediaType::Document => MediaKind::Document,
                };
                let outgoing = self
                    .media
                    .fetch(&media.url, Some(kind), media.caption, media.file_name)
                    .await?;
                self.messenger
                    .send_media(&self.instance_id, &media.to, outgoing)
                    .await?;
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl EventFeed for PluginHost {
    async fn dispatch(&self, event: Arc<Event>) {
        if self.inner.chain.is_empty() {
            return;
        }
        let instance_id = event.instance_id.clone();
        if self.queue(&instance_id).send(event).await.is_err() {
            tracing::error!(instance = %instance_id, "the plugin worker of an instance stopped; an event skipped the plugins");
        }
    }
}
