//! `system` events, black-box: a `/ws` client hears plugin changes made
//! through the API (the websocket output's own included) and the shutdown,
//! before its connection closes; plugins and in-process subscribers get the
//! same events on the bus.

use wasap::events::EventKind;
use wasap_tests::plugins::{component, install, manifest};
use wasap_tests::websocket::{End, Token, WsClient, open};
use wasap_tests::{TestDb, TestServer, data_dir};

const PROBE: &str = "tests/plugins/probe";

/// The next frame, which must be a server-wide `system` event; its message.
async fn system_message(ws: &mut WsClient) -> String {
    let frame = ws.next_frame().await;
    assert_eq!(frame["event"], "system", "{frame}");
    assert!(frame["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{frame}");
    let data = frame["data"].as_object().expect("data");
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["message"],
        "a server-wide notice names no instance: {frame}"
    );
    data["message"].as_str().expect("a message").to_owned()
}

async fn post(server: &TestServer, path: &str) {
    let (status, body) = server.admin().post_empty(path).await;
    assert_eq!(status, 200, "{path}: {body}");
}

#[tokio::test]
async fn ws_hears_plugin_changes_and_the_shutdown() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let mut ws = open(&server, "/ws", Token::Header(&server.admin_token.clone())).await;

    let probe = manifest(PROBE);
    let (status, body) = install(&server, &probe, component(PROBE)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(system_message(&mut ws).await, "plugin loaded: probe 0.1.0");
    // The same name again, a new version: replaced in place.
    let (status, body) = install(
        &server,
        &probe.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
        component(PROBE),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(system_message(&mut ws).await, "plugin reloaded: probe 0.2.0");
    post(&server, "/api/plugins/probe/disable").await;
    assert_eq!(system_message(&mut ws).await, "plugin disabled: probe");
    post(&server, "/api/plugins/probe/enable").await;
    assert_eq!(system_message(&mut ws).await, "plugin enabled: probe");
    let (status, body) = server.admin().delete("/api/plugins/probe").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(system_message(&mut ws).await, "plugin removed: probe");
    // The WebSocket output itself switched off: the host still tells /ws.
    post(&server, "/api/plugins/websocket/disable").await;
    assert_eq!(system_message(&mut ws).await, "plugin disabled: websocket");
    post(&server, "/api/plugins/websocket/enable").await;
    assert_eq!(system_message(&mut ws).await, "plugin enabled: websocket");

    // On the bus too, for in-process subscribers and the plugin chain.
    let (event, _) = server
        .events
        .wait_for(
            "the system event of the websocket output's return",
            |e| matches!(&e.kind, EventKind::System { message } if message == "plugin enabled: websocket"),
        )
        .await;
    assert_eq!(event.instance_id, "");

    server.stop().await;
    assert_eq!(system_message(&mut ws).await, "server shutting down");
    match ws.next_or_end().await {
        Err(End::Closed(code, reason)) => assert_eq!((code, reason.as_str()), (1001, "server shutting down")),
        other => panic!("expected the close frame after the notice, got {other:?}"),
    }
}
