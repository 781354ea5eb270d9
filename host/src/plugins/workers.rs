//! The plugin host and its per-instance workers: which plugins are
//! installed, the chain they form, and one worker per instance that passes
//! the instance's events through the chain, reports plugin failures and hands
//! the actions that come out to [`super::actions`].
//!
//! Each instance has its own worker and bounded queue, so events of one
//! instance keep their order and a slow plugin on one instance never holds
//! up another's events; a full queue makes the publisher wait rather than
//! lose an event. Once the chain has run on a batch and the batch's webhook
//! deliveries are in the outbox (a failed outbox write is retried with
//! backoff, holding the worker meanwhile), the batch's events are reported
//! handled ([`HandledEvents`]): the inbound journal marks them done.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;

use super::actions::{self, ActionOutputs, InstanceActions};
use super::builtin::Builtin;
use super::ceilings::PluginSettings;
use super::chain::{Chain, PluginFailure};
use super::engine::PluginEngine;
use super::registry::{Registry, RegistryParts};
use super::runner::HostServices;
use crate::delivery::QueueError;
use crate::events::{Bus, Event, EventFeed, EventKind, new_event};
use crate::system_events::SystemEvents;
use crate::write_retry::{Write, WriteRetry, store_closed};

/// Told which events of the inbound journal the plugin host has handled, by
/// instance and journal seq: the chain ran on them and the webhook deliveries
/// they asked for are in the outbox (or there was no chain to run).
pub trait HandledEvents: Send + Sync {
    fn handled(&self, instance_id: &str, seqs: &[i64]);
}

/// An event waiting for an instance's worker, with its journal seq when it
/// is an inbound event: frames published for it carry the seq as their
/// cursor, and the journal hears when it is handled.
struct Queued {
    event: Arc<Event>,
    seq: Option<i64>,
}

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
    /// The ceilings on manifests' limits.
    pub settings: PluginSettings,
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
    queues: Mutex<HashMap<String, mpsc::Sender<Queued>>>,
    outputs: ActionOutputs,
    bus: Bus,
    /// Shared by every instance's send lane.
    send_permits: Arc<Semaphore>,
    /// Who hears of handled events, and how failed outbox writes are retried.
    durability: OnceLock<(Arc<dyn HandledEvents>, WriteRetry)>,
    /// Events queued for a worker whose batch is not through the chain and
    /// into the outbox yet (`wasap_plugin_events_pending`).
    pending: AtomicUsize,
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
            settings,
        } = sources;
        let bus = system.bus().clone();
        let registry = Arc::new(Registry::new(RegistryParts {
            engine,
            dir,
            cache_dir,
            services,
            settings,
            chain: chain.clone(),
            system,
            builtins,
        }));
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
                durability: OnceLock::new(),
                pending: AtomicUsize::new(0),
            }),
        }
    }

    /// Reports handled events to `handled` from now on, and retries failed
    /// outbox writes through `retry` (set once, before events flow; without
    /// it, outbox writes are retried with the default backoff and nobody hears).
    pub fn report_handled(&self, handled: Arc<dyn HandledEvents>, retry: WriteRetry) {
        if self.inner.durability.set((handled, retry)).is_err() {
            tracing::error!("handled events were set up twice; the second is ignored");
        }
    }

    fn handled(&self, instance_id: &str, seqs: &[i64]) {
        if seqs.is_empty() {
            return;
        }
        if let Some((handled, _)) = self.inner.durability.get() {
            handled.handled(instance_id, seqs);
        }
    }

    fn retry(&self) -> WriteRetry {
        self.inner
            .durability
            .get()
            .map(|(_, retry)| retry.clone())
            .unwrap_or_default()
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The plugin host's lines of `/metrics`: the registry's counters and the
    /// events still on their way through the plugins. Those pending events
    /// are the backlog an operator watches; a webhook added while an event is
    /// pending is among the receivers of that event.
    pub fn render_metrics(&self, out: &mut String) {
        self.inner.registry.render_metrics(out);
        let pending = self.inner.pending.load(Ordering::Relaxed);
        out.push_str(
            "# HELP wasap_plugin_events_pending Events queued for the plugins that are not through the chain and into the webhook outbox yet.\n\
             # TYPE wasap_plugin_events_pending gauge\n",
        );
        out.push_str(&format!("wasap_plugin_events_pending {pending}\n"));
    }

    /// The host as the event bus's feed (`Bus::attach`), held weakly: the
    /// host's own parts hold the bus, so a strong feed would keep the host,
    /// its watcher and its plugins' instances alive after the server is gone.
    pub fn feed(&self) -> Arc<dyn EventFeed> {
        Arc::new(WeakHost(Arc::downgrade(&self.inner)))
    }

    /// The queue of `instance_id`'s worker, started on first use.
    fn queue(&self, instance_id: &str) -> mpsc::Sender<Queued> {
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
        tokio::spawn(work(Arc::downgrade(&self.inner), instance_id.to_owned(), receiver).instrument(span));
        sender
    }

    /// Tells `/ws` listeners (and plugins subscribed to `plugin_error`) that a
    /// plugin failed. A failure on a `plugin_error` event is only logged, so a
    /// failing plugin cannot feed itself. Runs in the instance's worker (and
    /// its span, which names the instance).
    fn report(&self, instance_id: &str, failure: PluginFailure, was_plugin_error: bool) {
        if failure.builtin {
            self.inner.registry.builtin_failed(&failure.plugin, &failure.failure);
        }
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
        if self.inner.chain.is_empty() {
            return;
        }
        self.inner.pending.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.queue(instance_id).try_send(Queued { event, seq: None }) {
            self.inner.pending.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "a plugin error event could not reach the plugins");
        }
    }
}

/// The worker of `instance_id` (every event it is given is that instance's):
/// its events through the chain, in order. It holds
/// the host weakly: the host owns the queue, so when the host goes the queue
/// closes and the worker ends.
///
/// It takes the events that are waiting (up to [`BATCH`]) at once, runs them
/// through the chain one by one (handed to the plugin runtime together),
/// carries out their actions in order, and queues the webhook requests of all
/// of them in one outbox write, awaited and retried until it succeeds: an event
/// the worker has moved past is one whose deliveries survive a crash, and it
/// is reported handled.
async fn work(host: Weak<Inner>, instance_id: String, mut events: mpsc::Receiver<Queued>) {
    let mut actions = None;
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let Some(inner) = host.upgrade() else { break };
        let host = PluginHost { inner };
        let mut webhooks = Vec::new();
        let events = batch.iter().map(|queued| (*queued.event).clone()).collect();
        let outcomes = host.inner.chain.run_all(events).await;
        for (Queued { event, seq }, outcome) in batch.iter().zip(outcomes) {
            let was_plugin_error = matches!(event.kind, EventKind::PluginError { .. });
            let actions = actions.get_or_insert_with(|| {
                InstanceActions::start(&instance_id, &host.inner.outputs, host.inner.send_permits.clone())
            });
            for failure in outcome.failures {
                host.report(&instance_id, failure, was_plugin_error);
            }
            actions
                .carry_out(event.name(), *seq, outcome.actions, &mut webhooks)
                .await;
        }
        if !webhooks.is_empty() {
            // Never given up: the events behind wait (and, through the
            // bounded queues, the instance's inbound journal) until the
            // outbox takes the deliveries again.
            let outbox = &host.inner.outputs.webhooks;
            let stored = host
                .retry()
                .run(
                    Write::Outbox,
                    || outbox.enqueue_all(webhooks.clone()),
                    |QueueError::Store(e)| store_closed(e),
                )
                .await;
            if stored.is_err() {
                // The database is closed: the server is stopping. The batch
                // is not reported handled; the journal replays it at the next start.
                host.inner.pending.fetch_sub(batch.len(), Ordering::Relaxed);
                batch.clear();
                continue;
            }
        }
        host.inner.pending.fetch_sub(batch.len(), Ordering::Relaxed);
        let seqs: Vec<i64> = batch.drain(..).filter_map(|queued| queued.seq).collect();
        host.handled(&instance_id, &seqs);
    }
}

/// [`PluginHost::feed`]: events reach the host while it exists.
struct WeakHost(Weak<Inner>);

#[async_trait::async_trait]
impl EventFeed for WeakHost {
    async fn dispatch(&self, event: Arc<Event>) {
        if let Some(inner) = self.0.upgrade() {
            PluginHost { inner }.enqueue(event, None).await;
        }
    }

    async fn dispatch_journalled(&self, event: Arc<Event>, seq: i64) {
        if let Some(inner) = self.0.upgrade() {
            PluginHost { inner }.enqueue(event, Some(seq)).await;
        }
    }
}

#[async_trait::async_trait]
impl EventFeed for PluginHost {
    async fn dispatch(&self, event: Arc<Event>) {
        self.enqueue(event, None).await;
    }

    async fn dispatch_journalled(&self, event: Arc<Event>, seq: i64) {
        self.enqueue(event, Some(seq)).await;
    }
}

impl PluginHost {
    /// Queues `event` for its instance's worker, waiting while the queue is
    /// full; with no plugin in the chain it is handled at once.
    async fn enqueue(&self, event: Arc<Event>, seq: Option<i64>) {
        if self.inner.chain.is_empty() {
            self.handled(&event.instance_id, seq.as_slice());
            return;
        }
        let instance_id = event.instance_id.clone();
        self.inner.pending.fetch_add(1, Ordering::Relaxed);
        if self.queue(&instance_id).send(Queued { event, seq }).await.is_err() {
            self.inner.pending.fetch_sub(1, Ordering::Relaxed);
            tracing::error!(instance = %instance_id, "the plugin worker of an instance stopped; an event skipped the plugins");
        }
    }
}
