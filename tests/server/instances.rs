//! The instance lifecycle on the simulated network, through the real HTTP API:
//! create → QR → scan → online; restart → online with no QR; unlink and
//! logout → logged_out → pair again; drop → reconnect; delete wipes the keys;
//! the presence heartbeat; tokens scoped as docs/API.md says.

use serde_json::{Value, json};
use wasap::events::EventKind;
use wasap::store::Store;
use wasap_tests::{TestDb, TestServer, WAIT, data_dir};

/// Creates instance `id` and returns its token.
async fn create(server: &TestServer, id: &str) -> String {
    let (status, body) = server
        .admin()
        .post(
            "/api/instances",
            json!({ "instance_id": id, "name": format!("{id} shop") }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["instance_id"], id);
    assert_eq!(body["name"], format!("{id} shop"));
    assert_eq!(body["status"], "qr_required");
    let token = body["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 64);
    token
}

/// Asks for a QR, scans it as `phone`, waits until the instance is online.
async fn pair(server: &mut TestServer, id: &str, phone: &str) {
    let (status, qr) = server.admin().get(&format!("/api/instances/{id}/qr")).await;
    assert_eq!(status, 200, "{qr}");
    assert!(qr["qr"].as_str().is_some_and(|q| q.starts_with("2@")), "{qr}");
    let (status, body) = server
        .admin()
        .post(
            &format!("/sim/instances/{id}/scan"),
            json!({ "phone": phone, "push_name": "Shop" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server.events.wait_status(id, "online").await;
}

async fn instance(server: &TestServer, id: &str) -> Value {
    let (status, body) = server.admin().get(&format!("/api/instances/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn create_qr_scan_online() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    create(&server, "shop").await;

    let (status, qr) = server.admin().get("/api/instances/shop/qr").await;
    assert_eq!(status, 200, "{qr}");
    assert_eq!(qr["instance_id"], "shop");
    assert!(qr["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{qr}");
    assert_eq!(instance(&server, "shop").await["status"], "pairing");

    // The same QR as a PNG image, by query and by Accept header.
    for (path, accept) in [
        ("/api/instances/shop/qr?format=png", None),
        ("/api/instances/shop/qr", Some("image/png")),
    ] {
        let response = server.admin().get_raw(path, accept).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/png");
        let png = response.bytes().await.unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    let (status, body) = server
        .admin()
        .post(
            "/sim/instances/shop/scan",
            json!({ "phone": "6281234567890", "push_name": "Shop" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let before = server.events.wait_status("shop", "online").await;
    assert!(
        before
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Paired { phone_number, .. } if phone_number == "6281234567890")),
        "a paired event precedes online: {before:#?}"
    );

    let shop = instance(&server, "shop").await;
    assert_eq!(shop["status"], "online");
    assert_eq!(shop["phone_number"], "6281234567890");
    assert_eq!(shop["push_name"], "Shop");
    assert!(
        shop["jid"].as_str().is_some_and(|j| j.starts_with("6281234567890")),
        "{shop}"
    );
    assert!(
        shop["connected_at"].is_string() && shop["created_at"].is_string(),
        "{shop}"
    );

    // Online: no QR to give.
    let (status, body) = server.admin().get("/api/instances/shop/qr").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "instance_online");

    let (status, health) = server.client(None).get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["instances"]["online"], 1);
    server.stop().await;
}

#[tokio::test]
async fn a_restart_brings_paired_instances_back_without_a_qr() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    create(&server, "a").await;
    create(&server, "b").await;
    create(&server, "never-paired").await;
    pair(&mut server, "a", "6281100000001").await;
    pair(&mut server, "b", "6281100000002").await;
    server.stop().await;

    let mut server = TestServer::start(&db, dir.path()).await;
    let seen = server.events.wait_statuses(&["a", "b"], "online").await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e.kind, EventKind::Qr { .. } | EventKind::Paired { .. })),
        "no QR or new pairing on restart: {seen:#?}"
    );
    assert_eq!(instance(&server, "a").await["phone_number"], "6281100000001");
    assert_eq!(instance(&server, "b").await["status"], "online");
    assert_eq!(instance(&server, "never-paired").await["status"], "qr_required");
    server.stop().await;
}

#[tokio::test]
async fn unlink_from_the_phone_then_pair_again() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    create(&server, "shop").await;
    pair(&mut server, "shop", "6281234500001").await;

    let (status, body) = server.admin().post_empty("/sim/instances/shop/unlink").await;
    assert_eq!(status, 200, "{body}");
    let before = server.events.wait_status("shop", "logged_out").await;
    assert!(before.is_empty() || before.iter().all(|e| e.instance_id == "shop"));
    let shop = instance(&server, "shop").await;
    assert_eq!(shop["status"], "logged_out");
    assert!(shop["jid"].is_null() && shop["phone_number"].is_null(), "{shop}");

    let store = Store::open(db.url()).await.unwrap();
    assert_eq!(
        store.device_row_count().await.unwrap(),
        0,
        "device keys wiped on unlink"
    );
    store.close().await;

    // The same instance pairs again, with a new number even.
    pair(&mut server, "shop", "6281234500002").await;
    assert_eq!(instance(&server, "shop").await["phone_number"], "6281234500002");
    server.stop().await;
}

#[tokio::test]
async fn logout_through_the_api_then_pair_again() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = create(&server, "shop").await;
    pair(&mut server, "shop", "6281234500003").await;

    let (status, body) = server
        .client(Some(&token))
        .post_empty("/api/instances/shop/logout")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "logged_out");
    server.events.wait_status("shop", "logged_out").await;
    let store = Store::open(db.url()).await.unwrap();
    assert_eq!(
        store.device_row_count().await.unwrap(),
        0,
        "device keys wiped on logout"
    );
    store.close().await;

    // Logging out again: nothing is linked.
    let (status, body) = server.admin().post_empty("/api/instances/shop/logout").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "instance_not_linked");

    pair(&mut server, "shop", "6281234500003").await;
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_reconnects_and_leaves_others_alone() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    create(&server, "flaky").await;
    create(&server, "steady").await;
    pair(&mut server, "flaky", "6281200000001").await;
    pair(&mut server, "steady", "6281200000002").await;

    let (status, body) = server.admin().post_empty("/sim/instances/flaky/disconnect").await;
    assert_eq!(status, 200, "{body}");
    server.events.wait_status("flaky", "disconnected").await;
    let mut seen = server.events.wait_status("flaky", "connecting").await;
    seen.extend(server.events.wait_status("flaky", "online").await);
    assert!(
        !seen.iter().any(|e| e.instance_id == "steady"),
        "the other instance saw nothing: {seen:#?}"
    );
    assert_eq!(instance(&server, "steady").await["status"], "online");
    assert_eq!(instance(&server, "flaky").await["phone_number"], "6281200000001");
    server.stop().await;
}

#[tokio::test]
async fn reconnect_on_request() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    create(&server, "shop").await;
    let (status, body) = server.admin().post_empty("/api/instances/shop/reconnect").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("instance_not_linked"))
    );

    pair(&mut server, "shop", "6281234500004").await;
    let (status, body) = server.admin().post_empty("/api/instances/shop/reconnect").await;
    assert_eq!(status, 200, "{body}");
    server.events.wait_status("shop", "connecting").await;
    server.events.wait_status("shop", "online").await;
    server.stop().await;
}

#[tokio::test]
async fn delete_wipes_the_device_keys() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    create(&server, "gone").await;
    create(&server, "kept").await;
    pair(&mut server, "gone", "6281300000001").await;
    pair(&mut server, "kept", "6281300000002").await;
    let store = Store::open(db.url()).await.unwrap();
    let with_two = store.device_row_count().await.unwrap();
    assert!(with_two >= 2, "two device rows while both are linked");

    let (status, body) = server.admin().delete("/api/instances/gone").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.admin().get("/api/instances/gone").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("instance_not_found"))
    );
    assert_eq!(
        store.device_row_count().await.unwrap(),
        with_two / 2,
        "only the kept device's rows remain"
    );
    let (status, list) = server.admin().get("/api/instances").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instance_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["kept"]);
    store.close().await;

    // A restart does not bring it back.
    server.stop().await;
    let server = TestServer::start(&db, dir.path()).await;
    let (status, _) = server.admin().get("/api/instances/gone").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn the_presence_heartbeat_runs_while_online() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.presence_interval_secs = 1;
    let mut server = TestServer::start_with(config).await;
    create(&server, "shop").await;
    pair(&mut server, "shop", "6281234500005").await;

    // The heartbeat has no event of its own: watch the simulated phone's count.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, sim) = server.admin().get("/sim/instances/shop").await;
        if sim["presence_announcements"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no heartbeat: {sim}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn pair_by_phone_code() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    create(&server, "shop").await;
    let (status, body) = server
        .admin()
        .post("/api/instances/shop/pair-code", json!({ "phone": "62812x" }))
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("invalid_phone")));

    let (status, body) = server
        .admin()
        .post("/api/instances/shop/pair-code", json!({ "phone": "6281234500006" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let code = body["code"].as_str().unwrap();
    assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "XXXX-XXXX: {code}");
    server
        .admin()
        .post("/sim/instances/shop/scan", json!({ "phone": "6281234500006" }))
        .await;
    server.events.wait_status("shop", "online").await;
    server.stop().await;
}

#[tokio::test]
async fn create_validates_ids_and_refuses_duplicates() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    create(&server, "dup").await;
    let admin = server.admin();
    let (status, body) = admin.post("/api/instances", json!({ "instance_id": "dup" })).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("instance_exists")));
    let (status, body) = admin
        .post("/api/instances", json!({ "instance_id": "no spaces" }))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("invalid_instance_id"))
    );
    let (status, body) = admin.post("/api/instances", json!({ "instance_id": 5 })).await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("invalid_body")));
    let (status, body) = admin.send(reqwest::Method::POST, "/api/instances", None).await;
    assert_eq!(status, 201, "an empty body generates an id: {body}");
    assert!(body["instance_id"].as_str().is_some_and(|id| !id.is_empty()));
    let (status, body) = admin.get("/api/instances/nope").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("instance_not_found"))
    );
    server.stop().await;
}

#[tokio::test]
async fn tokens_are_scoped() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let a = create(&server, "a").await;
    create(&server, "b").await;

    let own = server.client(Some(&a));
    assert_eq!(own.get("/api/instances/a").await.0, 200);
    assert_eq!(own.get("/api/instances/a/qr").await.0, 200);
    for (status, path) in [
        (own.get("/api/instances/b").await.0, "another instance"),
        (own.get("/api/instances").await.0, "the list"),
        (own.post("/api/instances", json!({})).await.0, "create"),
        (own.delete("/api/instances/a").await.0, "delete"),
        (own.post_empty("/sim/instances/a/disconnect").await.0, "sim"),
    ] {
        assert_eq!(status, 403, "instance token on {path}");
    }
    let (status, body) = server.client(None).get("/api/instances").await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("unauthorized")));
    let (status, body) = server.client(Some("not-a-token")).get("/api/instances/a").await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("invalid_token")));
    let (status, _) = server.client(None).get("/health").await;
    assert_eq!(status, 200, "health needs no token");
    assert_eq!(server.admin().get("/api/instances/b").await.0, 200);

    // Once deleted, its token opens nothing.
    assert_eq!(server.admin().delete("/api/instances/a").await.0, 200);
    assert_eq!(own.get("/api/instances/a").await.0, 401);
    server.stop().await;
}
