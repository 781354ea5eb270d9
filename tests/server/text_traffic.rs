//! Text traffic on both engines (the sim engine, and the real one against the
//! loopback WhatsApp simulator; `wasap_tests::engines`): a contact's text and
//! reply reach the webhooks in both seed formats and the instance's
//! WebSocket listener with the same bytes on either engine (ids and times
//! aside); texts sent by instance id and by number reach the contact, who
//! decrypts the exact text; number checks say yes and no.

use serde_json::{Value, json};
use wasap_tests::engines::{EngineUnderTest, OnlineShop, Whatsapp};
use wasap_tests::webhook_receiver::{Received, WebhookReceiver, signature_valid};
use wasap_tests::websocket::{Token, open};
use wasap_tests::{TestDb, both_engines, data_dir};

const SHOP: &str = "6281234500100";
const CONTACT: &str = "6281234567890";
use wasap_tests::outputs::{GOWA_SECRET, SUDEVWA_SECRET, webhooks_in_both_formats, without_times};

both_engines!(
    a_contacts_text_and_reply_reach_the_webhooks_and_the_listener,
    texts_sent_by_instance_and_by_number_arrive_exactly,
    a_text_names_the_users_it_mentions,
    number_checks_say_yes_and_no,
);

/// A listener's frame without the journal's cursor (docs/API.md, "Replay"),
/// the one field beyond the seed's shape; it must be there.
fn without_cursor(mut frame: Value) -> Value {
    let cursor = frame.as_object_mut().and_then(|f| f.remove("cursor"));
    assert!(
        cursor.is_some_and(|c| c.is_string()),
        "a journalled event's frame has its cursor"
    );
    frame
}

async fn a_contacts_text_and_reply_reach_the_webhooks_and_the_listener(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let mut server = whatsapp.server(&db, dir.path()).await;
    let token = whatsapp.online(&mut server, "shop", SHOP).await;
    webhooks_in_both_formats(&server, "shop", &receiver).await;
    let mut listener = open(&server, "/api/listen/shop", Token::Query(&token)).await;

    let driver = whatsapp.driver(&server, "shop");
    let hello = driver.text_from(CONTACT, "John Doe", "Hello World").await;
    let reply = driver
        .reply_from(CONTACT, "John Doe", "fine, thanks", &hello, "Hello World")
        .await;

    let count = |all: &[Received], path: &str| all.iter().filter(|r| r.path == path).count();
    let all = receiver
        .until("both messages in both formats", |all| {
            count(all, "/sudevwa") >= 2 && count(all, "/gowa") >= 2
        })
        .await;
    // Deliveries run concurrently, so they may arrive in either order.
    let bodies = |path: &str, secret: &str, format: &str| -> Vec<Value> {
        let mut bodies: Vec<Value> = all
            .iter()
            .filter(|r| r.path == path)
            .map(|r| {
                assert!(signature_valid(r, format, secret), "a valid {format} signature");
                without_times(r.json())
            })
            .collect();
        bodies.sort_by_key(|b| b.to_string().contains("fine, thanks"));
        bodies
    };
    let sudevwa = bodies("/sudevwa", SUDEVWA_SECRET, "sudevwa");
    let gowa = bodies("/gowa", GOWA_SECRET, "gowa");
    let frames = vec![
        without_times(without_cursor(listener.next_frame().await)),
        without_times(without_cursor(listener.next_frame().await)),
    ];
    // The seeds' shapes, field for field; the same on both engines.
    let incoming = |id: &str, text: &str| {
        json!({
            "event": "incoming_message",
            "timestamp": "<time>",
            "data": {
                "instance_id": "shop",
                "from": format!("{CONTACT}@s.whatsapp.net"),
                "from_me": false,
                "is_group": false,
                "message": text,
                "message_id": id,
                "push_name": "John Doe",
                "timestamp": "<time>",
            },
        })
    };
    let expected = vec![incoming(&hello, "Hello World"), incoming(&reply, "fine, thanks")];
    assert_eq!(sudevwa, expected, "sudevwa webhook bodies");
    assert_eq!(frames, expected, "the instance's listener");
    let gowa_text = |id: &str, text: &str, replied_id: &str, quoted: &str| {
        json!({
            "chat_id": CONTACT,
            "from": format!("{CONTACT}@s.whatsapp.net"),
            "sender_id": CONTACT,
            "pushname": "John Doe",
            "timestamp": "<time>",
            "message": { "id": id, "text": text, "replied_id": replied_id, "quoted_message": quoted },
        })
    };
    assert_eq!(
        gowa,
        [
            gowa_text(&hello, "Hello World", "", ""),
            gowa_text(&reply, "fine, thanks", &hello, "Hello World"),
        ],
        "gowa webhook bodies"
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn texts_sent_by_instance_and_by_number_arrive_exactly(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;

    // Not ASCII, not trimmed, several lines: the contact must decrypt these exact bytes.
    let by_id = "Halo  Kak 👋\nPesanan #42 sudah dikirim ✓ ";
    let (status, sent) = server
        .client(Some(&token))
        .post(
            "/api/send/shop",
            json!({ "to": format!("+{CONTACT}"), "message": by_id }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["to"], format!("{CONTACT}@s.whatsapp.net"));
    let by_number = "by number: ünïcödé « quotes » 'and' \"these\"";
    let (status, sent_by_number) = server
        .admin()
        .post(
            &format!("/api/by-number/{SHOP}"),
            json!({ "to": CONTACT, "message": by_number }),
        )
        .await;
    assert_eq!(status, 200, "{sent_by_number}");

    let received = driver.sent_to(CONTACT, 2).await;
    let texts: Vec<(&str, Option<&str>)> = received
        .iter()
        .map(|m| (m.message_id.as_str(), m.text.as_deref()))
        .collect();
    assert_eq!(
        texts,
        [
            (sent["message_id"].as_str().unwrap(), Some(by_id)),
            (sent_by_number["message_id"].as_str().unwrap(), Some(by_number)),
        ]
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn a_text_names_the_users_it_mentions(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;
    let api = server.client(Some(&token));

    let text = format!("@{CONTACT} and @6281200002222: your orders are ready");
    let (status, sent) = api
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": text, "mentions": [format!("+{CONTACT}"), "6281200002222@s.whatsapp.net"] }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let received = driver.sent_to(CONTACT, 1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        (
            &received[0].message_id,
            received[0].text.as_deref(),
            &received[0].mentions
        ),
        (
            &sent["message_id"].as_str().unwrap().to_owned(),
            Some(text.as_str()),
            &vec![
                format!("{CONTACT}@s.whatsapp.net"),
                "6281200002222@s.whatsapp.net".to_owned()
            ]
        )
    );
    // A group is nobody to mention, and a mention names a user.
    for (mentions, code) in [
        (json!(["120363402106000000@g.us"]), "invalid_recipient"),
        (json!(["12"]), "invalid_phone"),
        (json!(vec![CONTACT; 257]), "too_many_mentions"),
    ] {
        let (status, answer) = api
            .post(
                "/api/send/shop",
                json!({ "to": CONTACT, "message": "hi", "mentions": mentions }),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{answer}"
        );
    }
    assert_eq!(driver.sent_to(CONTACT, 1).await.len(), 1, "nothing more was sent");
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn number_checks_say_yes_and_no(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token: _,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;
    driver.contact("6289999999999", false).await;
    let admin = server.admin();

    let (status, answer) = admin.post("/api/check/shop", json!({ "phone": "6289999999999" })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "phone": "6289999999999", "on_whatsapp": false, "jid": null })
    );
    let (status, answer) = admin
        .post("/api/check/shop", json!({ "phone": format!("+{CONTACT}") }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "phone": CONTACT, "on_whatsapp": true, "jid": format!("{CONTACT}@s.whatsapp.net") })
    );
    // A send to a number without WhatsApp is refused before anything is sent.
    let (status, answer) = admin
        .post("/api/send/shop", json!({ "to": "6289999999999", "message": "hi" }))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (422, json!("recipient_not_on_whatsapp"))
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}
