//! Message actions (docs/API.md, "Message actions"): reacting to, editing,
//! revoking and reading messages named by their id, and chat states. On both
//! engines the contact gets exactly what was asked (decrypted on the real
//! engine); bad input is refused with a clear 4xx and nothing is sent.

use serde_json::{Value, json};
use wasap_tests::engines::{ActionSent, EngineUnderTest, ListenedShop};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const SHOP: &str = "6281234500100";
const CONTACT: &str = "6281234567890";

both_engines!(reactions_edits_revokes_reads_and_chat_states_reach_the_contact);

async fn reactions_edits_revokes_reads_and_chat_states_reach_the_contact(engine: EngineUnderTest) {
    let mut shop = ListenedShop::start(engine, SHOP).await;
    let api = shop.api();
    let (driver, listener) = (&shop.driver, &mut shop.listener);
    driver.contact(CONTACT, true).await;
    let contact_jid = format!("{CONTACT}@s.whatsapp.net");

    let hello = driver.text_from(CONTACT, "John Doe", "Hello, is my order ready?").await;
    // The listener sees it once it is journalled: from then on it has an id
    // the actions find.
    let frame = listener.next_frame().await;
    assert_eq!(frame["data"]["message_id"], hello.as_str(), "{frame}");

    let (status, reacted) = api
        .post(
            "/api/messages/shop/react",
            json!({ "message_id": hello, "emoji": "👍" }),
        )
        .await;
    assert_eq!(status, 200, "{reacted}");
    assert_eq!(reacted["to"], contact_jid.as_str());
    let reaction_id = reacted["message_id"].as_str().expect("the reaction's id");
    assert!(!reaction_id.is_empty() && reaction_id != hello, "{reacted}");

    let (status, sent) = api
        .post("/api/send/shop", json!({ "to": CONTACT, "message": "It is ready" }))
        .await;
    assert_eq!(status, 200, "{sent}");
    let sent_id = sent["message_id"].as_str().expect("the text's id").to_owned();
    let edited_text = "It is ready for pickup at the front desk ✓";
    let (status, edited) = api
        .post(
            "/api/messages/shop/edit",
            json!({ "message_id": sent_id, "message": edited_text }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (edited["message_id"].as_str(), edited["to"].as_str()),
        (Some(sent_id.as_str()), Some(contact_jid.as_str())),
        "an edit keeps its message's id"
    );
    let (status, withdrawn) = api
        .post("/api/messages/shop/react", json!({ "message_id": hello }))
        .await;
    assert_eq!(status, 200, "{withdrawn}");
    let (status, revoked) = api
        .post("/api/messages/shop/revoke", json!({ "message_id": sent_id }))
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["message_id"], sent_id.as_str());

    assert_eq!(
        driver.actions_sent_to(CONTACT, 4).await,
        [
            ActionSent::Reaction {
                target_id: hello.clone(),
                emoji: "👍".to_owned()
            },
            ActionSent::Edit {
                target_id: sent_id.clone(),
                text: edited_text.to_owned()
            },
            ActionSent::Reaction {
                target_id: hello.clone(),
                emoji: String::new()
            },
            ActionSent::Revoke {
                target_id: sent_id.clone()
            },
        ]
    );
    let texts = driver.sent_to(CONTACT, 1).await;
    assert!(
        texts
            .iter()
            .any(|t| t.message_id == sent_id && t.text.as_deref() == Some("It is ready")),
        "the text before its edit: {texts:?}"
    );

    let (status, read) = api
        .post("/api/messages/shop/read", json!({ "message_ids": [hello] }))
        .await;
    assert_eq!((status, read.clone()), (200, json!({ "chats": [contact_jid] })));
    driver.wait_read(CONTACT, &[&hello]).await;

    for state in ["typing", "recording", "paused"] {
        let (status, answer) = api
            .post("/api/send/shop/chat-state", json!({ "to": CONTACT, "state": state }))
            .await;
        assert_eq!(
            (status, answer.clone()),
            (200, json!({ "to": contact_jid, "state": state }))
        );
        driver.wait_chat_state(CONTACT, state).await;
    }
    shop.finish().await;
}

/// What the simulated network recorded of the instance's sends.
async fn records(server: &TestServer) -> Vec<Value> {
    crate::messaging::sent(server, "shop").await
}

#[tokio::test]
async fn bad_actions_get_a_clear_4xx_and_send_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", SHOP).await;
    let admin = server.admin();
    let api = server.client(Some(&token));
    let incoming = |body: Value| {
        let admin = server.admin();
        async move {
            let (status, answer) = admin.post("/sim/instances/shop/incoming", body).await;
            assert_eq!(status, 200, "{answer}");
            answer["message_id"].as_str().expect("the message id").to_owned()
        }
    };
    let (status, answer) = admin
        .post(
            "/sim/contacts",
            json!({ "phone": "6289999999999", "on_whatsapp": false }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let hello = incoming(json!({ "from": CONTACT, "text": "Hello" })).await;
    let (status, sent) = api
        .post("/api/send/shop", json!({ "to": CONTACT, "message": "Hi" }))
        .await;
    assert_eq!(status, 200, "{sent}");
    let sent_id = sent["message_id"].as_str().unwrap().to_owned();
    let (status, reacted) = api
        .post(
            "/api/messages/shop/react",
            json!({ "message_id": sent_id, "emoji": "❤️" }),
        )
        .await;
    assert_eq!(status, 200, "{reacted}");
    let reaction_id = reacted["message_id"].as_str().unwrap().to_owned();
    let before = records(&server).await;

    let too_many: Vec<String> = (0..101).map(|n| format!("3EB0{n:018}")).collect();
    let cases = [
        (
            "react",
            json!({ "message_id": "3EB0000000000000000000", "emoji": "👍" }),
            404,
            "message_not_found",
        ),
        (
            "react",
            json!({ "message_id": hello, "emoji": "not one emoji" }),
            422,
            "invalid_emoji",
        ),
        (
            "react",
            json!({ "message_id": hello, "emoji": "👍".repeat(20) }),
            422,
            "invalid_emoji",
        ),
        (
            "react",
            json!({ "message_id": "", "emoji": "👍" }),
            422,
            "invalid_message_id",
        ),
        ("react", json!({ "emoji": "👍" }), 422, "invalid_body"),
        (
            "edit",
            json!({ "message_id": hello, "message": "not mine" }),
            422,
            "not_own_message",
        ),
        (
            "edit",
            json!({ "message_id": reaction_id, "message": "a reaction" }),
            422,
            "not_a_text_message",
        ),
        (
            "edit",
            json!({ "message_id": sent_id, "message": "  " }),
            422,
            "empty_message",
        ),
        (
            "edit",
            json!({ "message_id": "3EB0000000000000000001", "message": "x" }),
            404,
            "message_not_found",
        ),
        ("revoke", json!({ "message_id": hello }), 422, "not_own_message"),
        (
            "revoke",
            json!({ "message_id": "3EB0000000000000000002" }),
            404,
            "message_not_found",
        ),
        ("read", json!({ "message_ids": [sent_id] }), 422, "own_message"),
        ("read", json!({ "message_ids": [] }), 422, "invalid_message_ids"),
        ("read", json!({ "message_ids": too_many }), 422, "invalid_message_ids"),
        // Every id is checked before the first receipt goes out.
        (
            "read",
            json!({ "message_ids": [hello, "3EB0000000000000000003"] }),
            404,
            "message_not_found",
        ),
    ];
    for (action, body, status, code) in cases {
        let (got, answer) = api.post(&format!("/api/messages/shop/{action}"), body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{action} {body} → {answer}"
        );
    }
    let chat_states = [
        (json!({ "to": CONTACT, "state": "dancing" }), 422, "invalid_body"),
        (
            json!({ "to": "6289999999999", "state": "typing" }),
            422,
            "recipient_not_on_whatsapp",
        ),
        (json!({ "to": "not a number", "state": "typing" }), 422, "invalid_phone"),
        (
            json!({ "to": "someone@nowhere", "state": "typing" }),
            422,
            "invalid_recipient",
        ),
    ];
    for (body, status, code) in chat_states {
        let (got, answer) = api.post("/api/send/shop/chat-state", body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} → {answer}"
        );
    }
    let (status, answer) = admin
        .post(
            "/api/messages/nobody/react",
            json!({ "message_id": hello, "emoji": "👍" }),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("instance_not_found"))
    );
    assert_eq!(records(&server).await.len(), before.len(), "nothing was sent");

    // A text the phone sent (journalled, from this account) can be edited
    // and revoked like one the server sent.
    let from_phone = incoming(json!({ "from": CONTACT, "text": "sent from the phone", "from_me": true })).await;
    let (status, edited) = api
        .post(
            "/api/messages/shop/edit",
            json!({ "message_id": from_phone, "message": "edited from the API" }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    let (status, revoked) = api
        .post("/api/messages/shop/revoke", json!({ "message_id": from_phone }))
        .await;
    assert_eq!(status, 200, "{revoked}");
    let after = records(&server).await;
    let kinds: Vec<(&str, &str)> = after[before.len()..]
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["target_id"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("edit", from_phone.as_str()), ("revoke", from_phone.as_str())]);
    server.stop().await;
}
