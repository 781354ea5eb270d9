//! An instance's health beyond its status (docs/API.md, "Instances"): a
//! temporary ban shows as status `banned` with WhatsApp's reason and when it
//! ends, the instance does not reconnect before then, comes back online by
//! itself after, and keeps the ban as its last connection error. On both
//! engines: on the real one the simulator refuses the logins of the banned
//! account with `<failure reason="402">`, as WhatsApp does.
//!
//! The watchdog closes a connection that has gone deaf (open, but WhatsApp's
//! side silent: on the real engine the simulator drops what the client sends
//! and sends it nothing) and reconnects, the last error saying why, and the
//! instance's stats and `/metrics` count it; a healthy quiet connection is
//! left alone. Lifecycle events (status changes, the offline alert, a logout)
//! reach a webhook subscribed to them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasap::clock::rfc3339;
use wasap::events::EventKind;
use wasap_tests::both_engines;
use wasap_tests::engines::{EngineUnderTest, OnlineShop};
use wasap_tests::webhook_receiver::{Received, WebhookReceiver};

const SHOP: &str = "6281234500400";
/// Long enough to see the instance wait; short enough for a test.
const BAN_SECONDS: u64 = 2;

both_engines!(a_temporary_ban_shows_its_reason_and_end_then_the_instance_comes_back);

async fn a_temporary_ban_shows_its_reason_and_end_then_the_instance_comes_back(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        mut server,
        token: _,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    let (status, instance) = server.admin().get("/api/instances/shop").await;
    assert_eq!(status, 200, "{instance}");
    assert_eq!(
        (&instance["ban"], &instance["last_error"]),
        (&Value::Null, &Value::Null),
        "healthy: {instance}"
    );

    let banned_at = wasap::clock::now_secs();
    let reason = driver.ban(BAN_SECONDS).await;
    server.events.wait_status("shop", "banned").await;
    let banned_seen = Instant::now();
    let (_, instance) = server.admin().get("/api/instances/shop").await;
    assert_eq!(instance["status"], "banned", "{instance}");
    let why = instance["ban"]["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains(reason),
        "the ban's reason {why:?} names {reason:?}: {instance}"
    );
    // RFC 3339 times in UTC to the second compare as strings.
    let ends = instance["ban"]["expires_at"].as_str().expect("when the ban ends");
    let latest = rfc3339(wasap::clock::now_secs() + BAN_SECONDS as i64 + 1);
    assert!(
        rfc3339(banned_at).as_str() <= ends && ends <= latest.as_str(),
        "the ban ends at {ends}: {instance}"
    );
    let error = instance["last_error"]["message"].as_str().unwrap_or_default();
    assert!(error.starts_with("temporarily banned: "), "{instance}");

    // Not a reconnect before the ban ends; then by itself, back online.
    server.events.wait_status("shop", "connecting").await;
    assert!(
        banned_seen.elapsed() >= Duration::from_millis(900),
        "reconnected during the ban, after {:?}",
        banned_seen.elapsed()
    );
    server.events.wait_status("shop", "online").await;
    let (_, instance) = server.admin().get("/api/instances/shop").await;
    assert_eq!(instance["status"], "online", "{instance}");
    assert_eq!(instance["ban"], Value::Null, "the ban is over: {instance}");
    let error = instance["last_error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("temporarily banned: "),
        "kept as the last error: {instance}"
    );
    assert!(instance["last_error"]["at"].is_string(), "{instance}");
    server.stop().await;
    whatsapp.assert_all_handled();
}

/// The watchdog's threshold in these tests: a connection silent this long is deaf.
const WATCHDOG_SECS: u64 = 2;
/// The offline alert's threshold in these tests.
const OFFLINE_ALERT_SECS: u64 = 1;

both_engines!(the_watchdog_reconnects_a_deaf_connection_and_says_why);

async fn the_watchdog_reconnects_a_deaf_connection_and_says_why(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        mut server,
        token: _,
        driver,
    } = OnlineShop::start_configured(engine, SHOP, |config| config.watchdog_secs = WATCHDOG_SECS).await;
    let admin = server.admin();
    let reconnects = "wasap_instance_reconnects_total{instance=\"shop\"}";
    assert_eq!(admin.metric(reconnects).await, 0.0);
    // A healthy connection, quiet for longer than the threshold, is left alone
    // (on the real engine it answers the watchdog's ping).
    server
        .events
        .expect_quiet("shop", Duration::from_secs(WATCHDOG_SECS + 1))
        .await;

    let silenced = Instant::now();
    driver.go_silent().await;
    let (_, before) = server
        .events
        .wait_for("the deaf connection closed", |event| {
            event.instance_id == "shop"
                && matches!(&event.kind, EventKind::StatusChanged { status, .. } if status.as_str() == "disconnected")
        })
        .await;
    assert!(before.iter().all(|e| e.instance_id != "shop"), "{before:#?}");
    // Silent since the last thing heard, which on the real engine may be a
    // little before the test silenced the connection.
    if !whatsapp.is_real() {
        assert!(
            silenced.elapsed() >= Duration::from_secs(WATCHDOG_SECS),
            "closed after {:?}, before the threshold",
            silenced.elapsed()
        );
    }
    server.events.wait_status("shop", "online").await;
    let (_, instance) = admin.get("/api/instances/shop").await;
    assert_eq!(instance["status"], "online", "{instance}");
    let error = instance["last_error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("no sign of life for ") && error.ends_with(" s; reconnecting"),
        "the last error says why: {instance}"
    );
    assert_eq!(instance["stats"]["reconnects"], 1, "{instance}");
    assert_eq!(admin.metric(reconnects).await, 1.0);
    // The new connection works.
    let id = driver.text_from("6281234567001", "Ann", "still there?").await;
    server
        .events
        .wait_for(
            "the message over the new connection",
            |event| matches!(&event.kind, EventKind::Message(m) if m.id == id),
        )
        .await;
    let (_, instance) = admin.get("/api/instances/shop").await;
    assert!(instance["stats"]["last_inbound_at"].is_string(), "{instance}");
    assert!(
        instance["stats"]["last_inbound_age_secs"]
            .as_u64()
            .is_some_and(|age| age <= 2),
        "{instance}"
    );
    assert!(
        admin
            .metric("wasap_instance_last_inbound_age_seconds{instance=\"shop\"}")
            .await
            <= 2.0
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

both_engines!(lifecycle_events_reach_the_webhooks_subscribed_to_them);

async fn lifecycle_events_reach_the_webhooks_subscribed_to_them(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        mut server,
        token: _,
        driver,
    } = OnlineShop::start_configured(engine, SHOP, |config| {
        config.offline_alert_secs = OFFLINE_ALERT_SECS;
        // Long enough a backoff for the outage to pass the alert's threshold.
        config.reconnect_min_ms = 2_500;
        config.reconnect_max_ms = 2_500;
    })
    .await;
    let mut receiver = WebhookReceiver::start().await;
    let body = json!({
        "url": receiver.url("/lifecycle"),
        "events": ["instance.status", "instance_offline", "instance_logged_out"],
    });
    let (status, created) = server.admin().post("/api/instances/shop/webhooks", body.clone()).await;
    assert_eq!(status, 201, "{body} → {created}");

    driver.disconnect().await;
    server.events.wait_status("shop", "online").await;
    let all = receiver
        .until("disconnected, the alert, connecting, online", |all| all.len() >= 4)
        .await;
    let mut bodies: Vec<Value> = all.iter().map(Received::json).collect();
    for body in &mut bodies {
        assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
        body["timestamp"] = Value::Null;
    }
    let status = |status: &str, previous: &str| {
        json!({ "event": "instance.status", "timestamp": null,
                "data": { "instance_id": "shop", "status": status, "previous": previous } })
    };
    let offline = bodies
        .iter()
        .find(|body| body["event"] == "instance.offline")
        .unwrap_or_else(|| panic!("no instance.offline: {bodies:#?}"))
        .clone();
    assert_eq!(offline["data"]["instance_id"], "shop", "{offline}");
    assert_eq!(offline["data"]["status"], "disconnected", "{offline}");
    assert!(
        offline["data"]["offline_secs"]
            .as_u64()
            .is_some_and(|s| s >= OFFLINE_ALERT_SECS),
        "{offline}"
    );
    assert!(
        offline["data"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("connection dropped")),
        "{offline}"
    );
    let mut statuses: Vec<Value> = bodies.into_iter().filter(|b| b["event"] == "instance.status").collect();
    statuses.sort_by_key(|b| b.to_string());
    let mut expected = vec![
        status("disconnected", "online"),
        status("connecting", "disconnected"),
        status("online", "connecting"),
    ];
    expected.sort_by_key(|b| b.to_string());
    assert_eq!(statuses, expected);

    // Logged out from the phone: `instance.logged_out` and its status.
    driver.unlink().await;
    let all = receiver
        .until("logged out", |all| {
            all.iter().any(|r| r.json()["event"] == "instance.logged_out")
        })
        .await;
    let logged_out = all
        .iter()
        .map(Received::json)
        .find(|b| b["event"] == "instance.logged_out")
        .expect("instance.logged_out");
    assert_eq!(logged_out["data"]["instance_id"], "shop", "{logged_out}");
    assert!(logged_out["data"]["reason"].is_string(), "{logged_out}");
    server.stop().await;
    whatsapp.assert_all_handled();
}
