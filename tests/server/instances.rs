//! The instance lifecycle through the real HTTP API, on both engines (the
//! sim engine, and the real one against the loopback WhatsApp simulator; see
//! `wasap_tests::engines`): create → QR → scan (or pair code) → online;
//! restart → online with no QR; unlink and logout → logged_out → pair again;
//! drop → reconnect; delete wipes the keys; the presence heartbeat. Then,
//! engine-independent: ids, and tokens scoped as docs/API.md says.

use serde_json::{Value, json};
use wasap::events::EventKind;
use wasap::store::Store;
use wasap_tests::engines::{EngineUnderTest, Whatsapp};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir};

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

/// The phone scans instance `id`'s QR as `phone`; waits until it is online.
async fn pair(whatsapp: &Whatsapp, server: &mut TestServer, id: &str, phone: &str) {
    whatsapp.driver(server, id).scan(phone, "Shop").await;
    server.events.wait_status(id, "online").await;
}

async fn instance(server: &TestServer, id: &str) -> Value {
    let (status, body) = server.admin().get(&format!("/api/instances/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn device_rows(db: &TestDb) -> i64 {
    let store = Store::open(db.url()).await.unwrap();
    let rows = store.device_row_count().await.unwrap();
    store.close().await;
    rows
}

/// The device id instance `id` is linked under, and the rows held for it.
async fn device_of(db: &TestDb, id: &str) -> (i32, i64) {
    let store = Store::open(db.url()).await.unwrap();
    let device = store.get_instance(id).await.unwrap().and_then(|row| row.device_id);
    let device = device.unwrap_or_else(|| panic!("{id} is linked under a device id"));
    let rows = store.device_row_count_of(device).await.unwrap();
    store.close().await;
    (device, rows)
}

async fn rows_of_device(db: &TestDb, device: i32) -> i64 {
    let store = Store::open(db.url()).await.unwrap();
    let rows = store.device_row_count_of(device).await.unwrap();
    store.close().await;
    rows
}

both_engines!(
    create_qr_scan_online,
    pair_by_phone_code,
    a_restart_brings_paired_instances_back_without_a_qr,
    unlink_from_the_phone_then_pair_again,
    logout_through_the_api_then_pair_again,
    a_dropped_connection_reconnects_and_leaves_others_alone,
    reconnect_on_request,
    delete_wipes_the_device_keys,
    the_presence_heartbeat_runs_while_online,
);

async fn create_qr_scan_online(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    create(&server, "shop").await;

    let (status, qr) = server.admin().get("/api/instances/shop/qr").await;
    assert_eq!(status, 200, "{qr}");
    assert_eq!(qr["instance_id"], "shop");
    assert!(qr["qr"].as_str().is_some_and(|q| q.starts_with("2@")), "{qr}");
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

    whatsapp.driver(&server, "shop").scan("6281234567890", "Shop").await;
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
    assert_eq!(shop["jid"], "6281234567890:1@s.whatsapp.net", "{shop}");
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
    whatsapp.assert_all_handled();
}

async fn pair_by_phone_code(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
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
    whatsapp.driver(&server, "shop").enter_code("6281234500006", code).await;
    server.events.wait_status("shop", "online").await;
    assert_eq!(instance(&server, "shop").await["phone_number"], "6281234500006");
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn a_restart_brings_paired_instances_back_without_a_qr(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    create(&server, "a").await;
    create(&server, "b").await;
    create(&server, "never-paired").await;
    pair(&whatsapp, &mut server, "a", "6281100000001").await;
    pair(&whatsapp, &mut server, "b", "6281100000002").await;
    server.stop().await;

    let started = std::time::Instant::now();
    let mut server = whatsapp.server(&db, dir.path()).await;
    let seen = server.events.wait_statuses(&["a", "b"], "online").await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e.kind, EventKind::Qr { .. } | EventKind::Paired { .. })),
        "no QR or new pairing on restart: {seen:#?}"
    );
    // Back at once: nothing (a lost push name, say) makes the login wait.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "back online after {:?}",
        started.elapsed()
    );
    let a = instance(&server, "a").await;
    assert_eq!(
        (a["phone_number"].clone(), a["push_name"].clone()),
        (json!("6281100000001"), json!("Shop"))
    );
    assert_eq!(instance(&server, "b").await["status"], "online");
    assert_eq!(instance(&server, "never-paired").await["status"], "qr_required");
    if let Some(simulator) = whatsapp.simulator() {
        // The real client logged back in with Noise IK, as a registered device does.
        for phone in ["6281100000001", "6281100000002"] {
            let pattern = simulator.wait_online(phone, 1, wasap_tests::WAIT).await.unwrap();
            assert_eq!(pattern, wasap_whatsapp_sim::HandshakePattern::Ik, "{phone}");
        }
    }
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn unlink_from_the_phone_then_pair_again(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    create(&server, "shop").await;
    pair(&whatsapp, &mut server, "shop", "6281234500001").await;

    whatsapp.driver(&server, "shop").unlink().await;
    let before = server.events.wait_status("shop", "logged_out").await;
    assert!(before.is_empty() || before.iter().all(|e| e.instance_id == "shop"));
    let shop = instance(&server, "shop").await;
    assert_eq!(shop["status"], "logged_out");
    assert!(shop["jid"].is_null() && shop["phone_number"].is_null(), "{shop}");
    assert_eq!(device_rows(&db).await, 0, "device keys wiped on unlink");

    // The same instance pairs again, with a new number even.
    pair(&whatsapp, &mut server, "shop", "6281234500002").await;
    assert_eq!(instance(&server, "shop").await["phone_number"], "6281234500002");
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn logout_through_the_api_then_pair_again(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    let token = create(&server, "shop").await;
    pair(&whatsapp, &mut server, "shop", "6281234500003").await;

    let (status, body) = server
        .client(Some(&token))
        .post_empty("/api/instances/shop/logout")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "logged_out");
    server.events.wait_status("shop", "logged_out").await;
    assert_eq!(device_rows(&db).await, 0, "device keys wiped on logout");
    if let Some(simulator) = whatsapp.simulator() {
        // The phone no longer lists the device: the client asked WhatsApp to remove it.
        simulator
            .wait_unlinked("6281234500003", 1, wasap_tests::WAIT)
            .await
            .unwrap();
    }

    // Logging out again: nothing is linked.
    let (status, body) = server.admin().post_empty("/api/instances/shop/logout").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "instance_not_linked");

    pair(&whatsapp, &mut server, "shop", "6281234500003").await;
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn a_dropped_connection_reconnects_and_leaves_others_alone(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    create(&server, "flaky").await;
    create(&server, "steady").await;
    pair(&whatsapp, &mut server, "flaky", "6281200000001").await;
    pair(&whatsapp, &mut server, "steady", "6281200000002").await;

    whatsapp.driver(&server, "flaky").disconnect().await;
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
    whatsapp.assert_all_handled();
}

async fn reconnect_on_request(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    create(&server, "shop").await;
    let (status, body) = server.admin().post_empty("/api/instances/shop/reconnect").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("instance_not_linked"))
    );

    pair(&whatsapp, &mut server, "shop", "6281234500004").await;
    let (status, body) = server.admin().post_empty("/api/instances/shop/reconnect").await;
    assert_eq!(status, 200, "{body}");
    server.events.wait_status("shop", "connecting").await;
    server.events.wait_status("shop", "online").await;
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn delete_wipes_the_device_keys(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    create(&server, "gone").await;
    create(&server, "kept").await;
    pair(&whatsapp, &mut server, "gone", "6281300000001").await;
    pair(&whatsapp, &mut server, "kept", "6281300000002").await;
    // Counted per device: the real client keeps writing (pre-keys, app
    // state) after it is online, so a total would race those writes.
    let (gone_device, gone_rows) = device_of(&db, "gone").await;
    let (kept_device, kept_rows) = device_of(&db, "kept").await;
    assert!(gone_rows > 0 && kept_rows > 0, "both devices hold rows while linked");

    let (status, body) = server.admin().delete("/api/instances/gone").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.admin().get("/api/instances/gone").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("instance_not_found"))
    );
    assert_eq!(
        rows_of_device(&db, gone_device).await,
        0,
        "the deleted device's rows are gone"
    );
    assert!(
        rows_of_device(&db, kept_device).await > 0,
        "the kept device's rows remain"
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

    // A restart does not bring it back; deleting the other leaves no row at all.
    server.stop().await;
    let mut server = whatsapp.server(&db, dir.path()).await;
    let (status, _) = server.admin().get("/api/instances/gone").await;
    assert_eq!(status, 404);
    server.events.wait_status("kept", "online").await;
    assert_eq!(server.admin().delete("/api/instances/kept").await.0, 200);
    assert_eq!(device_rows(&db).await, 0, "no device rows once both are deleted");
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn the_presence_heartbeat_runs_while_online(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = whatsapp.config(&db, dir.path());
    config.presence_interval_secs = 1;
    let mut server = TestServer::start_with(config).await;
    create(&server, "shop").await;
    pair(&whatsapp, &mut server, "shop", "6281234500005").await;

    // The heartbeat has no event of its own: WhatsApp's side counts them.
    whatsapp.driver(&server, "shop").wait_presences(2).await;
    server.stop().await;
    whatsapp.assert_all_handled();
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

#[tokio::test]
async fn rotating_a_token_retires_the_old_one_and_its_listeners() {
    use wasap_tests::websocket::{End, Token, open};
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let old = create(&server, "a").await;
    let b = create(&server, "b").await;
    let mut listener = open(&server, "/api/listen/a", Token::Query(&old)).await;

    // Another instance's token cannot rotate this one.
    assert_eq!(
        server.client(Some(&b)).post_empty("/api/instances/a/token").await.0,
        403
    );
    let (status, body) = server.client(Some(&old)).post_empty("/api/instances/a/token").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["instance_id"], "a");
    let new = body["token"].as_str().expect("the new token").to_owned();
    assert_eq!(new.len(), 64);
    assert_ne!(new, old);

    assert_eq!(
        server.client(Some(&old)).get("/api/instances/a").await.0,
        401,
        "the old token is retired"
    );
    assert_eq!(server.client(Some(&new)).get("/api/instances/a").await.0, 200);
    assert_eq!(
        server.client(Some(&b)).get("/api/instances/b").await.0,
        200,
        "others keep theirs"
    );
    match listener.next_or_end().await {
        Err(End::Closed(code, reason)) => {
            assert_eq!(code, 1008);
            assert!(reason.contains("token rotated"), "{reason}");
        }
        other => panic!("expected the old listener closed, got {other:?}"),
    }

    // The admin can rotate it too, and the stored hash follows: after a
    // restart only the newest token works.
    let (status, body) = server.admin().post_empty("/api/instances/a/token").await;
    assert_eq!(status, 200, "{body}");
    let newest = body["token"].as_str().unwrap().to_owned();
    assert_eq!(server.client(Some(&new)).get("/api/instances/a").await.0, 401);
    server.stop().await;
    let server = TestServer::start(&db, dir.path()).await;
    assert_eq!(server.client(Some(&newest)).get("/api/instances/a").await.0, 200);
    assert_eq!(server.client(Some(&new)).get("/api/instances/a").await.0, 401);
    assert_eq!(server.admin().post_empty("/api/instances/nope/token").await.0, 404);
    server.stop().await;
}
