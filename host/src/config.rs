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

use crate::delivery::{DeliverySettings, GlobalWebhook};
use crate::engine::EngineKind;
use crate::instances::Settings;
use crate::media::MediaLimits;
use crate::outbound::UrlPolicy;
use crate::plugins::builtin::OutputSwitches;
use crate::store::Store;
use crate::websocket::HubSettings;

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

    /// Directory of plugins (`NAME.toml` + `NAME.wasm`), loaded at start-up.
    #[arg(long, env = "WASAP_PLUGINS_DIR", default_value = "./plugins.d")]
    pub plugins_dir: PathBuf,

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

    /// Milliseconds one webhook attempt may take.
    #[arg(long, env = "WASAP_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_timeout_ms: u64,

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
        config.plugins_dir = config.data_dir.join("plugins.d");
        config
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

    /// The instance lifecycle timings.
    pub fn instance_settings(&self) -> Settings {
        Settings {
            presence_interval: Duration::from_secs(self.presence_interval_secs),
            reconnect_min: Duration::from_millis(self.reconnect_min_ms),
            reconnect_max: Duration::from_millis(self.reconnect_max_ms.max(self.reconnect_min_ms)),
            qr_wait: Duration::from_secs(self.qr_wait_secs),
            media_limits: self.media_limits(),
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
            debug: self.debug,
            global: self
                .global_webhook_urls()
                .iter()
                .map(|url| GlobalWebhook::new(url))
                .collect(),
            global_secret,
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
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::from_flags(args)
    }

    #[test]
    fn outbound_url_settings() {
        let default = parse(&[]).unwrap();
        assert_eq!(default.url_policy(), UrlPolicy { allow_private: false });
        assert_eq!(default.fetch_timeout(), Duration::from_secs(30));
        let set = parse(&["--allow-private-urls", "--fetch-timeout-secs", "5"]).unwrap();
        assert!(set.url_policy().allow_private);
        assert_eq!(set.fetch_timeout(), Duration::from_secs(5));
        assert!(parse(&["--fetch-timeout-secs", "0"]).is_err());
    }

    #[test]
    fn websocket_switches() {
        let default = parse(&[]).unwrap();
        assert!(default.websocket_enabled());
        assert_eq!(default.hub_settings().ping_interval, Duration::from_secs(300));
        assert_eq!(default.hub_settings().idle_timeout, Duration::from_secs(900));
        assert!(!parse(&["--enable-websocket", "false"]).unwrap().websocket_enabled());
        assert!(
            !parse(&["--sudevwa-enable-websocket", "yes"])
                .unwrap()
                .websocket_enabled()
        );
        assert!(
            parse(&["--sudevwa-enable-websocket", "true"])
                .unwrap()
                .websocket_enabled()
        );
    }

    #[test]
    fn webhook_settings() {
        let default = parse(&[]).unwrap();
        let settings = default.delivery_settings("k".into());
        assert!(settings.enabled && !settings.debug);
        assert_eq!((settings.attempts, settings.timeout), (5, Duration::from_secs(10)));
        assert_eq!(settings.backoff, [1, 2, 4, 8, 16].map(Duration::from_secs));
        let set = parse(&[
            "--webhook",
            "https://a.example/x,https://b.example/y",
            "--webhook",
            "https://c.example/z",
            "--webhook-backoff-ms",
            "10,20",
            "--debug",
            "--enable-webhook",
            "false",
        ])
        .unwrap();
        assert_eq!(set.global_webhook_urls().len(), 3);
        let settings = set.delivery_settings("k".into());
        assert!(settings.debug && !settings.enabled);
        assert_eq!(settings.backoff, [10, 20].map(Duration::from_millis));
        assert!(parse(&["--debug=true"]).unwrap().debug);
        let sudevwa = |value: &str| parse(&["--sudevwa-enable-webhook", value]).unwrap().webhooks_enabled();
        assert!(sudevwa("true"));
        assert!(!sudevwa("1") && !sudevwa("false") && !sudevwa(""));
    }
}
