//! How an instance reacts to the ways a connection can end, on the simulated
//! network: QR rotation while pairing, another client taking the stream over,
//! an outdated client, and a panic in one instance's code path, which must
//! stay inside that instance. (A temporary ban: `instance_health.rs`.)

use std::time::Duration;

use serde_json::json;
use wasap::events::EventKind;
use wasap_tests::{TestDb, TestServer, data_dir};

/// Long enough that a reconnect that should not happen (its first delay is
/// 20 ms in these tests) would have happened.
const QUIET: Duration = Duration::from_millis(600);

async fn online_instance(server: &mut TestServer, id: &str, phone: &str) {
    let (status, body) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": id }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(server.admin().get(&format!("/api/instances/{id}/qr")).await.0, 200);
    let (status, body) = server
        .admin()
        .post(&format!("/sim/instances/{id}/scan"), json!({ "phone": phone }))
        .await;
    assert_eq!(status, 200, "{body}");
    server.events.wait_status(id, "online").await;
}

async fn end_connection(server: &TestServer, id: &str, body: serde_json::Value) {
    let (status, answer) = server
        .admin()
        .post(&format!("/sim/instances/{id}/disconnect"), body)
        .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn qr_codes_rotate_while_pairing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.sim_qr_interval_secs = 1;
    let mut server = TestServer::start_with(config).await;
    server
        .admin()
        .post("/api/instances", json!({ "instance_id": "shop" }))
        .await;

    let (_, first) = server.admin().get("/api/instances/shop/qr").await;
    let first = first["qr"].as_str().unwrap().to_owned();
    let is_qr = |e: &wasap::events::Event, not: &str| matches!(&e.kind, EventKind::Qr { qr, .. } if qr != not);
    let (event, _) = server.events.wait_for("a first QR event", |e| is_qr(e, "")).await;
    let EventKind::Qr { qr, expires_at_ms } = &event.kind else {
        unreachable!()
    };
    assert_eq!(qr, &first, "GET /qr answers with the published code");
    assert!(*expires_at_ms > wasap::clock::now_ms() - 1000);
    let (rotated, _) = server.events.wait_for("a rotated QR", |e| is_qr(e, &first)).await;
    let EventKind::Qr { qr: second, .. } = &rotated.kind else {
        unreachable!()
    };
    let (_, now) = server.admin().get("/api/instances/shop/qr").await;
    assert_eq!(
        now["qr"].as_str(),
        Some(second.as_str()),
        "GET /qr follows the rotation"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_replaced_stream_is_not_fought_over() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online_instance(&mut server, "shop", "6281500000001").await;

    end_connection(&server, "shop", json!({ "reason": "stream_replaced" })).await;
    server.events.wait_status("shop", "disconnected").await;
    server.events.expect_quiet("shop", QUIET).await;
    let (_, shop) = server.admin().get("/api/instances/shop").await;
    let why = shop["last_error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("stream replaced"), "the last error says why: {shop}");

    // The operator decides: reconnecting takes the stream back.
    assert_eq!(server.admin().post_empty("/api/instances/shop/reconnect").await.0, 200);
    server.events.wait_status("shop", "online").await;
    server.stop().await;
}

#[tokio::test]
async fn an_outdated_client_is_not_retried() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online_instance(&mut server, "shop", "6281500000002").await;

    end_connection(&server, "shop", json!({ "reason": "client_outdated" })).await;
    server.events.wait_status("shop", "disconnected").await;
    server.events.expect_quiet("shop", QUIET).await;
    let (_, shop) = server.admin().get("/api/instances/shop").await;
    assert_eq!(shop["status"], "disconnected");
    let why = shop["last_error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("client version"), "the last error says why: {shop}");
    server.stop().await;
}

#[tokio::test]
async fn a_panic_in_one_instance_leaves_the_others_alone() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.presence_interval_secs = 1;
    let mut server = TestServer::start_with(config).await;
    online_instance(&mut server, "faulty", "6281500000004").await;
    online_instance(&mut server, "healthy", "6281500000005").await;

    end_connection(&server, "faulty", json!({ "reason": "panic" })).await;
    // The faulty instance's supervisor panics at its next heartbeat, is
    // rebuilt from the database, and reconnects the linked device.
    let mut seen = server.events.wait_status("faulty", "connecting").await;
    seen.extend(server.events.wait_status("faulty", "online").await);
    assert!(
        !seen
            .iter()
            .any(|e| e.instance_id == "healthy" && matches!(e.kind, EventKind::StatusChanged { .. })),
        "the healthy instance changed status: {seen:#?}"
    );
    let (_, healthy) = server.admin().get("/api/instances/healthy").await;
    assert_eq!(healthy["status"], "online");
    let (_, faulty) = server.admin().get("/api/instances/faulty").await;
    assert_eq!(faulty["status"], "online");
    assert_eq!(faulty["phone_number"], "6281500000004");
    server.stop().await;
}
