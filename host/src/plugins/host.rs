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
use crate::events::{Bus, Event, EventFeed, EventKind, new_event};
use crate::messaging::Messenger;
use crate::websocket::{Channel, Hub};

/// Events waiting per instance before its publisher has to wait.
const QUEUE: usize = 1024;
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
    messenger: Messenger,
    bus: Bus,
    /// Where `publish` actions go.
    hub: Hub,
    actions: Arc<Semaphore>,
}

impl PluginHost {
    /// A host over the built-in plugins and those of the plugins directory, loaded now.
    pub async fn start(
        engine: Arc<PluginEngine>,
        sources: PluginSources,
        services: HostServices,
        messenger: Messenger,
        bus: Bus,
        hub: Hub,
    ) -> PluginHost {
        let chain = Arc::new(Chain::default());
        let PluginSources { dir, cache_dir, builtins } = sources;
        let registry = Arc::new(Registry::new(engine, dir, cache_dir, services, chain.clone(), bus.clone(), builtins));
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
                messenger,
                bus,
                hub,
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
    async fn carry_out(&self, instance_id: &str, outcome: ChainOutcome, was_plugin_error: bool, sends: &mpsc::Sender<PlannedSend>) {
        for failure in outcome.failures {
            self.report(instance_id, failure, was_plugin_error);
        }
        for planned in outcome.actions {
            let plugin = planned.plugin.name().to_owned();
            match planned.action {
                types::Action::SendText(send) => {
                    if sends.send(PlannedSend { plugin, send }).await.is_err() {
                        tracing::error!(instance = %instance_id, "the send lane of an instance stopped; a plugin's message was not sent");
                    }
                }
                // The chain has checked the grant and that an instance channel
                // is the event's own; the hub never waits on a listener.
                types::Action::Publish(publish) => {
                    let channel = match publish.channel {
                        types::Channel::Global => Channel::Global,
                        types::Channel::Instance(id) => Channel::Instance(id),
                    };
                    self.inner.hub.publish(&channel, Arc::from(publish.frame));
                }
                // Media by URL and webhook requests are carried out by the
                // outputs of the next issues; until then they are checked
                // (above, by the chain) and noted here.
                other => tracing::debug!(%plugin, action = action_name(&other), "plugin action not carried out yet"),
            }
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
async fn work(host: Weak<Inner>, mut events: mpsc::Receiver<Arc<Event>>) {
    let mut sends = None;
    while let Some(event) = events.recv().await {
        let Some(inner) = host.upgrade() else { break };
        let host = PluginHost { inner };
        let was_plugin_error = matches!(event.kind, EventKind::PluginError { .. });
        let instance_id = event.instance_id.clone();
        let sends = sends.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(SENDS);
            tokio::spawn(send_in_order(instance_id.clone(), receiver, host.inner.messenger.clone(), host.inner.actions.clone()));
            sender
        });
        let outcome = host.inner.chain.run((*event).clone()).await;
        host.carry_out(&instance_id, outcome, was_plugin_error, sends).await;
    }
}

/// A message a plugin asked for.
struct PlannedSend {
    plugin: String,
    send: types::SendText,
}

/// One instance's send lane: its plugins' messages, one at a time, in the
/// order they were planned (under the server-wide limit on concurrent sends).
/// It ends when the worker that feeds it does, after the last queued send.
async fn send_in_order(instance_id: String, mut sends: mpsc::Receiver<PlannedSend>, messenger: Messenger, permits: Arc<Semaphore>) {
    while let Some(PlannedSend { plugin, send }) = sends.recv().await {
        let Ok(_permit) = permits.acquire().await else { return };
        if let Err(e) = messenger.send_text(&instance_id, &send.to, &send.text, send.reply_to.as_deref()).await {
            tracing::warn!(%plugin, instance = %instance_id, error = %e, "a plugin's message was not sent");
        }
    }
}

fn action_name(action: &types::Action) -> &'static str {
    match action {
        types::Action::SendText(_) => "send-text",
        types::Action::SendMedia(_) => "send-media",
        types::Action::Webhook(_) => "webhook",
        types::Action::Publish(_) => "publish",
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
