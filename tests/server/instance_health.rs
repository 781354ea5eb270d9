//! An instance's health beyond its status (docs/API.md, "Instances"): a
//! temporary ban shows as status `banned` with WhatsApp's reason and when it
//! ends, the instance does not reconnect before then, comes back online by
//! itself after, and keeps the ban as its last connection error. On both
//! engines: on the real one the simulator refuses the logins of the banned
//! account with `<failure reason="402">`, as WhatsApp does.

use std::time::{Duration, Instant};

use wasap::clock::rfc3339;
use wasap_tests::both_engines;
use wasap_tests::engines::{EngineUnderTest, OnlineShop};

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
        db: _db,
        dir: _dir,
    } = OnlineShop::start(engine, SHOP).await;
    let (status, instance) = server.admin().get("/api/instances/shop").await;
    assert_eq!(status, 200, "{instance}");
    assert_eq!(
        (&instance["ban"], &instance["last_error"]),
        (&serde_json::Value::Null, &serde_json::Value::Null),
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
    assert_eq!(instance["ban"], serde_json::Value::Null, "the ban is over: {instance}");
    let error = instance["last_error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("temporarily banned: "),
        "kept as the last error: {instance}"
    );
    assert!(instance["last_error"]["at"].is_string(), "{instance}");
    server.stop().await;
    whatsapp.assert_all_handled();
}
