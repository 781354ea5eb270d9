//! Starting and stopping the server.
//!
//! [`Server::bind`] does everything that can fail at start-up (open and
//! migrate the database, resolve the admin token, bind the port) before any
//! request is served; [`Server::run`] serves until the shutdown future
//! resolves, then closes the database. Production (`main.rs`) and the tests
//! both go through here.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::admin_token::{self, TokenSource};
use crate::api::{self, AppState};
use crate::config::Config;
use crate::delivery::Webhooks;
use crate::engine::sim::{SimEngine, SimNetwork};
use crate::engine::whatsapp::{WhatsappEngine, WhatsappEngineConfig};
use crate::engine::{Engine, EngineKind};
use crate::events::Bus;
use crate::front_door::{self, FrontDoorSettings};
use crate::instances::{Inbound, InstanceError, InstanceManager};
use crate::media::{MediaStore, Spool, Transfers};
use crate::messaging::Messenger;
use crate::messaging::outgoing_media::MediaFromUrl;
use crate::metrics::Metrics;
use crate::outbound::{FetchError, Fetcher, Requester};
use crate::plugins::{
    ActionOutputs, HostServices, PluginEngine, PluginEngineError, PluginHost, PluginSources, builtin,
};
use crate::private_fs::{self, Tightening};
use crate::rate_limit::RateLimiter;
use crate::send_queue::SendQueue;
use crate::store::journal_prune::{self, JournalRetentionSettings};
use crate::store::{Store, StoreError, redact};
use crate::system_events::{SystemEvents, SystemNotice};
use crate::websocket::{self, Hub};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the instances: {0}")]
    Instances(#[from] InstanceError),
    #[error("cannot set up outbound HTTP: {0}")]
    Outbound(#[source] FetchError),
    #[error("cannot start the plugin sandbox: {0}")]
    Plugins(#[source] PluginEngineError),
    #[error("invalid global webhook {url}: {reason}")]
    Webhook { url: String, reason: String },
    #[error(transparent)]
    WhatsappUrl(#[from] crate::engine::whatsapp::UnsafeWhatsappUrl),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A server that has started up and is ready to serve.
pub struct Server {
    listener: TcpListener,
    /// The front door's time limits and caps.
    front_door: FrontDoorSettings,
    state: AppState,
    bus: Bus,
    /// The WebSocket hub, closed on shutdown.
    hub: Hub,
    /// Says on `/ws` that the server is shutting down.
    system: SystemEvents,
    sim: Option<SimNetwork>,
    /// What the inbound journal keeps for clients' replay.
    journal_retention: JournalRetentionSettings,
}

impl Server {
    /// Opens the database, resolves the admin token and binds the listening port.
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        crate::engine::whatsapp::cert_checks::log_at_start();
        // A test build refuses a WhatsApp URL off loopback before touching anything.
        if config.engine == EngineKind::Whatsapp {
            crate::engine::whatsapp::cert_checks::check_url(config.whatsapp_url.as_deref())?;
        }
        // 0700: the database holds the WhatsApp device keys and webhook secrets.
        let data_dir = config.data_dir.display();
        match private_fs::ensure_private_dir(&config.data_dir) {
            Ok(Tightening::Unneeded) => {}
            Ok(Tightening::Done) => {
                tracing::warn!(path = %data_dir, "the data directory was open to others: made it private (0700)")
            }
            Ok(Tightening::Refused(e)) => tracing::warn!(
                path = %data_dir, error = %e,
                "the data directory is open to others and cannot be made private (0700): fix its mode"
            ),
            Err(source) => {
                return Err(StartError::DataDir {
                    path: data_dir.to_string(),
                    source,
                });
            }
        }
        let database_url = config.database_url();
        let store = Store::open(&database_url).await?;
        tracing::info!(database = %redact(&database_url), "database ready");

        let (token, source) =
            admin_token::resolve(config.api_token.as_deref(), &config.data_dir).map_err(|source| {
                StartError::DataDir {
                    path: config.data_dir.display().to_string(),
                    source,
                }
            })?;
        match source {
            TokenSource::Configured => match admin_token::weakness(&token) {
                Some(weakness) => tracing::warn!("WASAP_API_TOKEN {weakness}"),
                None => tracing::info!("admin token from WASAP_API_TOKEN"),
            },
            TokenSource::Generated(path) => {
                // Printed once, on the start that creates it; later starts only say where it is.
                println!("wasap: generated admin API token (kept in {}): {token}", path.display());
            }
            TokenSource::Stored(path) => {
                tracing::info!(path = %path.display(), "admin token read from the data directory")
            }
        }

        // Bind before the instances start, so a taken port fails fast
        // without having opened any WhatsApp connection.
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen,
                source,
            })?;

        let (engine, sim): (Arc<dyn Engine>, Option<SimNetwork>) = match config.engine {
            EngineKind::Whatsapp => (
                Arc::new(WhatsappEngine::new(WhatsappEngineConfig {
                    device_name: config.device_name.clone(),
                    transport_url: config.whatsapp_url.clone(),
                })?),
                None,
            ),
            EngineKind::Sim => {
                // Its record of what WhatsApp took outlives the process (`sent_log.rs`).
                let network = SimNetwork::with_store(store.clone()).await?;
                let interval = std::time::Duration::from_secs(config.sim_qr_interval_secs);
                (Arc::new(SimEngine::new(network.clone(), interval)), Some(network))
            }
        };
        tracing::info!(engine = ?config.engine, "engine ready");
        let bus = Bus::new();
        let media = MediaStore::open(&config.data_dir, config.media_limits().largest())
            .map_err(|source| StartError::DataDir {
                path: config.data_dir.join("media").display().to_string(),
                source,
            })?
            .with_min_free_bytes(config.media_min_free_bytes)
            .with_retention(config.media_retention());
        let spool =
            Spool::open(&config.data_dir, config.media_min_free_bytes).map_err(|source| StartError::DataDir {
                path: config.data_dir.join("spool").display().to_string(),
                source,
            })?;
        // Failed writes of the inbound path (journal, outbox, done marks) are retried, never dropped.
        let write_retry = config.write_retry();
        let inbound = Inbound::new(
            store.clone(),
            engine.clone(),
            bus.clone(),
            media.clone(),
            config.media_limits(),
            write_retry.clone(),
        );
        let instances = InstanceManager::new(
            store.clone(),
            engine,
            bus.clone(),
            media.clone(),
            inbound.clone(),
            config.instance_settings(),
        );
        let fetcher = Fetcher::new(config.url_policy(), config.fetch_timeout()).map_err(StartError::Outbound)?;
        if config.allow_private_urls {
            tracing::warn!("WASAP_ALLOW_PRIVATE_URLS is on: mediaUrl fetches may reach private and loopback addresses");
        }

        let media_from_url = MediaFromUrl {
            fetcher,
            limits: config.media_limits(),
        };
        let hub = Hub::new(config.hub_settings());
        websocket::plugin_errors::forward(&bus, hub.clone());
        let system = SystemEvents::new(bus.clone(), hub.clone());
        let webhooks = Webhooks::new(
            store.clone(),
            Requester::new(config.url_policy()).map_err(StartError::Outbound)?,
            config.delivery_settings(global_webhook_secret(&config)?),
            Some(system.clone()),
        );

        let metrics = Arc::new(Metrics::default());
        metrics.attach_inbound(inbound.stats(), write_retry.clone());
        // On the simulated engine the queue runs on the network's clock,
        // which `POST /sim/clock` moves.
        let clock = sim.as_ref().map(SimNetwork::clock).unwrap_or_default();
        let send_queue = SendQueue::new(store.clone(), instances.clone(), clock, config.queue_settings());
        // Job status events go to /ws (and through the plugins, from the start).
        send_queue.publish_to(hub.clone());
        let messenger = Messenger::new(instances.clone(), store.clone(), metrics.clone())
            .with_sources(media_from_url.fetcher.clone(), media.clone())
            .with_queue(send_queue.clone());
        // Attached before any instance starts, so the plugins see every event.
        let plugins = PluginHost::start(
            PluginEngine::shared().map_err(StartError::Plugins)?,
            PluginSources {
                dir: config.plugins_dir(),
                cache_dir: config.data_dir.join("plugin-cache"),
                builtins: builtin::wanted(config.output_switches()),
                settings: config.plugin_settings(),
            },
            HostServices {
                database: store.clone(),
                requester: Requester::new(config.url_policy()).map_err(StartError::Outbound)?,
                kv_max_bytes: config.plugin_kv_max_bytes,
            },
            ActionOutputs {
                messenger: messenger.clone(),
                media: media_from_url.clone(),
                hub: hub.clone(),
                webhooks: webhooks.clone(),
                queue: send_queue.clone(),
            },
            system.clone(),
        )
        .await;
        // Handled events are marked done in the inbound journal.
        plugins.report_handled(Arc::new(inbound.progress()), write_retry);
        bus.attach(plugins.feed());
        Ok(Server {
            listener,
            front_door: config.front_door_settings(),
            state: AppState {
                store,
                messenger,
                plugins,
                metrics,
                media_limits: config.media_limits(),
                instances,
                media,
                spool,
                media_transfers: Transfers::new(config.transfer_limits()),
                media_from_url,
                admin_token: Arc::from(token),
                websockets: config.websocket_enabled().then(|| hub.clone()),
                webhooks,
                send_queue,
                rate_limit: Arc::new(RateLimiter::new(config.rate_limit_settings())),
            },
            bus,
            hub,
            system,
            sim,
            journal_retention: config.journal_retention(),
        })
    }

    /// The address the server listens on (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// The admin token in effect.
    pub fn admin_token(&self) -> &str {
        &self.state.admin_token
    }

    /// The event bus: everything that happens to instances is published here.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Resumes the stored instances (linked ones reconnect), serves requests
    /// until `shutdown` resolves, then closes every WhatsApp connection
    /// (flushing its state) and the database.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let addr = self.local_addr();
        let store = self.state.store.clone();
        let instances = self.state.instances.clone();
        // Deliveries left pending by an earlier run go out from here on.
        let deliveries = self.state.webhooks.start();
        let media_retention = self.state.media.start_retention();
        let journal_prune = journal_prune::start(store.clone(), self.journal_retention);
        instances.resume().await?;
        // Jobs left by an earlier run go out from here on.
        let send_queue = self.state.send_queue.clone();
        let stop_queue = send_queue.stop_on_drop();
        send_queue
            .start(Arc::new(api::QueuedSends::new(self.state.clone())), &self.bus)
            .await?;
        tracing::info!(%addr, "wasap listening");
        // Upgraded connections would keep the graceful shutdown waiting for as
        // long as their clients stay: the hub closes them first.
        let (hub, system) = (self.hub.clone(), self.system.clone());
        let shutdown = async move {
            shutdown.await;
            // Queued before the close: each connection sends it, then its close frame.
            system.emit(SystemNotice::ShuttingDown);
            hub.close_all();
        };
        let connections = self.state.metrics.connections.clone();
        front_door::serve(
            self.listener,
            api::routes(self.state, self.sim),
            self.front_door,
            connections,
            shutdown,
        )
        .await;
        drop(stop_queue);
        instances.shutdown().await;
        // What the plugins have handled is marked done, so the next start
        // does not replay it.
        instances.inbound().flush_done().await;
        media_retention.abort();
        journal_prune.abort();
        // Attempts still running are cut short; their rows stay pending.
        deliveries.stop().await;
        store.close().await;
        tracing::info!("wasap stopped");
        Ok(())
    }
}

/// The HMAC key of the global webhooks: configured, or (when there are
/// global webhooks) generated once and kept in the data directory, printed
/// on the start that creates it. Global URLs are checked here, so a typo
/// stops the start rather than failing every delivery.
fn global_webhook_secret(config: &Config) -> Result<String, StartError> {
    let urls = config.global_webhook_urls();
    for url in &urls {
        let parsed = reqwest::Url::parse(url).map_err(|e| StartError::Webhook {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        config
            .url_policy()
            .check_url(&parsed)
            .map_err(|e| StartError::Webhook {
                url: url.clone(),
                reason: e.to_string(),
            })?;
    }
    if urls.is_empty() {
        return Ok(config.webhook_secret.clone().unwrap_or_default());
    }
    let data_dir = &config.data_dir;
    let (secret, source) = admin_token::resolve_in_file(config.webhook_secret.as_deref(), data_dir, "webhook_secret")
        .map_err(|source| StartError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    match source {
        TokenSource::Configured if secret.len() < 16 => {
            tracing::warn!(
                "WHATSAPP_WEBHOOK_SECRET is shorter than 16 characters: receivers cannot rely on its signatures"
            )
        }
        TokenSource::Configured => {}
        TokenSource::Generated(path) => {
            println!(
                "wasap: generated global webhook secret (kept in {}): {secret}",
                path.display()
            );
        }
        TokenSource::Stored(path) => {
            tracing::info!(path = %path.display(), "global webhook secret read from the data directory")
        }
    }
    tracing::info!(receivers = urls.len(), "global webhooks (gowa format) configured");
    Ok(secret)
}

/// Starts the server with `config` and serves until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    Server::bind(config).await?.run(shutdown).await
}
