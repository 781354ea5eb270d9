//! The built-in plugins, black-box: the outputs ship inside the server, run
//! with nothing installed, show in the plugin list as built-in, can be
//! disabled and enabled, but not deleted or replaced, and stay out when their
//! output is switched off.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wasap_tests::plugins::{BUILTIN_PLUGINS, component, install, manifest, workspace_root};
use wasap_tests::websocket::{Token, open};
use wasap_tests::{TestDb, TestServer, data_dir, online, sim_config};

const PROBE: &str = "tests/plugins/probe";
/// The contact whose messages the tests send.
const CONTACT: &str = "6281234567890";

/// The names in `GET /api/plugins`, with their `builtin` flags.
async fn listed(server: &TestServer) -> Vec<(String, Value)> {
    let (status, list) = server.admin().get("/api/plugins").await;
    assert_eq!(status, 200, "{list}");
    list["plugins"]
        .as_array()
        .expect("a plugin list")
        .iter()
        .map(|p| (p["name"].as_str().expect("a name").to_owned(), p["builtin"].clone()))
        .collect()
}

/// The hex SHA-256 of the committed websocket component, the one the binary embeds.
fn embedded_digest() -> String {
    let bytes =
        std::fs::read(workspace_root().join("host/builtin/websocket.wasm")).expect("host/builtin/websocket.wasm");
    format!("{:x}", Sha256::digest(&bytes))
}

#[tokio::test]
async fn the_websocket_output_is_built_in_and_can_be_neither_deleted_nor_replaced() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let builtins: Vec<(String, Value)> = BUILTIN_PLUGINS
        .iter()
        .map(|name| ((*name).to_owned(), json!(true)))
        .collect();
    assert_eq!(listed(&server).await, builtins);
    assert!(BUILTIN_PLUGINS.contains(&"websocket"));
    let (status, info) = server.admin().get("/api/plugins/websocket").await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        (
            info["builtin"].clone(),
            info["enabled"].clone(),
            info["running"].clone()
        ),
        (json!(true), json!(true), json!(true)),
        "{info}"
    );
    assert_eq!(info["digest"], embedded_digest(), "{info}");

    let (status, body) = server.admin().delete("/api/plugins/websocket").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("plugin_builtin")),
        "{body}"
    );
    let impostor = manifest(PROBE).replace("name = \"probe\"", "name = \"websocket\"");
    let (status, body) = install(&server, &impostor, component(PROBE)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("plugin_builtin")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("built-in")),
        "{body}"
    );
    // Neither touched the running plugin nor the plugins directory.
    let (_, info) = server.admin().get("/api/plugins/websocket").await;
    assert_eq!(
        (info["digest"].as_str(), info["running"].as_bool()),
        (Some(embedded_digest().as_str()), Some(true)),
        "{info}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("plugins.d"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );

    // The contract says so too.
    let (_, document) = server.client(None).get("/openapi.json").await;
    for (path, verb) in [("/api/plugins/{name}", "delete"), ("/api/plugins", "post")] {
        assert!(
            document["paths"][path][verb]["responses"]["409"].is_object(),
            "{path} {verb}"
        );
    }
    let info_schema = document.to_string();
    assert!(info_schema.contains("\"builtin\""), "PluginInfo documents `builtin`");
    server.stop().await;
}

#[tokio::test]
async fn disabling_the_websocket_output_stops_listen_frames_and_enabling_restores_them() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", "6281111111111").await;
    // An echo plugin before the output: its reply shows that an event has been
    // through the chain, so the test knows when a message has passed.
    let (status, body) = install(&server, &manifest(PROBE), component(PROBE)).await;
    assert_eq!(status, 201, "{body}");
    let mut listen = open(&server, "/api/listen/shop", Token::Query(&token)).await;

    server.sim("shop").text(CONTACT, "before").await;
    assert_eq!(next_message(&mut listen).await, "before");

    let (status, info) = server.admin().post_empty("/api/plugins/websocket/disable").await;
    assert_eq!(
        (
            status,
            info["enabled"].clone(),
            info["running"].clone(),
            info["builtin"].clone()
        ),
        (200, json!(false), json!(false), json!(true)),
        "{info}"
    );
    assert!(
        dir.path().join("plugins.d/websocket.disabled").exists(),
        "kept like any plugin's disabled state"
    );
    server.sim("shop").text(CONTACT, "while disabled").await;
    wait_sent(&server, "shop", "probe: while disabled").await;

    let (status, info) = server.admin().post_empty("/api/plugins/websocket/enable").await;
    assert_eq!((status, info["running"].clone()), (200, json!(true)), "{info}");
    server.sim("shop").text(CONTACT, "after").await;
    // The message sent while the output was off never arrives.
    assert_eq!(next_message(&mut listen).await, "after");

    // Disabled stays disabled across a restart.
    let (status, _) = server.admin().post_empty("/api/plugins/websocket/disable").await;
    assert_eq!(status, 200);
    server.stop().await;
    let server = TestServer::start(&db, dir.path()).await;
    let (_, info) = server.admin().get("/api/plugins/websocket").await;
    assert_eq!(
        (info["enabled"].clone(), info["builtin"].clone()),
        (json!(false), json!(true)),
        "{info}"
    );
    server.stop().await;
}

/// The text of the next incoming (not from-me) message frame on a listener.
async fn next_message(listen: &mut wasap_tests::websocket::WsClient) -> String {
    loop {
        let frame = listen.next_frame().await;
        if frame["event"] == "incoming_message" && frame["data"]["from_me"] == false {
            return frame["data"]["message"].as_str().expect("a text message").to_owned();
        }
    }
}

/// Waits until instance `id` has sent `text`.
async fn wait_sent(server: &TestServer, id: &str, text: &str) {
    let mut count = 1;
    loop {
        let (status, body) = server
            .admin()
            .get(&format!("/sim/instances/{id}/sent?min={count}&wait_ms=10000"))
            .await;
        assert_eq!(status, 200, "{body}");
        let texts: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["text"].as_str())
            .collect();
        if texts.contains(&text) {
            return;
        }
        assert!(texts.len() >= count, "{text:?} was never sent: {texts:?}");
        count = texts.len() + 1;
    }
}

#[tokio::test]
async fn with_websockets_switched_off_the_output_is_not_loaded() {
    for switch in ["WASAP_ENABLE_WEBSOCKET=false", "SUDEVWA_ENABLE_WEBSOCKET=no"] {
        let db = TestDb::new().await;
        let dir = data_dir();
        let mut config = sim_config(&db, dir.path());
        match switch {
            "WASAP_ENABLE_WEBSOCKET=false" => config.enable_websocket = false,
            _ => config.sudevwa_enable_websocket = Some("no".to_owned()),
        }
        let server = TestServer::start_with(config).await;
        assert!(
            !listed(&server).await.iter().any(|(name, _)| name == "websocket"),
            "{switch}"
        );
        let (status, body) = server.admin().get("/api/plugins/websocket").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("plugin_not_found")),
            "{switch}"
        );
        // The name stays reserved for the output.
        let impostor = manifest(PROBE).replace("name = \"probe\"", "name = \"websocket\"");
        let (status, body) = install(&server, &impostor, component(PROBE)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("plugin_builtin")),
            "{switch}: {body}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn files_in_the_plugins_directory_under_a_builtin_name_are_refused() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let plugins_dir = dir.path().join("plugins.d");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    let impostor = manifest(PROBE).replace("name = \"probe\"", "name = \"websocket\"");
    std::fs::write(plugins_dir.join("websocket.toml"), impostor).unwrap();
    std::fs::write(plugins_dir.join("websocket.wasm"), component(PROBE)).unwrap();
    let mut server = TestServer::start(&db, dir.path()).await;

    let (_, info) = server.admin().get("/api/plugins/websocket").await;
    assert_eq!(
        (info["builtin"].clone(), info["digest"].clone()),
        (json!(true), json!(embedded_digest())),
        "{info}"
    );
    assert_eq!(info["load_error"], Value::Null, "{info}");
    // The built-in output is what serves /api/listen; the probe never runs.
    let token = online(&mut server, "shop", "6281111111111").await;
    let mut listen = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    server.sim("shop").text(CONTACT, "hello").await;
    assert_eq!(next_message(&mut listen).await, "hello");
    let (status, body) = server.admin().get("/sim/instances/shop/sent").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"], json!([]), "the impostor echoed: {body}");
    server.stop().await;
}
