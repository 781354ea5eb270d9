//! The one typed configuration, from command-line flags and environment variables.
//!
//! Every setting has a flag and an environment variable (named in docs/API.md where
//! the contract names one); flags win over the environment. Validation happens
//! here, at start-up, so a bad setting stops the server with a clear message
//! instead of failing later.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::delivery::{DeliverySettings, GlobalWebhook, Retention};
use crate::engine::EngineKind;
use crate::front_door::FrontDoorSettings;
use crate::instances::Settings;
use crate::media::{MediaLimits, Retention as MediaRetention, TransferLimits};
use crate::outbound::UrlPolicy;
use crate::plugins::PluginSettings;
use crate::plugins::builtin::OutputSwitches;
use crate::rate_limit::RateLimitSettings;
use crate::store::Store;
use crate::websocket::HubSettings;

mod send_queue;
use crate::write_retry::WriteRetry;
pub use send_queue::QueueFlags;

/// Command line of the `wasap` binary.
#[derive(Debug, Parser)]
#[command(name = "wasap", version, about = "Self-hosted WhatsApp automation server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What the binary is asked to do.
#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the HTTP server.
    Serve(Config),
    /// Tools for plugin authors.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

/// `wasap plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Run a plugin on fixture events and print each outcome and the fuel it used.
    Run(PluginRun),
}

/// `wasap plugin run FILE.wasm --event fixture.json`
#[derive(Debug, Args)]
pub struct PluginRun {
    /// The plugin's component.
    pub component: PathBuf,
    /// Its manifest (default: NAME.toml beside NAME.wasm).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// A JSON file with one event or an array of events, in the canonical model's shape.
    #[arg(long)]
    pub event: PathBuf,
}

/// Settings of a running server.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, env = "WASAP_LISTEN", default_value = "127.0.0.1:2121")]
    pub listen: SocketAddr,

    /// Directory for the SQLite database, the generated admin token and media.
    #[arg(long, env = "WASAP_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL (postgres://...) or SQLite URL (sqlite://...).
    /// Default: an SQLite file `wasap.db` in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Admin API token. Default: generated on first start and kept in the data directory.
    #[arg(long, env = "WASAP_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// Which WhatsApp to talk to: the real network, or the simulated one.
    #[arg(long, env = "WASAP_ENGINE", value_enum, default_value = "whatsapp")]
    pub engine: EngineKind,

    /// The name the phone shows under Linked Devices.
    #[arg(long, env = "WASAP_DEVICE_NAME", default_value = "wasap")]
    pub device_name: String,

    /// WhatsApp's WebSocket URL, to point the real engine at a relay or a test listener.
    #[arg(long, env = "WASAP_WHATSAPP_URL")]
    pub whatsapp_url: Option<String>,

    /// Seconds between presence announcements of an online instance.
    #[arg(long, env = "WASAP_PRESENCE_INTERVAL", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub presence_interval_secs: u64,

    /// First reconnect delay after a dropped connection, in milliseconds; it doubles per attempt.
    #[arg(long, env = "WASAP_RECONNECT_MIN_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub reconnect_min_ms: u64,

    /// Longest reconnect delay, in milliseconds.
    #[arg(long, env = "WASAP_RECONNECT_MAX_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub reconnect_max_ms: u64,

    /// Seconds an online connection may go without hearing from WhatsApp (no stanza, no
    /// answer to a keepalive) before it is closed and reconnected; 0: never.
    #[arg(long, env = "WASAP_WATCHDOG_SECS", default_value_t = 600)]
    pub watchdog_secs: u64,

    /// Seconds a linked instance may be without a connection before an `instance_offline`
    /// event announces it (once per outage); 0: never.
    #[arg(long, env = "WASAP_OFFLINE_ALERT_SECS", default_value_t = 300)]
    pub offline_alert_secs: u64,

    /// Seconds `GET /qr` waits for WhatsApp's first QR code.
    #[arg(long, env = "WASAP_QR_WAIT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub qr_wait_secs: u64,

    /// Largest image (and sticker) file accepted, in bytes.
    #[arg(long, env = "WASAP_MAX_IMAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_image_bytes: u64,

    /// Largest video file accepted, in bytes.
    #[arg(long, env = "WASAP_MAX_VIDEO_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_video_bytes: u64,

    /// Largest audio file accepted, in bytes.
    #[arg(long, env = "WASAP_MAX_AUDIO_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_audio_bytes: u64,

    /// Largest document accepted, in bytes.
    #[arg(long, env = "WASAP_MAX_DOCUMENT_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub max_document_bytes: u64,

    /// Let `mediaUrl` fetches (and later webhook targets) reach loopback,
    /// private and link-local addresses. Off by default: those URLs would
    /// let API users probe the server's own network.
    #[arg(long, env = "WASAP_ALLOW_PRIVATE_URLS", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_private_urls: bool,

    /// Seconds a `mediaUrl` fetch may take, from connecting to the last byte.
    #[arg(long, env = "WASAP_FETCH_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub fetch_timeout_secs: u64,

    /// Days received media is kept before the retention sweep deletes it (0: kept however old).
    #[arg(long, env = "WASAP_MEDIA_RETENTION_DAYS", default_value_t = 30)]
    pub media_retention_days: u64,

    /// Bytes all received media may add up to; over it the oldest files are deleted (0: no cap).
    #[arg(long, env = "WASAP_MEDIA_MAX_TOTAL_BYTES", default_value_t = 10 * 1024 * 1024 * 1024)]
    pub media_max_total_bytes: u64,

    /// Milliseconds between two media retention sweeps (one also runs at start-up).
    #[arg(long, env = "WASAP_MEDIA_SWEEP_INTERVAL_MS", default_value_t = 10 * 60 * 1000, value_parser = clap::value_parser!(u64).range(10..))]
    pub media_sweep_interval_ms: u64,

    /// Bytes kept free on the media disk: received media that would leave less is not stored
    /// (the message is delivered with `download_error`), and uploads are refused (0: no floor).
    #[arg(long, env = "WASAP_MEDIA_MIN_FREE_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub media_min_free_bytes: u64,

    /// Media transfers (uploads and `mediaUrl` fetches) in flight at most, server-wide.
    #[arg(long, env = "WASAP_MEDIA_TRANSFERS", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub media_transfers: u64,

    /// Media transfers in flight at most per instance.
    #[arg(long, env = "WASAP_MEDIA_TRANSFERS_PER_INSTANCE", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub media_transfers_per_instance: u64,

    /// Milliseconds a media transfer over either bound waits for a slot before it is refused
    /// (429 for the instance's bound, 503 for the server's).
    #[arg(long, env = "WASAP_MEDIA_TRANSFER_WAIT_MS", default_value_t = 2000)]
    pub media_transfer_wait_ms: u64,

    /// Directory of plugins (`NAME.toml` + `NAME.wasm`), loaded at start-up.
    /// Default: `plugins.d` in the data directory.
    #[arg(long, env = "WASAP_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,

    /// The most fuel a plugin's manifest may give one call; a manifest asking more is refused.
    #[arg(long, env = "WASAP_PLUGIN_MAX_FUEL", default_value_t = 100_000_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub plugin_max_fuel: u64,

    /// The longest deadline, in milliseconds, a plugin's manifest may give one call; a manifest asking more is refused.
    #[arg(long, env = "WASAP_PLUGIN_MAX_DEADLINE_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub plugin_max_deadline_ms: u32,

    /// The most linear memory, in MiB, a plugin's manifest may ask for; a manifest asking more is refused.
    #[arg(long, env = "WASAP_PLUGIN_MAX_MEMORY_MB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub plugin_max_memory_mb: u32,

    /// Bytes of values one plugin may keep in its key-value store, all keys together.
    #[arg(long, env = "WASAP_PLUGIN_KV_MAX_BYTES", default_value_t = 64 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub plugin_kv_max_bytes: u64,

    /// Seconds between QR rotations of the simulated network.
    #[arg(long, env = "WASAP_SIM_QR_INTERVAL", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub sim_qr_interval_secs: u64,

    /// Serve the WebSocket routes `/ws` and `/api/listen/{id}` (`false`: both answer 404).
    #[arg(long, env = "WASAP_ENABLE_WEBSOCKET", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub enable_websocket: bool,

    /// The source server's switch, for compatibility: when set, anything but `true`
    /// turns the WebSocket routes off.
    #[arg(long, env = "SUDEVWA_ENABLE_WEBSOCKET", hide = true)]
    pub sudevwa_enable_websocket: Option<String>,

    /// Milliseconds between the server's pings on each WebSocket connection.
    #[arg(long, env = "WASAP_WS_PING_INTERVAL_MS", default_value_t = 5 * 60 * 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_ping_interval_ms: u64,

    /// Milliseconds a WebSocket connection may stay silent (no pong, no message) before it is dropped.
    #[arg(long, env = "WASAP_WS_IDLE_TIMEOUT_MS", default_value_t = 15 * 60 * 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_idle_timeout_ms: u64,

    /// Frames a WebSocket reader may fall behind before it is disconnected as too slow.
    #[arg(long, env = "WASAP_WS_QUEUE_FRAMES", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub ws_queue_frames: u64,

    /// Open WebSocket connections at most, both routes together; more are refused with 503.
    #[arg(long, env = "WASAP_WS_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_max_connections: u64,

    /// Open WebSocket connections at most per instance, counting those opened with its own
    /// token (the admin token's do not count); more are refused with 429.
    #[arg(long, env = "WASAP_WS_MAX_CONNECTIONS_PER_INSTANCE", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_max_connections_per_instance: u64,

    /// WebSocket places only the admin token may use: instance tokens are refused (503) once the
    /// others are taken. At most half of `--ws-max-connections` is reserved, whatever this says.
    #[arg(long, env = "WASAP_WS_ADMIN_RESERVED", default_value_t = 100)]
    pub ws_admin_reserved: u64,

    /// Milliseconds a client has to send a whole request head (request line and headers), from
    /// connecting or from its first byte after an idle spell; then the connection is closed.
    #[arg(long, env = "WASAP_HTTP_HEADER_TIMEOUT_MS", default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_header_timeout_ms: u64,

    /// Milliseconds a keep-alive connection may stay idle between an answer and the next request.
    #[arg(long, env = "WASAP_HTTP_IDLE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_idle_timeout_ms: u64,

    /// Open HTTP connections at most (upgraded WebSockets excepted); more are answered 503 and closed.
    #[arg(long, env = "WASAP_HTTP_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_max_connections: u64,

    /// Open HTTP connections at most from one client address (an IPv6 /64); more are answered
    /// 429 and closed. Behind a reverse proxy every connection comes from the proxy's address.
    #[arg(long, env = "WASAP_HTTP_MAX_CONNECTIONS_PER_IP", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_max_connections_per_ip: u64,

    /// Largest request head (request line and headers) in bytes; a larger one gets 431.
    #[arg(long, env = "WASAP_HTTP_MAX_HEADER_BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u64).range(1024..=256 * 1024))]
    pub http_max_header_bytes: u64,

    /// API requests per second one client may make on average: per token for a request with a
    /// valid token, per client address (IPv6: per /64) otherwise; over it the answer is 429
    /// `rate_limited` with `Retry-After`. 0: no limit.
    #[arg(long, env = "WASAP_API_RATE", default_value_t = 500)]
    pub api_rate: u32,

    /// API requests one client may make at once above `--api-rate` (its bucket's size).
    #[arg(long, env = "WASAP_API_BURST", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub api_burst: u32,

    /// Global webhook URLs (gowa format), comma-separated; the flag may be repeated.
    #[arg(long = "webhook", env = "WHATSAPP_WEBHOOK")]
    pub webhooks: Vec<String>,

    /// The HMAC key of the global webhooks. Default: generated on first use
    /// and kept in the data directory (never a fixed default).
    #[arg(long, env = "WHATSAPP_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Send webhooks at all (`false` turns every webhook off).
    #[arg(long, env = "WASAP_ENABLE_WEBHOOK", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub enable_webhook: bool,

    /// Compatibility switch: when set, anything other than `true` turns webhooks off.
    #[arg(long, env = "SUDEVWA_ENABLE_WEBHOOK", hide = true)]
    pub sudevwa_enable_webhook: Option<String>,

    /// Longest wait, in milliseconds, between two tries of a failed write of
    /// the inbound path (journal entry, outbox deliveries, done mark); the
    /// first retry comes after 100 ms (or this, if less) and the wait doubles.
    #[arg(long, env = "WASAP_WRITE_RETRY_MAX_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub write_retry_max_ms: u64,

    /// Milliseconds one webhook attempt may take.
    #[arg(long, env = "WASAP_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_timeout_ms: u64,

    /// Seconds a delivered webhook delivery is kept (for `GET /api/deliveries`) before it is pruned.
    #[arg(long, env = "WASAP_DELIVERED_RETENTION_SECS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub delivered_retention_secs: u64,

    /// Seconds a failed webhook delivery (and its payload) is kept for a retry before it is pruned.
    #[arg(long, env = "WASAP_FAILED_RETENTION_SECS", default_value_t = 30 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub failed_retention_secs: u64,

    /// Milliseconds between two prunings of old webhook deliveries.
    #[arg(long, env = "WASAP_DELIVERY_PRUNE_INTERVAL_MS", default_value_t = 3_600_000, value_parser = clap::value_parser!(u64).range(10..))]
    pub delivery_prune_interval_ms: u64,

    /// Seconds a handled inbound journal entry is kept for clients' replay
    /// (`GET /api/instances/{id}/events`, `?after=`) before it is pruned.
    #[arg(long, env = "WASAP_JOURNAL_RETENTION_SECS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub journal_retention_secs: u64,

    /// Handled inbound journal entries kept per instance at most (the newest); older ones are pruned.
    #[arg(long, env = "WASAP_JOURNAL_MAX_PER_INSTANCE", default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub journal_max_per_instance: u64,

    /// Milliseconds between two prunings of the inbound journal.
    #[arg(long, env = "WASAP_JOURNAL_PRUNE_INTERVAL_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(10..))]
    pub journal_prune_interval_ms: u64,

    /// The send queue's defaults and limits (`WASAP_QUEUE_*`).
    #[command(flatten)]
    pub queue: QueueFlags,

    /// Attempts per webhook delivery before it is `failed`.
    #[arg(long, env = "WASAP_WEBHOOK_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_attempts: u32,

    /// Webhook attempts in flight at most per receiver URL: a receiver that
    /// is slow or down holds at most this many, and the others keep theirs.
    #[arg(long, env = "WASAP_WEBHOOK_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub webhook_concurrency: u32,

    /// Milliseconds to wait after each failed attempt, comma-separated; the
    /// last one repeats when there are more attempts than entries.
    #[arg(
        long,
        env = "WASAP_WEBHOOK_BACKOFF_MS",
        value_delimiter = ',',
        default_value = "1000,2000,4000,8000,16000"
    )]
    pub webhook_backoff_ms: Vec<u64>,

    /// Log every webhook delivery attempt and its outcome.
    #[arg(long, env = "WASAP_DEBUG", num_args = 0..=1, default_value_t = false, default_missing_value = "true",
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub debug: bool,

    /// Log filter, in tracing's env-filter syntax (e.g. `info`, `wasap=debug`).
    #[arg(long, env = "WASAP_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// The configuration with every default, data kept in `data_dir`:
    /// what `wasap serve` uses with no flags or environment, and what tests
    /// start from.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        let mut config = Config::from_flags(Vec::<String>::new()).expect("`wasap serve` with no flags parses");
        config.data_dir = data_dir.into();
        config
    }

    /// The plugins directory in effect: the one set, or `<data-dir>/plugins.d`
    /// (never one relative to the working directory, which two servers
    /// started from the same place would share).
    pub fn plugins_dir(&self) -> PathBuf {
        self.plugins_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("plugins.d"))
    }

    /// The configuration `wasap serve FLAGS...` runs with (the environment
    /// filling in what the flags leave out): for a test that runs the server
    /// as a process of its own, exactly as the binary parses it.
    pub fn from_flags<I, T>(flags: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args = ["wasap", "serve"]
            .into_iter()
            .map(std::ffi::OsString::from)
            .chain(flags.into_iter().map(Into::into));
        match Cli::try_parse_from(args)?.command {
            Command::Serve(config) => Ok(config),
            Command::Plugin(_) => unreachable!("the arguments start with `serve`"),
        }
    }

    /// The database URL in effect: `DATABASE_URL`, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => Store::sqlite_url_in(&self.data_dir),
        }
    }

    /// The send queue's settings: the default pacing and its limits.
    pub fn queue_settings(&self) -> crate::send_queue::QueueSettings {
        self.queue.settings()
    }

    /// The instance lifecycle timings.
    pub fn instance_settings(&self) -> Settings {
        Settings {
            presence_interval: Duration::from_secs(self.presence_interval_secs),
            reconnect_min: Duration::from_millis(self.reconnect_min_ms),
            reconnect_max: Duration::from_millis(self.reconnect_max_ms.max(self.reconnect_min_ms)),
            qr_wait: Duration::from_secs(self.qr_wait_secs),
            media_limits: self.media_limits(),
            watchdog: Some(Duration::from_secs(self.watchdog_secs)).filter(|d| !d.is_zero()),
            offline_alert: Some(Duration::from_secs(self.offline_alert_secs)).filter(|d| !d.is_zero()),
        }
    }

    /// What outbound requests may reach.
    pub fn url_policy(&self) -> UrlPolicy {
        UrlPolicy {
            allow_private: self.allow_private_urls,
        }
    }

    /// How long one outbound fetch may take.
    pub fn fetch_timeout(&self) -> Duration {
        Duration::from_secs(self.fetch_timeout_secs)
    }

    /// Whether the WebSocket routes are served: `WASAP_ENABLE_WEBSOCKET`, and
    /// `SUDEVWA_ENABLE_WEBSOCKET` when it is set (docs/API.md, "WebSockets").
    pub fn websocket_enabled(&self) -> bool {
        self.enable_websocket
            && self
                .sudevwa_enable_websocket
                .as_deref()
                .is_none_or(|v| v.trim() == "true")
    }

    /// How the WebSocket hub treats its connections.
    pub fn hub_settings(&self) -> HubSettings {
        HubSettings {
            ping_interval: Duration::from_millis(self.ws_ping_interval_ms),
            idle_timeout: Duration::from_millis(self.ws_idle_timeout_ms),
            queue_frames: self.ws_queue_frames as usize,
            max_connections: self.ws_max_connections as usize,
            max_per_instance: self.ws_max_connections_per_instance as usize,
            admin_reserved: self.ws_admin_reserved as usize,
        }
    }

    /// The HTTP front door's time limits and caps.
    pub fn front_door_settings(&self) -> FrontDoorSettings {
        FrontDoorSettings {
            header_timeout: Duration::from_millis(self.http_header_timeout_ms),
            idle_timeout: Duration::from_millis(self.http_idle_timeout_ms),
            max_connections: self.http_max_connections as usize,
            max_connections_per_ip: self.http_max_connections_per_ip as usize,
            max_header_bytes: self.http_max_header_bytes as usize,
        }
    }

    /// The API rate limit per client.
    pub fn rate_limit_settings(&self) -> RateLimitSettings {
        RateLimitSettings {
            per_second: self.api_rate,
            burst: self.api_burst,
        }
    }

    /// Whether webhooks are sent: `WASAP_ENABLE_WEBHOOK` is not false, and
    /// `SUDEVWA_ENABLE_WEBHOOK`, when set, is `true`.
    pub fn webhooks_enabled(&self) -> bool {
        self.enable_webhook
            && self
                .sudevwa_enable_webhook
                .as_deref()
                .is_none_or(|v| v.trim() == "true")
    }

    /// The outputs' switches, as the built-in plugins take them.
    pub fn output_switches(&self) -> OutputSwitches {
        OutputSwitches {
            webhooks: self.webhooks_enabled(),
            websocket: self.websocket_enabled(),
        }
    }

    /// The plugin host's ceilings and quotas.
    pub fn plugin_settings(&self) -> PluginSettings {
        PluginSettings {
            max_fuel: self.plugin_max_fuel,
            max_deadline_ms: self.plugin_max_deadline_ms,
            max_memory_mb: self.plugin_max_memory_mb,
            kv_max_bytes: self.plugin_kv_max_bytes,
        }
    }

    /// The global webhook URLs, split on commas.
    pub fn global_webhook_urls(&self) -> Vec<String> {
        crate::delivery::settings::split_urls(&self.webhooks)
    }

    /// The webhook delivery settings, with the global secret resolved by the caller.
    pub fn delivery_settings(&self, global_secret: String) -> DeliverySettings {
        DeliverySettings {
            enabled: self.webhooks_enabled(),
            attempts: self.webhook_attempts,
            per_receiver: self.webhook_concurrency as usize,
            backoff: self
                .webhook_backoff_ms
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
            timeout: Duration::from_millis(self.webhook_timeout_ms),
            retention: Retention {
                delivered: Duration::from_secs(self.delivered_retention_secs),
                failed: Duration::from_secs(self.failed_retention_secs),
                prune_every: Duration::from_millis(self.delivery_prune_interval_ms),
            },
            debug: self.debug,
            global: self
                .global_webhook_urls()
                .iter()
                .map(|url| GlobalWebhook::new(url))
                .collect(),
            global_secret,
        }
    }

    /// What received media is kept, and how often that is enforced.
    pub fn media_retention(&self) -> MediaRetention {
        MediaRetention {
            max_age: (self.media_retention_days > 0)
                .then(|| Duration::from_secs(self.media_retention_days.saturating_mul(24 * 3600))),
            max_total_bytes: (self.media_max_total_bytes > 0).then_some(self.media_max_total_bytes),
            interval: Duration::from_millis(self.media_sweep_interval_ms),
        }
    }

    /// The bounds on media transfers in flight.
    pub fn transfer_limits(&self) -> TransferLimits {
        TransferLimits {
            global: self.media_transfers as usize,
            per_instance: self.media_transfers_per_instance as usize,
            wait: Duration::from_millis(self.media_transfer_wait_ms),
        }
    }

    /// How failed writes of the inbound path are retried.
    pub fn write_retry(&self) -> WriteRetry {
        let max = Duration::from_millis(self.write_retry_max_ms);
        WriteRetry::new(Duration::from_millis(100).min(max), max)
    }

    /// What the inbound journal keeps for clients' replay, and how often it is pruned.
    pub fn journal_retention(&self) -> crate::store::journal_prune::JournalRetentionSettings {
        crate::store::journal_prune::JournalRetentionSettings {
            max_age: Duration::from_secs(self.journal_retention_secs),
            max_per_instance: self.journal_max_per_instance,
            interval: Duration::from_millis(self.journal_prune_interval_ms),
        }
    }

    /// Media size limits by kind.
    pub fn media_limits(&self) -> MediaLimits {
        MediaLimits {
            image: self.max_image_bytes,
            video: self.max_video_bytes,
            audio: self.max_audio_bytes,
            document: self.max_document_bytes,
        }
    }
}

#[cfg(test)]
#[path = "config/tests.rs"]
mod tests;
