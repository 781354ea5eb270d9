//! The plugin host and its per-instance workers: which plugins are
//! installed, the chain they form, and one worker per instance that passes
//! the instance's events through the chain, reports plugin failures and hands
//! the actions that come out to [`super::actions`].
//!
//! Each instance has its own worker and bounded queue, so events of one
//! instance keep their order and a slow plugin on one instance never holds
//! up another's events; a full queue makes the publisher wait rather than
//! lose an event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;

use super::actions::{self, ActionOutputs, InstanceActions};
use super::builtin::Builtin;
use super::chain::{Chain, PluginFailure};
use super::engine::PluginEngine;
use super::registry::Registry;
use super::runner::HostServices;
use crate::events::{Bus, Event, EventFeed, EventKind, new_event};
use crate::system_events::SystemEvents;

/// Events waiting per instance before its publisher has to wait.
const QUEUE: usize = 1024;
/// Events an instance's worker takes at once.
const BATCH: usize = 64;

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
    /// Shared by every instance's send lane.
    send_permits: Arc<Semaphore>,
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
                send_permits: actions::send_permits(),
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
        // At error level, so the span is on whenever any line inside it is.
        let span = tracing::error_span!("plugin_worker", instance = %instance_id);
        tokio::spawn(work(Arc::downgrade(&self.inner), receiver).instrument(span));
        sender
    }

    /// Tells `/ws` listeners (and plugins subscribed to `plugin_error`) that a
    /// plugin failed. A failure on a `plugin_error` event is only logged, so a
    /// failing plugin cannot feed itself. Runs in the instance's worker (and
    /// its span, which names the instance).
    fn report(&self, instance_id: &str, failure: PluginFailure, was_plugin_error: bool) {
        let what = if failure.quarantined {
            format!("{} (quarantined after repeated failures)", failure.failure)
        } else {
            failure.failure.to_string()
        };
        tracing::warn!(plugin = %failure.plugin, error = %what, "plugin failed");
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
            tracing::warn!(error = %e, "a plugin error event could not reach the plugins");
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
    let mut actions = None;
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let Some(inner) = host.upgrade() else { break };
        let host = PluginHost { inner };
        let mut webhooks = Vec::new();
        for event in batch.drain(..) {
            let was_plugin_error = matches!(event.kind, EventKind::PluginError { .. });
            let instance_id = &event.instance_id;
            let actions = actions.get_or_insert_with(|| {
                InstanceActions::start(instance_id, &host.inner.outputs, host.inner.send_permits.clone())
            });
            let outcome = host.inner.chain.run((*event).clone()).await;
            for failure in outcome.failures {
                host.report(instance_id, failure, was_plugin_error);
            }
            actions.carry_out(event.name(), outcome.actions, &mut webhooks).await;
        }
        if !webhooks.is_empty() {
            let count = webhooks.len();
            if let Err(e) = host.inner.outputs.webhooks.enqueue_all(webhooks).await {
                tracing::error!(requests = count, error = %e, "webhook requests of plugins could not be queued");
            }
        }
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
