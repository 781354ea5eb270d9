//! Phone numbers behind LIDs (docs/API.md, "Phone numbers and LIDs"), on both
//! engines: a contact WhatsApp names by LID writes in its chat and in a group,
//! reads a message by LID alone, and a participant with a LID joins the group;
//! webhooks in both formats get each with both names (the phone number from
//! the stanza, or from what the instance has learnt when WhatsApp left it
//! out). The lookup route answers a LID's number and a number's LID, one or a
//! batch, and refuses malformed input.

use serde_json::{Value, json};
use wasap::events::EventKind;
use wasap_tests::engines::{EngineUnderTest, OnlineShop, Sender};
use wasap_tests::webhook_receiver::{Received, WebhookReceiver};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const SHOP: &str = "6281100000071";
const CONTACT: &str = "6281234567871";
const CONTACT_JID: &str = "6281234567871@s.whatsapp.net";
const ADMIN: &str = "6281200000072";
const NEWBIE: &str = "6281200000073";
const NEWBIE_JID: &str = "6281200000073@s.whatsapp.net";
const GROUP: &str = "120363402106000071@g.us";

/// `value` with `key` (a field the test cannot know in advance: a time) set to
/// what it is, after checking it is there.
fn with_time(mut expected: Value, got: &Value, key: &str) -> Value {
    assert!(!got[key].is_null(), "no {key}: {got}");
    expected[key] = got[key].clone();
    expected
}

both_engines!(webhooks_carry_both_names_of_every_account);

async fn webhooks_carry_both_names_of_every_account(engine: EngineUnderTest) {
    let mut receiver = WebhookReceiver::start().await;
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    let kinds = json!(["message", "receipt", "group_participants"]);
    for (path, format) in [("/sudevwa", "sudevwa"), ("/gowa", "gowa")] {
        let body = json!({ "url": receiver.url(path), "format": format, "events": kinds });
        let (status, created) = server.admin().post("/api/instances/shop/webhooks", body).await;
        assert_eq!(status, 201, "{created}");
    }
    let lid = driver.contact_with_lid(CONTACT).await;
    driver.address_by_lid(CONTACT);
    let newbie_lid = driver.contact_with_lid(NEWBIE).await;
    driver.contact(ADMIN, true).await;
    driver.group(GROUP, "Orders", ADMIN, &[CONTACT]).await;
    driver.address_group_by_lid(GROUP);

    // 1. The contact writes in its chat: by LID, with its number alongside.
    let direct = driver
        .text_message_from(Sender::contact(CONTACT, "John Doe"), "Where is my order?")
        .await;
    // 2. The instance answers; the contact reads it: the receipt names the
    //    contact by LID alone, the number comes from what the instance learnt.
    let (status, sent) = server
        .client(Some(&token))
        .post("/api/send/shop", json!({ "to": CONTACT, "message": "On its way" }))
        .await;
    assert_eq!(status, 200, "{sent}");
    let sent_id = sent["message_id"].as_str().expect("the sent id").to_owned();
    driver.sent_to(CONTACT, 1).await;
    driver.receipt_from(CONTACT, &[&sent_id], "read").await;
    // 3. The contact writes in the group, which names members by LID.
    let in_group = driver
        .text_message_from(Sender::contact(CONTACT, "John Doe").in_group(GROUP), "Thanks all")
        .await;
    // 4. A participant with a LID joins.
    driver.group_participants(GROUP, ADMIN, "join", &[NEWBIE]).await;

    let is = |r: &Received, path: &str, pred: &dyn Fn(&Value) -> bool| r.path == path && pred(&r.json());
    let sudevwa_read = |v: &Value| v["event"] == "message.receipt" && v["data"]["receipt_type"] == "read";
    let gowa_read = |v: &Value| v["event"] == "message.ack" && v["payload"]["receipt_type"] == "read";
    let sudevwa_join = |v: &Value| v["event"] == "group.participants" && v["data"]["jids"] == json!([NEWBIE_JID]);
    let gowa_join = |v: &Value| v["event"] == "group.participants" && v["payload"]["jids"] == json!([NEWBIE_JID]);
    let sudevwa_message = |id: &str| {
        let id = id.to_owned();
        move |v: &Value| v["event"] == "incoming_message" && v["data"]["message_id"] == id.as_str()
    };
    let gowa_message = |id: &str| {
        let id = id.to_owned();
        move |v: &Value| v["message"]["id"] == id.as_str()
    };
    let all = receiver
        .until("both formats of the messages, the read receipt and the join", |all| {
            let has = |path: &str, pred: &dyn Fn(&Value) -> bool| all.iter().any(|r| is(r, path, pred));
            has("/sudevwa", &sudevwa_message(&direct))
                && has("/sudevwa", &sudevwa_message(&in_group))
                && has("/sudevwa", &sudevwa_read)
                && has("/sudevwa", &sudevwa_join)
                && has("/gowa", &gowa_message(&direct))
                && has("/gowa", &gowa_message(&in_group))
                && has("/gowa", &gowa_read)
                && has("/gowa", &gowa_join)
        })
        .await;
    let find = |path: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        all.iter()
            .find(|r| is(r, path, pred))
            .map(Received::json)
            .expect("found above")
    };

    // The one-to-one message: the author and the chat by both names.
    let got = find("/sudevwa", &sudevwa_message(&direct));
    let expected = json!({
        "instance_id": "shop", "from": CONTACT_JID, "from_me": false, "message": "Where is my order?",
        "is_group": false, "message_id": direct, "push_name": "John Doe",
        "sender_lid": lid, "sender_phone": CONTACT, "chat_lid": lid, "chat_phone": CONTACT,
    });
    assert_eq!(got["data"], with_time(expected, &got["data"], "timestamp"), "{got}");
    let got = find("/gowa", &gowa_message(&direct));
    let expected = json!({
        "sender_id": CONTACT, "chat_id": CONTACT, "from": CONTACT_JID, "from_lid": lid, "chat_lid": lid,
        "pushname": "John Doe",
        "message": { "text": "Where is my order?", "id": direct, "replied_id": "", "quoted_message": "" },
    });
    assert_eq!(got, with_time(expected, &got, "timestamp"));

    // The read receipt: WhatsApp named the reader by LID alone.
    let got = find("/sudevwa", &sudevwa_read);
    let expected = json!({
        "instance_id": "shop", "chat": CONTACT_JID, "sender": CONTACT_JID,
        "sender_lid": lid, "sender_phone": CONTACT, "ids": [sent_id], "receipt_type": "read",
    });
    assert_eq!(got["data"], with_time(expected, &got["data"], "timestamp"), "{got}");
    let got = find("/gowa", &gowa_read);
    assert_eq!(
        got["payload"],
        json!({
            "chat_id": CONTACT_JID, "from": CONTACT_JID, "ids": [sent_id], "receipt_type": "read",
            "receipt_type_description": "the user opened the chat and saw the message.",
            "sender_id": CONTACT_JID, "sender_lid": lid,
        }),
        "{got}"
    );

    // The group message: the author by both names; a group has no chat pair.
    let got = find("/sudevwa", &sudevwa_message(&in_group));
    let expected = json!({
        "instance_id": "shop", "from": GROUP, "from_me": false, "message": "Thanks all",
        "is_group": true, "message_id": in_group, "push_name": "John Doe",
        "sender_lid": lid, "sender_phone": CONTACT,
    });
    assert_eq!(got["data"], with_time(expected, &got["data"], "timestamp"), "{got}");
    let got = find("/gowa", &gowa_message(&in_group));
    let expected = json!({
        "sender_id": CONTACT, "chat_id": "120363402106000071", "from": CONTACT_JID, "from_lid": lid,
        "pushname": "John Doe",
        "message": { "text": "Thanks all", "id": in_group, "replied_id": "", "quoted_message": "" },
    });
    assert_eq!(got, with_time(expected, &got, "timestamp"));

    // The participant who joined, by both names.
    let participants = json!([{ "jid": NEWBIE_JID, "lid": newbie_lid, "phone": NEWBIE }]);
    let got = find("/sudevwa", &sudevwa_join);
    let expected = json!({
        "instance_id": "shop", "group": GROUP, "action": "join", "jids": [NEWBIE_JID],
        "participants": participants,
    });
    assert_eq!(got["data"], with_time(expected, &got["data"], "timestamp"), "{got}");
    let got = find("/gowa", &gowa_join);
    assert_eq!(
        got["payload"],
        json!({ "chat_id": GROUP, "type": "join", "jids": [NEWBIE_JID], "participants": participants }),
        "{got}"
    );

    // The canonical event, as replayed, carries the pair too.
    let (status, replay) = server.client(Some(&token)).get("/api/instances/shop/events").await;
    assert_eq!(status, 200, "{replay}");
    let message = replay["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["event"]["kind"])
        .find(|kind| kind["type"] == "message" && kind["data"]["id"] == direct.as_str())
        .expect("the message is journalled")
        .clone();
    assert_eq!(
        (
            &message["data"]["sender"],
            &message["data"]["sender_lid"],
            &message["data"]["sender_phone"],
            &message["data"]["chat_lid"],
            &message["data"]["chat_phone"],
        ),
        (
            &json!(CONTACT_JID),
            &json!(lid),
            &json!(CONTACT),
            &json!(lid),
            &json!(CONTACT)
        ),
        "{message}"
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

both_engines!(the_lookup_route_answers_a_lids_number_and_a_numbers_lid);

async fn the_lookup_route_answers_a_lids_number_and_a_numbers_lid(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        mut server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    let lid = driver.contact_with_lid(CONTACT).await;
    driver.address_by_lid(CONTACT);
    // The instance learns the pair from the contact's message (`sender_pn`).
    driver
        .text_message_from(Sender::contact(CONTACT, "John Doe"), "hello")
        .await;
    server
        .events
        .wait_for("the message", |e| matches!(e.kind, EventKind::Message(_)))
        .await;
    let api = server.client(Some(&token));
    let pair = json!({ "lid": lid, "phone": CONTACT, "phone_jid": CONTACT_JID });

    let digits = lid.trim_end_matches("@lid");
    for query in [
        format!("lid={lid}"),
        format!("lid={digits}"),
        format!("phone={CONTACT}"),
        format!("phone=%2B{CONTACT}"),
        format!("phone={CONTACT}%40s.whatsapp.net"),
    ] {
        let (status, answer) = api.get(&format!("/api/lids/shop?{query}")).await;
        assert_eq!((status, &answer), (200, &pair), "{query}");
    }
    let (status, answer) = api.get("/api/lids/shop?lid=999000111222333@lid").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("lid_unknown")),
        "{answer}"
    );
    let (status, answer) = api.get("/api/lids/shop?phone=6289900000001").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("lid_unknown")),
        "{answer}"
    );

    let (status, answer) = api
        .post(
            "/api/lids/shop",
            json!({ "items": [lid, CONTACT, "999000111222333@lid", "+62 899-0000-0001"] }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let unknown =
        |query: &str| json!({ "query": query, "known": false, "lid": null, "phone": null, "phone_jid": null });
    assert_eq!(
        answer,
        json!({ "results": [
            { "query": lid, "known": true, "lid": lid, "phone": CONTACT, "phone_jid": CONTACT_JID },
            { "query": CONTACT, "known": true, "lid": lid, "phone": CONTACT, "phone_jid": CONTACT_JID },
            unknown("999000111222333@lid"),
            unknown("+62 899-0000-0001"),
        ]})
    );

    // Malformed input: a clear 422, nothing looked up.
    let bad_queries = [
        ("lid=abc", "invalid_lid"),
        ("lid=123:4@lid", "invalid_lid"),
        ("phone=12", "invalid_phone"),
        ("phone=6281234567890@g.us", "invalid_phone"),
        (&format!("lid={digits}&phone={CONTACT}") as &str, "invalid_query"),
        ("", "invalid_query"),
    ];
    for (query, code) in bad_queries {
        let (status, answer) = api.get(&format!("/api/lids/shop?{query}")).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{query}: {answer}"
        );
    }
    let too_many: Vec<String> = (0..101).map(|i| format!("62812000{i:05}")).collect();
    for (body, code) in [
        (json!({ "items": [] }), "invalid_items"),
        (json!({ "items": too_many }), "invalid_items"),
        (json!({ "items": [lid, "nope@lid"] }), "invalid_lid"),
        (json!({ "items": ["12345"] }), "invalid_phone"),
    ] {
        let (status, answer) = api.post("/api/lids/shop", body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{body}: {answer}"
        );
    }
    // Another instance's token, and an unknown instance.
    let (status, _) = server
        .client(Some("not-a-token"))
        .get(&format!("/api/lids/shop?lid={lid}"))
        .await;
    assert_eq!(status, 401);
    let (status, answer) = server.admin().get(&format!("/api/lids/nope?lid={lid}")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("instance_not_found"))
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

/// On the sim engine a contact may write as its LID alone (no number beside
/// it): the network's knowledge of the account fills the number in.
#[tokio::test]
async fn a_message_by_lid_alone_gets_the_number_the_network_knows() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", SHOP).await;
    let admin = server.admin();
    let lid = format!("1{CONTACT}@lid");
    let (status, _) = admin
        .post(
            "/sim/contacts",
            json!({ "phone": CONTACT, "on_whatsapp": true, "lid": lid }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, sent) = admin
        .post(
            "/sim/instances/shop/incoming",
            json!({ "from": lid, "push_name": "John Doe", "text": "by LID" }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let (event, _) = server
        .events
        .wait_for("the message", |e| matches!(e.kind, EventKind::Message(_)))
        .await;
    let EventKind::Message(message) = &event.kind else {
        unreachable!()
    };
    assert_eq!(
        (
            message.sender.as_str(),
            message.sender_lid.as_deref(),
            message.sender_phone.as_deref(),
            message.chat.as_str(),
            message.chat_lid.as_deref(),
            message.chat_phone.as_deref(),
        ),
        (
            CONTACT_JID,
            Some(lid.as_str()),
            Some(CONTACT),
            CONTACT_JID,
            Some(lid.as_str()),
            Some(CONTACT)
        ),
        "{message:?}"
    );
    server.stop().await;
}
