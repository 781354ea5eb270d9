//! The settings' parsing: flags, environment, defaults and refusals.

use super::*;

fn parse(args: &[&str]) -> Result<Config, clap::Error> {
    Config::from_flags(args)
}

#[test]
fn plugin_settings_default_to_the_plugin_hosts_defaults() {
    assert_eq!(parse(&[]).unwrap().plugin_settings(), PluginSettings::default());
    let set = parse(&["--plugin-max-deadline-ms", "2000", "--plugin-kv-max-bytes", "10"]).unwrap();
    assert_eq!(set.plugin_settings().max_deadline_ms, 2000);
    assert_eq!(set.plugin_settings().kv_max_bytes, 10);
    assert!(parse(&["--plugin-max-memory-mb", "4097"]).is_err());
    assert!(parse(&["--plugin-max-fuel", "0"]).is_err());
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
fn front_door_and_websocket_cap_settings() {
    let default = parse(&[]).unwrap().front_door_settings();
    assert_eq!(
        (default.header_timeout, default.idle_timeout),
        (Duration::from_secs(15), Duration::from_secs(60))
    );
    assert_eq!(
        (
            default.max_connections,
            default.max_connections_per_ip,
            default.max_header_bytes
        ),
        (1024, 256, 65536)
    );
    let hub = parse(&[]).unwrap().hub_settings();
    assert_eq!((hub.max_per_instance, hub.admin_reserved), (100, 100));
    assert!(parse(&["--http-max-header-bytes", "100"]).is_err());
    assert!(parse(&["--http-max-connections", "0"]).is_err());
}

#[test]
fn media_settings_and_the_plugins_directory() {
    let default = parse(&["--data-dir", "/srv/wasap"]).unwrap();
    assert_eq!(default.plugins_dir(), PathBuf::from("/srv/wasap/plugins.d"));
    let retention = default.media_retention();
    assert_eq!(retention.max_age, Some(Duration::from_secs(30 * 24 * 3600)));
    assert_eq!(retention.max_total_bytes, Some(10 << 30));
    assert_eq!(retention.interval, Duration::from_secs(600));
    assert_eq!(default.media_min_free_bytes, 1 << 30);
    let limits = default.transfer_limits();
    assert_eq!(
        (limits.global, limits.per_instance, limits.wait),
        (4, 2, Duration::from_secs(2))
    );
    let set = parse(&[
        "--plugins-dir",
        "/etc/wasap/plugins",
        "--media-retention-days",
        "0",
        "--media-max-total-bytes",
        "0",
    ])
    .unwrap();
    assert_eq!(
        set.plugins_dir(),
        PathBuf::from("/etc/wasap/plugins"),
        "the setting wins"
    );
    assert_eq!(
        (set.media_retention().max_age, set.media_retention().max_total_bytes),
        (None, None)
    );
    assert!(parse(&["--media-transfers", "0"]).is_err());
}

#[test]
fn journal_retention_settings() {
    let default = parse(&[]).unwrap().journal_retention();
    assert_eq!(
        default,
        crate::store::journal_prune::JournalRetentionSettings::default()
    );
    let set = parse(&[
        "--journal-retention-secs",
        "60",
        "--journal-max-per-instance",
        "3",
        "--journal-prune-interval-ms",
        "50",
    ])
    .unwrap()
    .journal_retention();
    assert_eq!(
        (set.max_age, set.max_per_instance, set.interval),
        (Duration::from_secs(60), 3, Duration::from_millis(50))
    );
    assert!(parse(&["--journal-max-per-instance", "0"]).is_err());
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

#[test]
fn api_rate_limit_settings() {
    let default = parse(&[]).unwrap().rate_limit_settings();
    assert_eq!(
        default,
        RateLimitSettings {
            per_second: 500,
            burst: 1000
        }
    );
    let set = parse(&["--api-rate", "0", "--api-burst", "3"])
        .unwrap()
        .rate_limit_settings();
    assert_eq!((set.per_second, set.burst), (0, 3));
    assert!(parse(&["--api-burst", "0"]).is_err());
    assert!(parse(&["--api-rate", "-1"]).is_err());
}

#[test]
fn send_queue_settings_keep_their_flag_names() {
    let default = parse(&[]).unwrap().queue_settings();
    assert_eq!(default.defaults.per_minute, None);
    assert_eq!(
        (default.max_waiting, default.retention),
        (100_000, Duration::from_secs(7 * 24 * 3600))
    );
    let set = parse(&[
        "--queue-per-minute",
        "30",
        "--queue-min-gap-ms",
        "500",
        "--queue-max-gap-ms",
        "100",
        "--queue-typing",
        "--queue-direct-sends",
        "refuse",
        "--queue-max-waiting",
        "7",
    ])
    .unwrap()
    .queue_settings();
    let pacing = &set.defaults;
    assert_eq!((pacing.per_minute, pacing.per_hour), (Some(30), None));
    // A max gap under the min gap is raised to it.
    assert_eq!((pacing.min_gap_ms, pacing.max_gap_ms), (Some(500), Some(500)));
    assert_eq!(pacing.typing, Some(true));
    assert_eq!(pacing.direct_sends, Some(crate::send_queue::DirectSends::Refuse));
    assert_eq!(set.max_waiting, 7);
    assert!(parse(&["--queue-max-waiting", "0"]).is_err());
}
