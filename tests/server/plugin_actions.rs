//! Plugins ask for the message actions of `wasap:plugin@0.2.0` (react, edit, revoke,
//! mark read, chat state), black-box on the sim engine: the `probe` in `actions` mode
//! does what a contact's text says, and the sim's sent records show what reached
//! WhatsApp, in order. The sends of 0.3.0 (locations, contact cards, polls, forwards,
//! deletions for the instance only, mentions, "mention everyone", fetched link
//! previews) reach WhatsApp the same way. And a plugin built against 0.1.0 (the frozen probe of
//! `tests/components/v0.1.0/`) still loads and acts beside a 0.2 one.

use serde_json::{Value, json};
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::file_server::{FileServer, Served};
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

#[tokio::test]
async fn a_plugin_sends_places_cards_polls_forwards_mentions_and_previews() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    const SHOP: &str = "6281100000703";
    const GROUP: &str = "120363402106000703@g.us";
    online(&mut server, "shop", SHOP).await;
    install_ok(&server, &probe_manifest("actor", "actions", 100, ""), component(PROBE)).await;
    let sim = server.sim("shop");
    let page = r#"<html><head><meta property="og:title" content="Toko Maju">
        <meta property="og:description" content="Everything for the home"></head></html>"#;
    let (photo, sticker, voice) = (fixtures::jpeg(), fixtures::webp(20_000), fixtures::opus(3));
    let pages = FileServer::start([
        ("/shop", Served::file("text/html", page.as_bytes())),
        ("/photo.jpg", Served::file("image/jpeg", &photo)),
        ("/sticker.webp", Served::file("image/webp", &sticker)),
        ("/voice.ogg", Served::file("audio/ogg", &voice)),
    ])
    .await;

    sim.text(CONTACT, "location").await;
    let sent = sim.sent(1).await;
    assert_eq!(
        (&sent[0]["kind"], &sent[0]["to"], &sent[0]["location"]),
        (
            &json!("location"),
            &json!(CONTACT_JID),
            &json!({ "latitude": -6.175392, "longitude": 106.827153,
                     "name": "Monas", "address": "Gambir, Jakarta Pusat" })
        ),
        "{sent:?}"
    );

    sim.text(CONTACT, "contacts").await;
    let sent = sim.sent(2).await;
    assert_eq!(sent[1]["kind"], "contact", "{sent:?}");
    let cards = sent[1]["contacts"].as_array().expect("the cards");
    assert_eq!(cards.len(), 1, "{sent:?}");
    assert_eq!(cards[0]["display_name"], "Ani", "{sent:?}");
    let vcard = cards[0]["vcard"].as_str().unwrap_or_default();
    assert!(vcard.contains("waid=6281200002222"), "{vcard}");

    sim.text(CONTACT, "poll").await;
    let sent = sim.sent(3).await;
    assert_eq!(
        (&sent[2]["kind"], &sent[2]["poll"]),
        (
            &json!("poll"),
            &json!({ "name": "Lunch?", "options": ["Rice", "Noodles", "Soup"], "selectable_count": 2 })
        ),
        "{sent:?}"
    );

    // A received message forwarded to another contact, then deleted for the
    // instance only.
    let original = sim.text(CONTACT, "the parcel arrived").await;
    sim.text(CONTACT, &format!("forward {original} 6281200004444")).await;
    let sent = sim.sent(4).await;
    assert_eq!(
        (
            &sent[3]["kind"],
            &sent[3]["text"],
            &sent[3]["forwarded"],
            &sent[3]["to"]
        ),
        (
            &json!("text"),
            &json!("the parcel arrived"),
            &json!(true),
            &json!("6281200004444@s.whatsapp.net")
        ),
        "{sent:?}"
    );
    sim.text(CONTACT, &format!("forget {original}")).await;
    let sent = sim.sent(5).await;
    assert_eq!(
        (&sent[4]["kind"], &sent[4]["target_id"]),
        (&json!("delete_for_me"), &json!(original)),
        "{sent:?}"
    );

    sim.text(CONTACT, "mention +62-812-0000-5555 hello there").await;
    let sent = sim.sent(6).await;
    assert_eq!(
        (&sent[5]["kind"], &sent[5]["text"], &sent[5]["mentions"]),
        (
            &json!("text"),
            &json!("hello there"),
            &json!(["6281200005555@s.whatsapp.net"])
        ),
        "{sent:?}"
    );

    let url = pages.url("/shop");
    sim.text(CONTACT, &format!("preview {url}")).await;
    let sent = sim.sent(7).await;
    assert_eq!(sent[6]["text"], format!("see {url}"), "{sent:?}");
    assert_eq!(
        (&sent[6]["link_preview"]["url"], &sent[6]["link_preview"]["title"]),
        (&json!(url), &json!("Toko Maju")),
        "{sent:?}"
    );

    // "Mention everyone" in a group the instance is in names every other member.
    let (status, body) = server
        .admin()
        .post(
            "/sim/groups",
            json!({ "jid": GROUP, "members": [SHOP, "6281200001111", CONTACT] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    sim.incoming(json!({ "from": CONTACT, "group": GROUP, "text": "everyone sale today" }))
        .await;
    let sent = sim.sent(8).await;
    assert_eq!(
        (&sent[7]["to"], &sent[7]["text"], &sent[7]["mentions"]),
        (
            &json!(GROUP),
            &json!("sale today"),
            &json!(["6281200001111@s.whatsapp.net", CONTACT_JID])
        ),
        "{sent:?}"
    );

    // Media of every presentation, fetched by URL.
    sim.text(CONTACT, &format!("sticker {}", pages.url("/sticker.webp")))
        .await;
    sim.text(CONTACT, &format!("voice {}", pages.url("/voice.ogg"))).await;
    sim.text(CONTACT, &format!("once {}", pages.url("/photo.jpg"))).await;
    sim.text(CONTACT, &format!("tag 6281200005555 {}", pages.url("/photo.jpg")))
        .await;
    let sent = sim.sent(12).await;
    let shape = |m: &Value| {
        json!([
            m["kind"],
            m["media_sha256"],
            m["voice_note"],
            m["seconds"],
            m["view_once"],
            m["caption"],
            m["mentions"]
        ])
    };
    assert_eq!(
        sent[8..12].iter().map(shape).collect::<Vec<_>>(),
        [
            json!(["sticker", sha256_hex(&sticker), null, null, null, null, null]),
            json!(["audio", sha256_hex(&voice), true, 3, null, null, null]),
            json!(["image", sha256_hex(&photo), null, null, true, "once only", null]),
            json!([
                "image",
                sha256_hex(&photo),
                null,
                null,
                null,
                "look @6281200005555",
                ["6281200005555@s.whatsapp.net"]
            ]),
        ],
        "{sent:?}"
    );
    let actor = stats(&server, "actor").await;
    assert_eq!(actor["errors"], 0, "{actor}");
    server.stop().await;
}
