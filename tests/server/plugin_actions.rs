//! Plugins ask for the message actions of `wasap:plugin@0.2.0` (react, edit, revoke,
//! mark read, chat state), black-box on the sim engine: the `probe` in `actions` mode
//! does what a contact's text says, and the sim's sent records show what reached
//! WhatsApp, in order. And a plugin built against 0.1.0 (the frozen probe of
//! `tests/components/v0.1.0/`) still loads and acts beside a 0.2 one.

use serde_json::{Value, json};
use wasap_tests::file_server::fixtures::sha256_hex;
use wasap_tests::plugins::{PROBE, component, install, probe_manifest, probe_v0_1};
use wasap_tests::{TestDb, TestServer, data_dir, online};

/// The contact whose messages the tests send.
const CONTACT: &str = "6281234567890";
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";

async fn install_ok(server: &TestServer, manifest: &str, component: Vec<u8>) {
    let (status, body) = install(server, manifest, component).await;
    assert_eq!(status, 201, "{body}");
}

async fn stats(server: &TestServer, name: &str) -> Value {
    let (status, body) = server.admin().get(&format!("/api/plugins/{name}")).await;
    assert_eq!(status, 200, "{body}");
    body["stats"].clone()
}

#[tokio::test]
async fn a_plugin_reacts_reads_shows_chat_states_edits_and_revokes() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000701").await;
    // The same plugin without `send`, earlier in the chain: every answer of
    // it is refused, and (fail-open) the event goes on to the granted one.
    let mute = probe_manifest("mute", "actions", 10, "").replace("send = true", "send = false");
    install_ok(&server, &mute, component(PROBE)).await;
    install_ok(&server, &probe_manifest("actor", "actions", 100, ""), component(PROBE)).await;
    let sim = server.sim("shop");

    let react = sim.text(CONTACT, "react").await;
    let sent = sim.sent(1).await;
    assert_eq!(
        (
            &sent[0]["kind"],
            &sent[0]["target_id"],
            &sent[0]["emoji"],
            &sent[0]["to"]
        ),
        (&json!("reaction"), &json!(react), &json!("👍"), &json!(CONTACT_JID)),
        "{sent:?}"
    );
    // The chain ran the refused plugin before the action went out.
    let refused = stats(&server, "mute").await;
    assert_eq!(refused["errors"], 1, "{refused}");
    let why = refused["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("capabilities.send"), "{why}");

    let read = sim.text(CONTACT, "read").await;
    let sent = sim.sent(2).await;
    assert_eq!(
        (&sent[1]["kind"], &sent[1]["read_ids"]),
        (&json!("read"), &json!([read])),
        "{sent:?}"
    );

    sim.text(CONTACT, "typing").await;
    let sent = sim.sent(3).await;
    assert_eq!(
        (&sent[2]["kind"], &sent[2]["state"], &sent[2]["to"]),
        (&json!("chat_state"), &json!("typing"), &json!(CONTACT_JID)),
        "{sent:?}"
    );

    // Edits and revocations are of the instance's own messages: one the API sent.
    let (status, answer) = server
        .admin()
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": "Your order is ready" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let own = answer["message_id"].as_str().expect("the sent text's id").to_owned();
    sim.text(CONTACT, &format!("edit {own} Your order is ready at the front desk"))
        .await;
    let sent = sim.sent(5).await;
    assert_eq!(sent[3]["kind"], "text", "{sent:?}");
    assert_eq!(
        (&sent[4]["kind"], &sent[4]["target_id"], &sent[4]["text"]),
        (
            &json!("edit"),
            &json!(own),
            &json!("Your order is ready at the front desk")
        ),
        "{sent:?}"
    );
    sim.text(CONTACT, &format!("revoke {own}")).await;
    let sent = sim.sent(6).await;
    assert_eq!(
        (&sent[5]["kind"], &sent[5]["target_id"]),
        (&json!("revoke"), &json!(own)),
        "{sent:?}"
    );

    // An action the host refuses to carry out (revoking the contact's message)
    // sends nothing and holds up nothing: the next action goes out after it.
    sim.text(CONTACT, &format!("revoke {react}")).await;
    let unreact = sim.text(CONTACT, "unreact").await;
    let sent = sim.sent(7).await;
    assert_eq!(sent.len(), 7, "{sent:?}");
    assert_eq!(
        (&sent[6]["kind"], &sent[6]["target_id"], &sent[6]["emoji"]),
        (&json!("reaction"), &json!(unreact), &json!("")),
        "{sent:?}"
    );
    let actor = stats(&server, "actor").await;
    assert_eq!((&actor["calls"], &actor["errors"]), (&json!(7), &json!(0)), "{actor}");
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_built_against_0_1_loads_and_acts_beside_a_0_2_one() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000702").await;
    let legacy = probe_v0_1();
    install_ok(&server, &probe_manifest("legacy", "echo", 10, ""), legacy.clone()).await;
    install_ok(&server, &probe_manifest("actor", "actions", 100, ""), component(PROBE)).await;
    let (_, info) = server.admin().get("/api/plugins/legacy").await;
    assert_eq!(info["running"], true, "{info}");
    assert_eq!(info["digest"], sha256_hex(&legacy), "the frozen 0.1.0 bytes: {info}");

    // Both see the message; their actions go out in chain order.
    let react = server.sim("shop").text(CONTACT, "react").await;
    let sent = server.sim("shop").sent(2).await;
    assert_eq!(
        (&sent[0]["kind"], &sent[0]["text"], &sent[0]["reply_to"]),
        (&json!("text"), &json!("legacy: react"), &json!(react)),
        "{sent:?}"
    );
    assert_eq!(
        (&sent[1]["kind"], &sent[1]["target_id"]),
        (&json!("reaction"), &json!(react)),
        "{sent:?}"
    );
    let legacy_stats = stats(&server, "legacy").await;
    assert_eq!(
        (&legacy_stats["calls"], &legacy_stats["errors"]),
        (&json!(1), &json!(0)),
        "{legacy_stats}"
    );
    server.stop().await;
}
