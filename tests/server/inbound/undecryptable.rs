//! Undecryptable messages (issue 18, item 4): a contact's message the engine
//! cannot decrypt becomes a `message_undecryptable` event of its own, with
//! the sender, chat and message id, and reaches the webhooks in both seed
//! formats and the instance's listener, on both engines (on the real one,
//! the simulator breaks the ciphertext and the client asks for a retry). A
//! later successful decrypt of the same message is a separate event.

use std::sync::Arc;

use serde_json::{Value, json};
use wasap::events::{Event, EventKind, Undecryptable};
use wasap_tests::engines::{EngineUnderTest, Sender};
use wasap_tests::outputs::Transcript;
use wasap_tests::{TestDb, TestServer, both_engines, data_dir};

use super::{CONTACT, CONTACT_JID, message_event, same_as_sim, setup, sim_online};

both_engines!(an_undecryptable_message_becomes_an_event_and_reaches_every_output);

async fn an_undecryptable_message_becomes_an_event_and_reaches_every_output(engine: EngineUnderTest) {
    same_as_sim(engine, undecryptable).await;
}

/// The event the server published for undecryptable message `id`.
async fn undecryptable_event(server: &mut TestServer, id: &str) -> (Arc<Event>, Undecryptable) {
    let (event, _) = server
        .events
        .wait_for(
            &format!("undecryptable message {id}"),
            |e| matches!(&e.kind, EventKind::MessageUndecryptable(m) if m.id == id),
        )
        .await;
    let EventKind::MessageUndecryptable(message) = &event.kind else {
        unreachable!()
    };
    let message = message.clone();
    (event, message)
}

async fn undecryptable(engine: EngineUnderTest) -> Transcript {
    let mut setup = setup(engine).await;
    let driver = setup.whatsapp.driver(&setup.server, "shop");
    let john = Sender::contact(CONTACT, "John Doe");
    let server = &mut setup.server;

    // A first message sets the session up; the next one fails on its MAC.
    let hello = driver.text_message_from(john, "Hello").await;
    let hello_event = message_event(server, &hello).await;
    let id = driver.undecryptable_from(john).await;
    let (event, got) = undecryptable_event(server, &id).await;
    assert_eq!(event.instance_id, "shop");
    assert_eq!(
        got,
        Undecryptable {
            // A phone-named contact: its number, whether or not its LID is known.
            sender_lid: None,
            sender_phone: Some(CONTACT.into()),
            chat_lid: None,
            chat_phone: Some(CONTACT.into()),
            id: id.clone(),
            chat: CONTACT_JID.into(),
            sender: CONTACT_JID.into(),
            push_name: Some("John Doe".into()),
            from_me: false,
            is_group: false,
            timestamp: got.timestamp,
            reason: Undecryptable::DECRYPTION_FAILED.into(),
        }
    );
    assert!(got.timestamp > 1_700_000_000, "stamped by WhatsApp: {}", got.timestamp);
    assert_ne!(event.id, hello_event.id);

    let ids = vec![hello.clone(), id.clone()];
    let transcript = setup.transcript(&[hello_event, event], ids, (2, 2, 2)).await;

    // Each output names the sender, the chat and the message (`<id:1>` is
    // `id` in a transcript).
    let find = |output: &str, name: &str| -> Value {
        let body = transcript
            .bodies(output)
            .iter()
            .find(|body| body.contains(name))
            .unwrap_or_else(|| panic!("no {name} on {output}: {:?}", transcript.bodies(output)));
        serde_json::from_str(body).expect("a JSON body")
    };
    for output in ["/sudevwa", "listen"] {
        let payload = find(output, r#""event":"message.undecryptable""#);
        let data = &payload["data"];
        assert_eq!(
            (&data["from"], &data["sender"], &data["message_id"], &data["reason"]),
            (
                &json!(CONTACT_JID),
                &json!(CONTACT_JID),
                &json!("<id:1>"),
                &json!("decryption_failed")
            ),
            "{output}: {payload}"
        );
    }
    let gowa = find("/gowa", r#""action":"message_undecryptable""#);
    assert_eq!(
        (&gowa["from"], &gowa["chat_id"], &gowa["undecryptable_message_id"]),
        (&json!(CONTACT_JID), &json!(CONTACT), &json!("<id:1>")),
        "{gowa}"
    );
    assert!(gowa.get("message").is_none(), "{gowa}");
    setup.stop().await;
    transcript
}

/// On the sim engine, where a test chooses the id: the message arriving
/// readable after all (the sender's retry) is a `message` event of its own,
/// not taken for a redelivery of the undecryptable one, and the
/// undecryptable one delivered twice is still one event.
#[tokio::test]
async fn a_later_decrypt_of_the_same_message_is_a_separate_event() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    sim_online(&mut server).await;
    let sim = server.sim("shop");
    let id = sim
        .incoming(json!({ "from": CONTACT, "id": "3EB0RETRY", "kind": "undecryptable" }))
        .await;
    assert_eq!(id, "3EB0RETRY");
    let (first, _) = undecryptable_event(&mut server, &id).await;
    sim.incoming(json!({ "from": CONTACT, "id": "3EB0RETRY", "kind": "undecryptable" }))
        .await;
    sim.incoming(json!({ "from": CONTACT, "id": "3EB0RETRY", "text": "readable now" }))
        .await;
    let later = message_event(&mut server, &id).await;
    assert_ne!(later.id, first.id);

    let (status, page) = server.admin().get("/api/instances/shop/events").await;
    assert_eq!(status, 200, "{page}");
    let kinds: Vec<(&str, &str)> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["event"]["kind"]["type"].as_str().unwrap_or(""),
                e["event"]["id"].as_str().unwrap_or(""),
            )
        })
        .filter(|(kind, _)| kind.starts_with("message"))
        .collect();
    assert_eq!(
        kinds,
        [
            ("message_undecryptable", first.id.as_str()),
            ("message", later.id.as_str())
        ],
        "the repeat is journalled once: {page}"
    );
    server.stop().await;
}
