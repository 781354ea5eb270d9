//! WebSockets, black-box (docs/API.md, "WebSockets"): a real server on the sim
//! engine, serving `/ws` and `/api/listen/{id}` out of the box through its
//! built-in websocket plugin, and real WebSocket clients on both.

use std::sync::Arc;

use serde_json::{Value, json};
use wasap::events::{Event, EventKind, sudevwa};
use wasap_tests::plugins::{component, install, manifest};
use wasap_tests::websocket::{End, SilentClient, Token, connect, open};
use wasap_tests::{TestDb, TestServer, WAIT, data_dir, online, sim_config};

const CONTACT: &str = "6281234567890";

/// A text message from `CONTACT` (as "John Doe") to instance `id`; its message id.
async fn incoming(server: &TestServer, id: &str, text: &str) -> String {
    server
        .sim(id)
        .incoming(json!({ "from": CONTACT, "push_name": "John Doe", "text": text }))
        .await
}

/// The value of the series `series` (name and labels, as written) in `/metrics`.
async fn metric(server: &TestServer, series: &str) -> f64 {
    let text = server
        .admin()
        .get_raw("/metrics", None)
        .await
        .text()
        .await
        .expect("the metrics");
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '));
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// The frame the websocket plugin should publish for `event`.
fn expected_frame(event: &Event) -> Value {
    sudevwa::format(event).expect("the sudevwa format carries the event")
}

#[tokio::test]
async fn tokens_are_checked_in_the_header_or_the_query() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let shop = online(&mut server, "shop", "6281111111111").await;
    let other = online(&mut server, "other", "6282222222222").await;
    let admin = server.admin_token.clone();

    let refused = |result: Result<_, (u16, Value)>| result.err().expect("the connection is refused");
    let (status, body) = refused(connect(&server, "/ws", Token::None).await);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    assert_eq!(refused(connect(&server, "/ws", Token::Query("wrong")).await).0, 401);
    assert_eq!(refused(connect(&server, "/ws", Token::Header(&shop)).await).0, 403);
    assert_eq!(refused(connect(&server, "/api/listen/shop", Token::None).await).0, 401);
    assert_eq!(
        refused(connect(&server, "/api/listen/shop", Token::Query(&other)).await).0,
        403
    );
    assert_eq!(
        refused(connect(&server, "/api/listen/nobody", Token::Header(&admin)).await).0,
        404
    );

    open(&server, "/ws", Token::Header(&admin)).await;
    open(&server, "/ws", Token::Query(&admin)).await;
    open(&server, "/api/listen/shop", Token::Query(&shop)).await;
    open(&server, "/api/listen/shop", Token::Header(&admin)).await;

    // `?token=` is for the WebSocket routes only.
    let (status, _) = server.client(None).get(&format!("/api/instances?token={admin}")).await;
    assert_eq!(status, 401);
    // A plain request to a WebSocket route, once authorised, is told to upgrade.
    let (status, body) = server.admin().get("/ws").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (426, Some("websocket_required")),
        "{body}"
    );

    let (_, document) = server.client(None).get("/openapi.json").await;
    for path in ["/ws", "/api/listen/{id}"] {
        let operation = &document["paths"][path]["get"];
        assert!(operation["responses"]["101"].is_object(), "{path}: {operation}");
        assert_eq!(
            operation["parameters"].as_array().unwrap().last().unwrap()["name"],
            "token",
            "{path}"
        );
    }
}

#[tokio::test]
async fn qr_and_status_events_arrive_on_ws_in_order() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let mut ws = open(&server, "/ws", Token::Query(&server.admin_token.clone())).await;

    let (status, body) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": "shop" }))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, qr) = server.admin().get("/api/instances/shop/qr").await;
    assert_eq!(status, 200, "{qr}");
    let (status, body) = server
        .admin()
        .post("/sim/instances/shop/scan", json!({ "phone": "6281111111111" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let (online, mut seen) = server.events.wait_for("shop to become online", is_online("shop")).await;
    seen.push(online);

    // Every server-wide event of the instance, up to "online", arrives on
    // /ws in the bus's order and in the sudevwa shape; nothing else does.
    let expected: Vec<Value> = seen
        .iter()
        .filter(|e| is_global(e))
        .map(|e| expected_frame(e))
        .collect();
    let mut frames = Vec::new();
    for _ in 0..expected.len() {
        frames.push(ws.next_frame().await);
    }
    assert_eq!(frames, expected);
    let names: Vec<&str> = frames.iter().map(|f| f["event"].as_str().unwrap()).collect();
    assert!(names.contains(&"instance.paired"), "{names:?}");
    let first_qr = frames.iter().find(|f| f["event"] == "qr").expect("a qr frame");
    assert_eq!(first_qr["data"]["qr"], qr["qr"]);
    assert_eq!(first_qr["data"]["instance_id"], "shop");
    assert!(first_qr["data"]["expires_at"].is_string());
    let last = &frames.last().unwrap()["data"];
    assert_eq!(
        last,
        &json!({ "instance_id": "shop", "status": "online", "previous": last["previous"] })
    );
    assert!(last["previous"].is_string());

    // The phone unlinks the device: /ws hears of it.
    let (status, body) = server.admin().post_empty("/sim/instances/shop/unlink").await;
    assert_eq!(status, 200, "{body}");
    let (logged_out, _) = ws.wait_event("instance.logged_out").await;
    assert_eq!(logged_out["data"]["instance_id"], "shop", "{logged_out}");
}

/// The kinds `/ws` carries.
fn is_global(event: &Arc<Event>) -> bool {
    matches!(
        event.kind,
        EventKind::Qr { .. }
            | EventKind::StatusChanged { .. }
            | EventKind::Paired { .. }
            | EventKind::LoggedOut { .. }
            | EventKind::System { .. }
    )
}

/// Matches instance `id` going online.
fn is_online(id: &str) -> impl Fn(&Event) -> bool + '_ {
    move |e| {
        e.instance_id == id && matches!(&e.kind, EventKind::StatusChanged { status, .. } if status.as_str() == "online")
    }
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_cut_off_while_another_keeps_receiving() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.ws_queue_frames = 4;
    let mut server = TestServer::start_with(config).await;
    let token = online(&mut server, "shop", "6281111111111").await;
    let mut stalled = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    let mut reader = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    assert_eq!(
        metric(&server, r#"wasap_websocket_connections{route="/api/listen"}"#).await,
        2.0
    );
    assert_eq!(
        metric(&server, r#"wasap_websocket_connections{route="/ws"}"#).await,
        0.0
    );

    // Far more than the socket buffers and the queue hold together, so the
    // stalled reader falls behind however the kernel sizes its buffers.
    const MESSAGES: usize = 80;
    let filler = "x".repeat(200 * 1024);
    for i in 0..MESSAGES {
        incoming(&server, "shop", &format!("{i} {filler}")).await;
        let frame = reader.next_frame().await;
        let text = frame["data"]["message"].as_str().expect("a message");
        assert!(text.starts_with(&format!("{i} ")), "frame {i} out of order");
    }

    // The stalled reader, reading again, finds what was already on its way,
    // then the close frame that says why.
    let (frames, end) = stalled.until_end().await;
    assert!(
        frames.len() < MESSAGES,
        "the stalled reader got every frame: it was never cut off"
    );
    match end {
        End::Closed(code, reason) => {
            assert_eq!(code, 1008, "{reason}");
            assert!(reason.starts_with("too slow"), "{reason}");
        }
        End::Dropped(e) => panic!("the stalled reader was dropped without a close frame: {e}"),
    }
    // The other reader is still there.
    incoming(&server, "shop", "still here").await;
    assert_eq!(reader.next_frame().await["data"]["message"], "still here");
    // Counted per route: one reader cut off, and at least the other's first
    // MESSAGES frames (each one is counted before the next is sent).
    assert_eq!(
        metric(&server, r#"wasap_websocket_closed_too_slow_total{route="/api/listen"}"#).await,
        1.0
    );
    assert_eq!(
        metric(&server, r#"wasap_websocket_closed_too_slow_total{route="/ws"}"#).await,
        0.0
    );
    let sent = metric(&server, r#"wasap_websocket_frames_sent_total{route="/api/listen"}"#).await;
    assert!(sent >= MESSAGES as f64, "{sent} frames sent");
}

#[tokio::test]
async fn silent_connections_are_dropped_and_live_ones_kept() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.ws_ping_interval_ms = 50;
    config.ws_idle_timeout_ms = 400;
    let mut server = TestServer::start_with(config).await;
    let admin = server.admin_token.clone();
    // Reads (and so answers the server's pings) from the start.
    let mut live = open(&server, "/ws", Token::Header(&admin)).await;
    let live_task = tokio::spawn(async move {
        let frame = live.next_frame().await;
        (live, frame)
    });
    let silent = SilentClient::open(&server, "/ws", &admin).await;

    let bytes = silent.bytes_until_closed().await;
    // Pings (opcode 0x89) came, then a close frame (0x88) with the reason.
    assert!(bytes.contains(&0x89), "no ping reached the silent client");
    let close = bytes.iter().rposition(|b| *b == 0x88).expect("a close frame");
    let payload = &bytes[close + 2..];
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
    let reason = String::from_utf8_lossy(&payload[2..]);
    assert!(reason.starts_with("idle"), "{reason}");
    assert_eq!(
        metric(&server, r#"wasap_websocket_idle_timeouts_total{route="/ws"}"#).await,
        1.0
    );

    // The live client has outlived the idle timeout and still receives.
    online(&mut server, "shop", "6281111111111").await;
    let (live, frame) = tokio::time::timeout(WAIT, live_task)
        .await
        .expect("the live client gets a frame")
        .unwrap();
    assert_eq!(frame["data"]["instance_id"], "shop", "{frame}");
    assert!(live.pings > 0, "the live client saw no ping");
}

#[tokio::test]
async fn switched_off_websockets_answer_404() {
    for switch in ["WASAP_ENABLE_WEBSOCKET=false", "SUDEVWA_ENABLE_WEBSOCKET=1"] {
        let db = TestDb::new().await;
        let dir = data_dir();
        let mut config = sim_config(&db, dir.path());
        match switch {
            "WASAP_ENABLE_WEBSOCKET=false" => config.enable_websocket = false,
            _ => config.sudevwa_enable_websocket = Some("1".to_owned()),
        }
        let mut server = TestServer::start_with(config).await;
        let admin = server.admin_token.clone();
        online(&mut server, "shop", "6281111111111").await;
        for path in ["/ws", "/api/listen/shop"] {
            let (status, body) = connect(&server, path, Token::Header(&admin))
                .await
                .err()
                .expect("no WebSocket");
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (404, Some("not_found")),
                "{switch} {path}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn shutdown_closes_open_connections() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let admin = server.admin_token.clone();
    let mut ws = open(&server, "/ws", Token::Header(&admin)).await;
    let mut silent_reader = open(&server, "/ws", Token::Query(&admin)).await;
    tokio::time::timeout(WAIT, server.stop())
        .await
        .expect("the server stops with WebSockets open");
    for client in [&mut ws, &mut silent_reader] {
        // The notice queued before the close still comes first.
        let notice = client.next_frame().await;
        assert_eq!(
            (notice["event"].as_str(), notice["data"]["message"].as_str()),
            (Some("system"), Some("server shutting down")),
            "{notice}"
        );
        match client.next_or_end().await {
            Err(End::Closed(code, reason)) => assert_eq!((code, reason.as_str()), (1001, "server shutting down")),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn plugin_failures_reach_ws_as_plugin_error() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let probe = "tests/plugins/probe";
    let trap = manifest(probe)
        .replace("name = \"probe\"", "name = \"trap\"")
        .replace("mode = \"echo\"", "mode = \"trap\"");
    let (status, body) = install(&server, &trap, component(probe)).await;
    assert_eq!(status, 201, "{body}");
    online(&mut server, "shop", "6281111111111").await;
    let mut ws = open(&server, "/ws", Token::Header(&server.admin_token.clone())).await;

    incoming(&server, "shop", "boom").await;
    let (frame, _) = ws.wait_event("plugin.error").await;
    let data = &frame["data"];
    assert_eq!(
        (data["instance_id"].as_str(), data["plugin"].as_str()),
        (Some("shop"), Some("trap")),
        "{frame}"
    );
    assert!(data["error"].as_str().is_some_and(|e| !e.is_empty()), "{frame}");
}

#[tokio::test]
async fn one_event_reaches_a_thousand_listeners() {
    const LISTENERS: usize = 1000;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    // All on one instance's token, from one address.
    config.ws_max_connections_per_instance = LISTENERS as u64;
    let mut server = TestServer::start_with(config).await;
    let token = online(&mut server, "shop", "6281111111111").await;
    let mut clients = Vec::with_capacity(LISTENERS);
    for _ in 0..LISTENERS {
        clients.push(open(&server, "/api/listen/shop", Token::Query(&token)).await);
    }
    let (sender, mut received) = tokio::sync::mpsc::channel(LISTENERS);
    for mut client in clients {
        let sender = sender.clone();
        tokio::spawn(async move {
            let frame = client.next_frame().await;
            let _ = sender.send((std::time::Instant::now(), frame)).await;
        });
    }
    let id = incoming(&server, "shop", "to everyone").await;
    // From the event's publication on the bus, not from the HTTP request.
    let (event, _) = server
        .events
        .wait_for(
            "the message",
            |e| matches!(&e.kind, EventKind::Message(m) if m.id == id),
        )
        .await;
    let published = std::time::Instant::now();
    let mut last = published;
    for _ in 0..LISTENERS {
        let (at, frame) = tokio::time::timeout(WAIT, received.recv())
            .await
            .expect("every listener gets the frame")
            .unwrap();
        // The journal's cursor (docs/API.md, "Replay") is the one field beyond the event's own.
        let mut frame: Value = frame;
        let cursor = frame.as_object_mut().and_then(|f| f.remove("cursor"));
        assert!(
            cursor.is_some_and(|c| c.is_string()),
            "a journalled event's frame has its cursor"
        );
        assert_eq!(frame, expected_frame(&event));
        last = last.max(at);
    }
    // Informative only: debug builds on a shared machine say little about speed.
    eprintln!(
        "{LISTENERS} listeners: the last frame arrived {:?} after the test saw the event",
        last.saturating_duration_since(published)
    );
}

#[tokio::test]
async fn deleting_an_instance_closes_its_listeners() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let shop = online(&mut server, "shop", "6281111111111").await;
    online(&mut server, "other", "6282222222222").await;
    let mut listener = open(&server, "/api/listen/shop", Token::Query(&shop)).await;
    let mut other = open(&server, "/api/listen/other", Token::Header(&server.admin_token.clone())).await;

    let (status, body) = server.admin().delete("/api/instances/shop").await;
    assert_eq!(status, 200, "{body}");
    match listener.next_or_end().await {
        Err(End::Closed(code, reason)) => assert_eq!((code, reason.as_str()), (1000, "instance deleted")),
        other => panic!("expected a close frame, got {other:?}"),
    }
    incoming(&server, "other", "unaffected").await;
    assert_eq!(other.next_frame().await["data"]["message"], "unaffected");
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_with_503() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.ws_max_connections = 2;
    let server = TestServer::start_with(config).await;
    let admin = server.admin_token.clone();
    let _first = open(&server, "/ws", Token::Header(&admin)).await;
    // A refused connection (no such instance) takes no place.
    assert_eq!(
        connect(&server, "/api/listen/x", Token::Header(&admin))
            .await
            .err()
            .map(|(status, _)| status),
        Some(404)
    );
    let _second = open(&server, "/ws", Token::Query(&admin)).await;
    let (status, body) = connect(&server, "/ws", Token::Header(&admin))
        .await
        .err()
        .expect("a third connection is refused");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("too_many_connections")),
        "{body}"
    );
}
