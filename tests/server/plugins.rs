//! The plugin host, black-box: plugins (the examples and the `probe` test plugin,
//! committed as built components; the starters built from source by the toolchain
//! tier), installed through the management API into a
//! real server on the sim engine, seeing real incoming messages.
//!
//! What a plugin saw shows in the sim's sent messages: the probe in `echo`
//! mode replies with the text that reached it.

use std::time::Instant;

use serde_json::{Value, json};
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::file_server::{FileServer, Served};
use wasap_tests::plugins::{
    BUILTIN_PLUGINS, PROBE, component, component_built_from_source, install, manifest, probe_manifest,
};
use wasap_tests::{TestDb, TestServer, data_dir, online};

/// The contact whose messages the tests send.
const CONTACT: &str = "6281234567890";

async fn install_ok(server: &TestServer, manifest: &str, component: Vec<u8>) -> Value {
    let (status, body) = install(server, manifest, component).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn plugin(server: &TestServer, name: &str) -> Value {
    let (status, body) = server.admin().get(&format!("/api/plugins/{name}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The auto-reply test every language passes: the bot in `crate_dir`, with
/// the same keyword rules in its manifest, answers an incoming message.
async fn the_auto_reply_bot_answers(crate_dir: &str, name: &str, phone: &str) {
    the_auto_reply_bot_answers_with(crate_dir, name, phone, component(crate_dir)).await;
}

/// [`the_auto_reply_bot_answers`] with the bot's component given.
async fn the_auto_reply_bot_answers_with(crate_dir: &str, name: &str, phone: &str, component: Vec<u8>) {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", phone).await;
    let body = install_ok(&server, &manifest(crate_dir), component).await;
    assert_eq!(body["name"], name);
    assert_eq!(body["running"], true);

    // Three contacts, so the Rust bot's per-chat cooldown stays out of the way.
    // The first matches no rule ("hello" must be the whole text); events of
    // one instance run in order, and a plugin's stats count a call before its
    // reply is sent, so once both replies are out all three calls are counted.
    server.sim("shop").text("6281234567001", "hello there").await;
    server
        .sim("shop")
        .text("6281234567002", "what is the price of the blue one?")
        .await;
    server.sim("shop").text("6281234567003", "Hello").await;
    let sent = server.sim("shop").sent_texts(2).await;
    assert_eq!(
        sent,
        ["Our price list: https://example.com/prices", "Hello! How can we help?"]
    );
    let stats = &plugin(&server, name).await["stats"];
    assert_eq!(stats["calls"], 3, "{stats}");
    assert_eq!(stats["errors"], 0, "{stats}");
    server.stop().await;
}

#[tokio::test]
async fn the_auto_reply_bot_answers_an_incoming_message() {
    the_auto_reply_bot_answers("plugins/examples/auto-reply", "auto-reply", "6281100000201").await;
}

#[tokio::test]
#[ignore = "toolchain tier (wasm32 Rust toolchain): run with -- --include-ignored, as bash .ci/run does"]
async fn the_rust_bot_built_from_source_answers_like_the_committed_one() {
    let crate_dir = "plugins/examples/auto-reply";
    let built = component_built_from_source(crate_dir);
    the_auto_reply_bot_answers_with(crate_dir, "auto-reply", "6281100000213", built).await;
}

#[tokio::test]
#[ignore = "toolchain tier (Node.js with npm): run with -- --include-ignored, as bash .ci/run does"]
async fn the_javascript_starter_answers_like_the_rust_bot() {
    the_auto_reply_bot_answers("sdk/starters/javascript", "auto-reply-js", "6281100000211").await;
}

#[tokio::test]
#[ignore = "toolchain tier (Python 3 with venv): run with -- --include-ignored, as bash .ci/run does"]
async fn the_python_starter_answers_like_the_rust_bot() {
    the_auto_reply_bot_answers("sdk/starters/python", "auto-reply-py", "6281100000212").await;
}

#[tokio::test]
async fn a_drop_keeps_the_event_from_later_plugins_and_a_replacement_reaches_them() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000202").await;
    let filter = manifest("plugins/examples/spam-filter").replace("order = ", "order = 10 #");
    install_ok(&server, &filter, component("plugins/examples/spam-filter")).await;
    let redactor = manifest("plugins/examples/redactor").replace("order = ", "order = 20 #");
    install_ok(&server, &redactor, component("plugins/examples/redactor")).await;
    install_ok(&server, &probe_manifest("echo", "echo", 100, ""), component(PROBE)).await;

    server.sim("shop").text(CONTACT, "visit my casino tonight").await;
    server
        .sim("shop")
        .text(CONTACT, "call me on 6281298765432 please")
        .await;
    // Events of one instance go through the chain in order: once the second
    // is answered, the first was dropped, not merely late.
    let sent = server.sim("shop").sent_texts(1).await;
    assert_eq!(sent, ["echo: call me on [phone] please"]);
    assert_eq!(plugin(&server, "spam-filter").await["stats"]["drops"], 1);
    assert_eq!(plugin(&server, "redactor").await["stats"]["replaces"], 1);
    assert_eq!(plugin(&server, "echo").await["stats"]["calls"], 1);
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_sends_media_fetched_from_the_url_it_names() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000213").await;
    let jpeg = fixtures::jpeg();
    let files = FileServer::start([("/menu.jpg", Served::file("image/jpeg", &jpeg))]).await;
    let manifest = probe_manifest("menu", "send-media", 100, "")
        .replace("tag = ", &format!("url = \"{}\"\ntag = ", files.url("/menu.jpg")));
    install_ok(&server, &manifest, component(PROBE)).await;

    server.sim("shop").text(CONTACT, "the menu please").await;
    let (status, body) = server.admin().get("/sim/instances/shop/sent?min=1&wait_ms=10000").await;
    assert_eq!(status, 200, "{body}");
    let sent = &body["messages"][0];
    assert_eq!(sent["kind"], "image", "{body}");
    assert_eq!(sent["caption"], "the menu please", "{body}");
    assert_eq!(sent["media_sha256"], sha256_hex(&jpeg), "{body}");
    assert_eq!(sent["to"], "6281234567890@s.whatsapp.net", "{body}");
    server.stop().await;
}

/// What a hostile plugin does, and what its stats must say afterwards.
struct Hostile {
    mode: &'static str,
    error: &'static str,
}

#[tokio::test]
async fn hostile_plugins_are_stopped_within_their_limits_and_others_keep_serving() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "target", "6281100000203").await;
    online(&mut server, "bystander", "6281100000204").await;
    let probe = component(PROBE);
    install_ok(&server, &probe_manifest("echo", "echo", 100, ""), probe.clone()).await;

    let cases = [
        Hostile {
            mode: "loop",
            error: "ran out of fuel",
        },
        Hostile {
            mode: "sleep-loop",
            error: "exceeded its deadline",
        },
        Hostile {
            mode: "memory",
            error: "ran out of memory: exceeded its memory limit",
        },
        Hostile {
            mode: "trap",
            error: "trapped",
        },
        Hostile {
            mode: "garbage",
            error: "invalid outcome",
        },
        Hostile {
            mode: "send",
            error: "not granted",
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let name = format!("hostile-{}", case.mode);
        let mut text = probe_manifest(&name, case.mode, 10, "").replace("instances = [\"*\"]\n", "");
        text = text.replace(
            "events = [\"message\"]",
            "events = [\"message\"]\ninstances = [\"target\"]",
        );
        if case.mode == "send" {
            text = text.replace("send = true", "send = false");
        }
        match case.mode {
            // A deadline the fuel runs out long before.
            "loop" => text = text.replace("deadline_ms = 500", "deadline_ms = 5000"),
            // Fuel that outlasts the deadline (the loop mostly waits in host calls).
            "sleep-loop" => text = text.replace("fuel = 50_000_000", "fuel = 50_000_000_000"),
            // Neither fuel nor time before the memory limit.
            "memory" => {
                text = text
                    .replace("fuel = 50_000_000", "fuel = 50_000_000_000")
                    .replace("deadline_ms = 500", "deadline_ms = 5000")
            }
            _ => {}
        }
        install_ok(&server, &text, probe.clone()).await;

        let started = Instant::now();
        server.sim("target").text(CONTACT, &format!("hello {i}")).await;
        server.sim("bystander").text(CONTACT, &format!("hello {i}")).await;
        // The other instance is answered while the hostile plugin runs on this one.
        let bystander = server.sim("bystander").sent_texts(i + 1).await;
        assert_eq!(
            bystander.last().map(String::as_str),
            Some(format!("echo: hello {i}").as_str())
        );
        // Fail-open: the event goes on to the echo after the plugin is stopped.
        let target = server.sim("target").sent_texts(i + 1).await;
        assert_eq!(
            target.last().map(String::as_str),
            Some(format!("echo: hello {i}").as_str()),
            "{}",
            case.mode
        );
        let took = started.elapsed();
        let stats = plugin(&server, &name).await["stats"].clone();
        assert_eq!(stats["errors"], 1, "{}: {stats}", case.mode);
        let error = stats["last_error"].as_str().unwrap_or_default();
        assert!(error.contains(case.error), "{}: {error}", case.mode);
        println!(
            "hostile plugin `{}` stopped and the event passed on within {took:?}: {error}",
            case.mode
        );
        let (status, _) = server.admin().post_empty(&format!("/api/plugins/{name}/disable")).await;
        assert_eq!(status, 200);
    }
    let (status, health) = server.admin().get("/health").await;
    assert_eq!((status, health["instances"]["online"].clone()), (200, json!(2)));
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_that_keeps_failing_is_quarantined_and_reported() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000205").await;
    install_ok(&server, &probe_manifest("crasher", "trap", 10, ""), component(PROBE)).await;
    for i in 0..5 {
        server.sim("shop").text(CONTACT, &format!("message {i}")).await;
    }
    let (event, _) = server
        .events
        .wait_for("a plugin_error event saying crasher is quarantined", |e| {
            matches!(&e.kind, wasap::events::EventKind::PluginError { plugin, error } if plugin == "crasher" && error.contains("quarantined"))
        })
        .await;
    assert_eq!(event.instance_id, "shop");
    let info = plugin(&server, "crasher").await;
    assert_eq!(
        (info["quarantined"].clone(), info["running"].clone()),
        (json!(true), json!(false)),
        "{info}"
    );
    assert_eq!(info["stats"]["errors"], 5);

    // Enabling it again gives it a fresh start.
    let (status, info) = server.admin().post_empty("/api/plugins/crasher/enable").await;
    assert_eq!((status, info["quarantined"].clone()), (200, json!(false)), "{info}");
    assert_eq!(info["stats"]["calls"], 0, "{info}");
    server.stop().await;
}

#[tokio::test]
async fn plugins_that_ask_for_more_than_they_are_granted_do_not_load() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    // The probe imports kv: a manifest that does not grant it is refused, by name.
    let ungranted = probe_manifest("sneaky", "echo", 10, "").replace("kv = true", "kv = false");
    let (status, body) = install(&server, &ungranted, component(PROBE)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_plugin")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("wasap:plugin/kv") && message.contains("kv"),
        "{message}"
    );

    let (status, body) = install(
        &server,
        "name = \"x\"\nversion = \"1\"\nevents = [\"nope\"]\n",
        component(PROBE),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_plugin")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown event kind"),
        "{body}"
    );

    let (status, body) = install(&server, &probe_manifest("junk", "echo", 10, ""), b"not wasm".to_vec()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_plugin")),
        "{body}"
    );

    // Nothing of the refused plugins was kept: the built-in outputs are all there is.
    let (_, list) = server.admin().get("/api/plugins").await;
    let listed: Vec<(&str, bool)> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["builtin"] == true))
        .collect();
    let builtins: Vec<(&str, bool)> = BUILTIN_PLUGINS.iter().map(|name| (*name, true)).collect();
    assert_eq!(listed, builtins, "{list}");
    assert!(
        std::fs::read_dir(dir.path().join("plugins.d"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    );
    server.stop().await;
}

#[tokio::test]
async fn plugins_are_managed_through_the_api_and_survive_a_restart() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000206").await;
    install_ok(&server, &probe_manifest("echo", "echo", 100, ""), component(PROBE)).await;
    // A second probe later in the chain: its reply shows that an event has
    // been through the chain (an incoming message is only queued for it when
    // the request returns).
    install_ok(&server, &probe_manifest("witness", "echo", 200, ""), component(PROBE)).await;
    server.sim("shop").text(CONTACT, "one").await;
    assert_eq!(server.sim("shop").sent_texts(2).await, ["echo: one", "witness: one"]);

    let (status, info) = server.admin().post_empty("/api/plugins/echo/disable").await;
    assert_eq!(
        (status, info["enabled"].clone(), info["running"].clone()),
        (200, json!(false), json!(false))
    );
    server.sim("shop").text(CONTACT, "two").await;
    assert_eq!(
        server.sim("shop").sent_texts(3).await.last().map(String::as_str),
        Some("witness: two")
    );
    let (status, info) = server.admin().post_empty("/api/plugins/echo/enable").await;
    assert_eq!((status, info["running"].clone()), (200, json!(true)));
    server.sim("shop").text(CONTACT, "three").await;
    assert_eq!(
        server.sim("shop").sent_texts(5).await,
        [
            "echo: one",
            "witness: one",
            "witness: two",
            "echo: three",
            "witness: three"
        ]
    );

    // Installed plugins load again at start-up, before any instance resumes.
    server.stop().await;
    let mut server = TestServer::start(&db, dir.path()).await;
    server.events.wait_status("shop", "online").await;
    server.sim("shop").text(CONTACT, "four").await;
    // The simulated network's record is kept in the database: it survives the restart.
    assert_eq!(
        server.sim("shop").sent_texts(7).await[5..],
        ["echo: four", "witness: four"]
    );

    let (status, _) = server.admin().delete("/api/plugins/echo").await;
    assert_eq!(status, 200);
    let (status, body) = server.admin().get("/api/plugins/echo").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("plugin_not_found"))
    );
    let client = server.client(Some("not-the-admin"));
    assert_eq!(client.get("/api/plugins").await.0, 401);
    server.stop().await;
}

#[tokio::test]
async fn hot_reload_swaps_a_plugin_under_a_stream_of_events_with_none_lost_or_doubled() {
    let db = TestDb::new().await;
    let dir = data_dir();
    // Installed by dropping its files in the plugins directory before start-up.
    let plugins_dir = dir.path().join("plugins.d");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    let manifest_v1 = probe_manifest("echo", "echo", 100, "").replace("tag = \"echo\"", "tag = \"v1\"");
    std::fs::write(plugins_dir.join("echo.wasm"), component(PROBE)).unwrap();
    std::fs::write(plugins_dir.join("echo.toml"), &manifest_v1).unwrap();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000207").await;

    // Messages stream in; part way, the manifest changes under the running
    // server (written aside and renamed, as a deploy would).
    let mut sent = 0usize;
    let mut swapped_at = None;
    let started = Instant::now();
    loop {
        server.sim("shop").text(CONTACT, &format!("m{sent}")).await;
        sent += 1;
        if sent == 20 {
            let manifest_v2 = manifest_v1.replace("tag = \"v1\"", "tag = \"v2\"");
            std::fs::write(plugins_dir.join("echo.toml.new"), manifest_v2).unwrap();
            std::fs::rename(plugins_dir.join("echo.toml.new"), plugins_dir.join("echo.toml")).unwrap();
            swapped_at = Some(Instant::now());
        }
        if sent > 20 && sent.is_multiple_of(10) {
            let texts = server.sim("shop").sent_texts(sent).await;
            if texts.iter().any(|t| t.starts_with("v2: ")) {
                break;
            }
        }
        assert!(started.elapsed() < wasap_tests::WAIT, "the new version never answered");
    }
    let texts = server.sim("shop").sent_texts(sent).await;
    assert_eq!(texts.len(), sent, "every message answered once: {texts:?}");
    // Each message was answered by exactly one version, and the swap fell
    // between two messages: all before it by v1, all after by v2.
    let mut version_of = vec![None; sent];
    for text in &texts {
        let (version, message) = text.split_once(": m").expect("an echo");
        let i: usize = message.parse().unwrap();
        assert!(
            version_of[i].replace(version.to_owned()).is_none(),
            "m{i} answered twice"
        );
    }
    let first_v2 = version_of.iter().position(|v| v.as_deref() == Some("v2")).unwrap();
    assert!(
        version_of[..first_v2].iter().all(|v| v.as_deref() == Some("v1")),
        "{version_of:?}"
    );
    assert!(
        version_of[first_v2..].iter().all(|v| v.as_deref() == Some("v2")),
        "{version_of:?}"
    );
    println!(
        "hot reload: v2 answered from message {first_v2} of {sent}, {:?} after the manifest changed",
        swapped_at.unwrap().elapsed()
    );
    assert_eq!(plugin(&server, "echo").await["load_error"], Value::Null);

    // A broken new version leaves the running one in place, and says why.
    std::fs::write(plugins_dir.join("echo.wasm.new"), b"broken").unwrap();
    std::fs::rename(plugins_dir.join("echo.wasm.new"), plugins_dir.join("echo.wasm")).unwrap();
    server
        .events
        .wait_for("a plugin_error event about the broken echo", |e| {
            matches!(&e.kind, wasap::events::EventKind::PluginError { plugin, error } if plugin == "echo" && error.contains("not a valid plugin component"))
        })
        .await;
    let info = plugin(&server, "echo").await;
    assert!(
        info["load_error"]
            .as_str()
            .is_some_and(|e| e.contains("not a valid plugin component")),
        "{info}"
    );
    assert_eq!(info["running"], true);
    server.sim("shop").text(CONTACT, "still there?").await;
    assert_eq!(
        server.sim("shop").sent_texts(sent + 1).await.last().map(String::as_str),
        Some("v2: still there?")
    );
    server.stop().await;
}

#[tokio::test]
async fn plugin_run_shows_authors_what_their_plugin_answers() {
    let dir = data_dir();
    let wasm = dir.path().join("probe.wasm");
    std::fs::write(&wasm, component(PROBE)).unwrap();
    std::fs::write(dir.path().join("probe.toml"), manifest(PROBE)).unwrap();
    let message = |id: &str, text: &str| {
        let event = wasap::events::Event {
            id: id.to_owned(),
            instance_id: "shop".to_owned(),
            at_us: 1_700_000_000_000_000,
            kind: wasap::events::EventKind::Message(wasap::events::Message {
                sender_lid: None,
                sender_phone: None,
                chat_lid: None,
                chat_phone: None,
                id: format!("M{id}"),
                chat: "6281234567890@s.whatsapp.net".to_owned(),
                sender: "6281234567890@s.whatsapp.net".to_owned(),
                push_name: None,
                from_me: false,
                is_group: false,
                timestamp: 1_700_000_000,
                content: wasap::events::Content::Text { text: text.to_owned() },
                quoted: None,
                forwarded: false,
                view_once: false,
                ephemeral: None,
            }),
        };
        serde_json::to_value(event).unwrap()
    };
    let fixture = dir.path().join("events.json");
    std::fs::write(
        &fixture,
        serde_json::to_string(&json!([message("e1", "hi"), message("e2", "there")])).unwrap(),
    )
    .unwrap();
    let report = wasap::plugins::trial::run(&wasm, None, &fixture)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!("{report}");
    assert_eq!(report.matches("verdict: continue").count(), 2, "{report}");
    assert!(
        report.contains("text: \"probe: hi\"") && report.contains("text: \"probe: there\""),
        "{report}"
    );
    assert!(report.contains("fuel used: "), "{report}");

    // What the host would refuse is shown as refused.
    let refused = manifest(PROBE).replace("send = true", "send = false");
    let refused_manifest = dir.path().join("refused.toml");
    std::fs::write(
        &refused_manifest,
        refused.replace("name = \"probe\"", "name = \"refused\""),
    )
    .unwrap();
    std::fs::copy(&wasm, dir.path().join("refused.wasm")).unwrap();
    let report = wasap::plugins::trial::run(&dir.path().join("refused.wasm"), None, &fixture)
        .await
        .unwrap();
    assert_eq!(report.matches("refused by the host: ").count(), 2, "{report}");
}
