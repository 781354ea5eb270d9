//! Inbound traffic end to end, on both engines (the sim engine, and the real
//! one against the loopback WhatsApp simulator; `wasap_tests::engines`):
//! every non-media kind a contact can send (text, a reply in a group,
//! forwarded, view-once and disappearing wrappers, contact card, location,
//! reaction, edit (in the clear, and encrypted under the message's secret as
//! WhatsApp sends it now), revoke, and the phone's delete-for-me), receipts
//! (delivered, read, played) and all four group participant events become
//! the matching canonical event, and reach the webhooks in both seed formats
//! and the instance's listener. On the real engine the same test runs on the
//! sim engine too, and every output must say the same, byte for byte, ids
//! and times aside (`wasap_tests::outputs`).
//!
//! Media (stored and served byte for byte at `/statics/media/<file>`, and a
//! file over its limit) is `media_traffic.rs`, on both engines too;
//! undecryptable messages are `inbound/undecryptable.rs`, with this file's
//! set-up.

mod undecryptable;

use std::sync::Arc;

use serde_json::json;
use wasap::events::{Content, Event, EventKind, GroupAction, ReceiptType};
use wasap_tests::engines::{EngineUnderTest, Kind, Sender, Whatsapp, Wrapping};
use wasap_tests::outputs::Transcript;
use wasap_tests::webhook_receiver::{Received, WebhookReceiver, signature_valid};
use wasap_tests::websocket::{Token, WsClient, open};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir};

const SHOP: &str = "6289900000001";
const CONTACT: &str = "6281234567890";
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";
/// A group's admin, who adds and promotes.
const ADMIN: &str = "6281200000009";
const GROUP: &str = "120363402106000000@g.us";
use wasap_tests::outputs::{GOWA_SECRET, SUDEVWA_SECRET, webhooks_in_both_formats};

both_engines!(
    every_non_media_kind_becomes_its_canonical_event_and_output,
    receipts_and_group_events_arrive,
    a_contact_and_a_group_named_by_lid_are_reported_by_phone_number,
);

/// An instance online on `whatsapp`, its webhooks in both seed formats going
/// to a receiver, and a listener on its `/api/listen`.
struct Setup {
    whatsapp: Whatsapp,
    server: TestServer,
    receiver: WebhookReceiver,
    listener: WsClient,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

async fn setup(engine: EngineUnderTest) -> Setup {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let receiver = WebhookReceiver::start().await;
    let mut server = whatsapp.server(&db, dir.path()).await;
    let token = whatsapp.online(&mut server, "shop", SHOP).await;
    webhooks_in_both_formats(&server, "shop", &receiver).await;
    let listener = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    Setup {
        whatsapp,
        server,
        receiver,
        listener,
        _db: db,
        _dir: dir,
    }
}

/// The event the server published for message `id`.
async fn message_event(server: &mut TestServer, id: &str) -> Arc<Event> {
    server
        .events
        .wait_for(
            &format!("message {id}"),
            |e| matches!(&e.kind, EventKind::Message(m) if m.id == id),
        )
        .await
        .0
}

fn message(event: &Event) -> &wasap::events::Message {
    match &event.kind {
        EventKind::Message(message) => message,
        other => panic!("not a message: {other:?}"),
    }
}

impl Setup {
    /// Waits for `sudevwa` and `gowa` webhook deliveries and `frames`
    /// listener frames, checks every signature, and records it all with
    /// `events` (canonical) in a transcript; `ids` are the message ids the
    /// test learnt, in order.
    async fn transcript(
        &mut self,
        events: &[Arc<Event>],
        mut ids: Vec<String>,
        (sudevwa, gowa, frames): (usize, usize, usize),
    ) -> Transcript {
        let count = |all: &[Received], path: &str| all.iter().filter(|r| r.path == path).count();
        let all = self
            .receiver
            .until(&format!("{sudevwa} sudevwa and {gowa} gowa deliveries"), |all| {
                count(all, "/sudevwa") >= sudevwa && count(all, "/gowa") >= gowa
            })
            .await;
        ids.extend(events.iter().map(|e| e.id.clone()));
        let mut transcript = Transcript::new();
        for event in events {
            let canonical = serde_json::to_string(&**event).expect("an event serializes");
            transcript.record("canonical", &canonical, &ids);
        }
        for request in &all {
            let (format, secret) = match request.path.as_str() {
                "/sudevwa" => ("sudevwa", SUDEVWA_SECRET),
                _ => ("gowa", GOWA_SECRET),
            };
            assert!(signature_valid(request, format, secret), "a valid {format} signature");
            let body = std::str::from_utf8(&request.body).expect("a UTF-8 body");
            transcript.record(&request.path, body, &ids);
        }
        // Frames are compared as the client parsed them (keys in order).
        for _ in 0..frames {
            let frame = self.listener.next_frame().await;
            transcript.record("listen", &frame.to_string(), &ids);
        }
        transcript
    }

    async fn stop(self) {
        self.server.stop().await;
        self.whatsapp.assert_all_handled();
    }
}

/// Runs `scenario` on `engine`; on the real engine, on the sim engine too,
/// and asserts both runs' outputs said the same.
async fn same_as_sim<F, Fut>(engine: EngineUnderTest, scenario: F)
where
    F: Fn(EngineUnderTest) -> Fut,
    Fut: Future<Output = Transcript>,
{
    let transcript = scenario(engine).await;
    if engine == EngineUnderTest::Real {
        let reference = scenario(EngineUnderTest::Sim).await;
        transcript.assert_same_as(&reference);
    }
}

async fn every_non_media_kind_becomes_its_canonical_event_and_output(engine: EngineUnderTest) {
    same_as_sim(engine, non_media_kinds).await;
}

async fn non_media_kinds(engine: EngineUnderTest) -> Transcript {
    let mut setup = setup(engine).await;
    let driver = setup.whatsapp.driver(&setup.server, "shop");
    driver.group(GROUP, "Shop talk", ADMIN, &[CONTACT]).await;
    let john = Sender::contact(CONTACT, "John Doe");
    let server = &mut setup.server;
    let mut ids = Vec::new();
    let mut events = Vec::new();

    let id = driver.text_message_from(john, "Hello").await;
    let event = message_event(server, &id).await;
    assert_eq!(event.instance_id, "shop");
    let m = message(&event);
    assert_eq!((m.chat.as_str(), m.sender.as_str()), (CONTACT_JID, CONTACT_JID));
    assert_eq!(m.push_name.as_deref(), Some("John Doe"));
    assert!(!m.is_group && !m.from_me);
    assert_eq!(m.content, Content::Text { text: "Hello".into() });
    ids.push(id);
    events.push(event);

    let reply = Wrapping {
        reply_to: Some(("3EB0Q", "how?")),
        ..Wrapping::default()
    };
    let id = driver
        .message_from(john.in_group(GROUP), Kind::Text("fine"), reply)
        .await;
    let event = message_event(server, &id).await;
    let m = message(&event);
    assert!(m.is_group);
    assert_eq!((m.chat.as_str(), m.sender.as_str()), (GROUP, CONTACT_JID));
    assert_eq!(m.push_name.as_deref(), Some("John Doe"));
    let quoted = m.quoted.as_ref().expect("quoted");
    assert_eq!((quoted.id.as_str(), quoted.text.as_str()), ("3EB0Q", "how?"));
    ids.push(id);
    events.push(event);

    let forwarded = Wrapping {
        forwarded: true,
        ..Wrapping::default()
    };
    let id = driver.message_from(john, Kind::Text("fwd"), forwarded).await;
    let event = message_event(server, &id).await;
    assert!(message(&event).forwarded);
    ids.push(id);
    events.push(event);

    // WhatsApp wraps view-once media (media_traffic.rs has the image); the
    // wrapper is the same around anything.
    let view_once = Wrapping {
        view_once: true,
        ..Wrapping::default()
    };
    let id = driver.message_from(john, Kind::Text("once"), view_once).await;
    let event = message_event(server, &id).await;
    assert!(message(&event).view_once);
    assert_eq!(message(&event).content, Content::Text { text: "once".into() });
    ids.push(id);
    events.push(event);

    let id = driver.contact_card_from(john, "3Care", "BEGIN:VCARD\nEND:VCARD").await;
    let event = message_event(server, &id).await;
    assert_eq!(
        message(&event).content,
        Content::Contact {
            display_name: "3Care".into(),
            vcard: "BEGIN:VCARD\nEND:VCARD".into()
        }
    );
    ids.push(id);
    events.push(event);

    // In a chat with disappearing messages, the card carries the timer.
    let disappearing = Wrapping {
        ephemeral: Some((604_800, 1_700_000_000)),
        ..Wrapping::default()
    };
    let card = Kind::Contact {
        display_name: "Kept a week",
        vcard: "BEGIN:VCARD\nFN:Week\nEND:VCARD",
    };
    let id = driver.message_from(john, card, disappearing).await;
    let event = message_event(server, &id).await;
    let ephemeral = message(&event).ephemeral.as_ref().expect("the chat's timer");
    assert_eq!(
        (ephemeral.expiration, ephemeral.setting_timestamp),
        (604_800, 1_700_000_000)
    );
    ids.push(id);
    events.push(event);

    let id = driver
        .location_from(john, (-6.2088, 106.8456), Some("Jakarta"), Some("Jl. Thamrin 1"))
        .await;
    let event = message_event(server, &id).await;
    assert!(matches!(
        &message(&event).content,
        Content::Location { latitude, longitude, name: Some(name), address: Some(_), .. }
            if *latitude == -6.2088 && *longitude == 106.8456 && name == "Jakarta"
    ));
    ids.push(id);
    events.push(event);

    let id = driver.reaction_from(john, "👍", "3EB0T").await;
    let event = message_event(server, &id).await;
    assert_eq!(
        message(&event).content,
        Content::Reaction {
            emoji: "👍".into(),
            target_id: "3EB0T".into()
        }
    );
    ids.push(id);
    events.push(event);

    let id = driver.revoke_from(john, "3EB0R").await;
    let event = message_event(server, &id).await;
    assert!(
        matches!(&message(&event).content, Content::Revoked { target_id, target_chat, target_from_me: false } if target_id == "3EB0R" && target_chat == CONTACT_JID)
    );
    ids.push(id);
    events.push(event);

    let id = driver.edit_from(john, "3EB0E", "new").await;
    let event = message_event(server, &id).await;
    assert_eq!(
        message(&event).content,
        Content::Edited {
            target_id: "3EB0E".into(),
            text: "new".into()
        }
    );
    ids.push(id);
    events.push(event);

    // Today's edit, encrypted under the message's secret: the instance
    // must have kept the secret of the message it edits.
    let original = driver.text_message_from(john, "old words").await;
    let event = message_event(server, &original).await;
    ids.push(original.clone());
    events.push(event);
    let id = driver.encrypted_edit_from(john, &original, "new words").await;
    let event = message_event(server, &id).await;
    assert_eq!(
        message(&event).content,
        Content::Edited {
            target_id: original.clone(),
            text: "new words".into()
        }
    );
    ids.push(id);
    events.push(event);

    // The instance's own phone deletes one of the instance's messages to
    // John, for this account only: the instance is the sender.
    let id = driver.delete_for_me(CONTACT, "3EB0D", true).await;
    let event = message_event(server, &id).await;
    let m = message(&event);
    assert_eq!(
        m.content,
        Content::DeletedForMe {
            target_id: "3EB0D".into(),
            target_from_me: true
        }
    );
    assert_eq!(
        (m.chat.as_str(), m.sender.as_str()),
        (CONTACT_JID, format!("{SHOP}@s.whatsapp.net").as_str())
    );
    assert!(m.from_me);
    ids.push(id);
    events.push(event);

    // sudevwa carries the 8 messages with content (not reactions,
    // revocations, edits, deletions); gowa all 13.
    let transcript = setup.transcript(&events, ids, (8, 13, 8)).await;
    setup.stop().await;
    transcript
}

async fn receipts_and_group_events_arrive(engine: EngineUnderTest) {
    same_as_sim(engine, receipts_and_group_events).await;
}

async fn receipts_and_group_events(engine: EngineUnderTest) -> Transcript {
    let mut setup = setup(engine).await;
    let driver = setup.whatsapp.driver(&setup.server, "shop");
    let mut events = Vec::new();

    for (kind, expected) in [
        ("delivered", ReceiptType::Delivered),
        ("read", ReceiptType::Read),
        ("played", ReceiptType::Played),
    ] {
        driver.receipt_from(CONTACT, &["3EB0A", "3EB0B"], kind).await;
        let (event, _) = setup
            .server
            .events
            .wait_for("a receipt", |e| matches!(e.kind, EventKind::Receipt(_)))
            .await;
        let EventKind::Receipt(receipt) = &event.kind else {
            unreachable!()
        };
        assert_eq!(receipt.receipt_type, expected);
        assert_eq!(receipt.ids, ["3EB0A", "3EB0B"]);
        assert_eq!(
            (receipt.chat.as_str(), receipt.sender.as_str()),
            (CONTACT_JID, CONTACT_JID)
        );
        events.push(event);
    }

    // John joins the admin's group, is promoted and demoted by the admin, and leaves.
    driver.group(GROUP, "Shop talk", ADMIN, &[]).await;
    for (author, kind, expected) in [
        (CONTACT, "join", GroupAction::Join),
        (ADMIN, "promote", GroupAction::Promote),
        (ADMIN, "demote", GroupAction::Demote),
        (CONTACT, "leave", GroupAction::Leave),
    ] {
        driver.group_participants(GROUP, author, kind, &[CONTACT]).await;
        let (event, _) = setup
            .server
            .events
            .wait_for("a group event", |e| matches!(e.kind, EventKind::GroupParticipants(_)))
            .await;
        let EventKind::GroupParticipants(group) = &event.kind else {
            unreachable!()
        };
        assert_eq!((group.group.as_str(), group.action), (GROUP, expected));
        assert_eq!(group.jids, [CONTACT_JID]);
        events.push(event);
    }
    let transcript = setup.transcript(&events, Vec::new(), (7, 7, 7)).await;
    setup.stop().await;
    transcript
}

async fn a_contact_and_a_group_named_by_lid_are_reported_by_phone_number(engine: EngineUnderTest) {
    same_as_sim(engine, lid_addressed).await;
}

/// WhatsApp names most accounts and groups by LID today; the outputs name
/// them by phone number all the same, as users address them.
async fn lid_addressed(engine: EngineUnderTest) -> Transcript {
    let mut setup = setup(engine).await;
    let driver = setup.whatsapp.driver(&setup.server, "shop");
    driver.address_by_lid(CONTACT);
    driver.group(GROUP, "Shop talk", ADMIN, &[CONTACT]).await;
    driver.address_group_by_lid(GROUP);
    let john = Sender::contact(CONTACT, "John Doe");
    let server = &mut setup.server;
    let mut ids = Vec::new();
    let mut events = Vec::new();
    let names = |m: &wasap::events::Message| (m.chat.clone(), m.sender.clone());

    let id = driver.text_message_from(john, "from my LID").await;
    let event = message_event(server, &id).await;
    assert_eq!(names(message(&event)), (CONTACT_JID.to_owned(), CONTACT_JID.to_owned()));
    ids.push(id.clone());
    events.push(event);

    let revoke = driver.revoke_from(john, &id).await;
    let event = message_event(server, &revoke).await;
    assert!(
        matches!(&message(&event).content, Content::Revoked { target_chat, .. } if target_chat == CONTACT_JID),
        "{event:?}"
    );
    ids.push(revoke);
    events.push(event);

    driver.receipt_from(CONTACT, &["3EB0A"], "read").await;
    let (event, _) = server
        .events
        .wait_for("a receipt", |e| matches!(e.kind, EventKind::Receipt(_)))
        .await;
    let EventKind::Receipt(receipt) = &event.kind else {
        unreachable!()
    };
    assert_eq!(
        (receipt.chat.as_str(), receipt.sender.as_str()),
        (CONTACT_JID, CONTACT_JID)
    );
    events.push(event);

    let deleted = driver.delete_for_me(CONTACT, "3EB0D", true).await;
    let event = message_event(server, &deleted).await;
    assert_eq!(message(&event).chat, CONTACT_JID);
    ids.push(deleted);
    events.push(event);

    let id = driver.text_message_from(john.in_group(GROUP), "in the group").await;
    let event = message_event(server, &id).await;
    assert_eq!(names(message(&event)), (GROUP.to_owned(), CONTACT_JID.to_owned()));
    ids.push(id);
    events.push(event);

    driver.group_participants(GROUP, ADMIN, "promote", &[CONTACT]).await;
    let (event, _) = server
        .events
        .wait_for("a group event", |e| matches!(e.kind, EventKind::GroupParticipants(_)))
        .await;
    let EventKind::GroupParticipants(group) = &event.kind else {
        unreachable!()
    };
    assert_eq!(group.jids, [CONTACT_JID]);
    events.push(event);

    // sudevwa: the two texts, the receipt and the group event; gowa all 6.
    let transcript = setup.transcript(&events, ids, (4, 6, 4)).await;
    setup.stop().await;
    transcript
}

/// A text message from `CONTACT` to instance `shop` on the sim engine, online.
async fn sim_online(server: &mut TestServer) {
    let (status, body) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": "shop" }))
        .await;
    assert_eq!(status, 201, "{body}");
    server.admin().get("/api/instances/shop/qr").await;
    server.sim("shop").scan(SHOP).await;
    server.events.wait_status("shop", "online").await;
}

#[tokio::test]
async fn malformed_sim_messages_are_refused() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    sim_online(&mut server).await;
    for (body, code) in [
        (json!({ "from": CONTACT, "kind": "teleport" }), "invalid_body"),
        (json!({ "from": CONTACT, "kind": "image" }), "invalid_body"),
        (
            json!({ "from": CONTACT, "kind": "image", "media": { "base64": "%%%", "mime_type": "image/png" } }),
            "invalid_body",
        ),
        (json!({ "from": "12ab", "text": "x" }), "invalid_phone"),
        (
            json!({ "from": CONTACT, "group": "not-a-group", "text": "x" }),
            "invalid_group",
        ),
        (json!({ "from": CONTACT, "text": "x", "surprise": 1 }), "invalid_body"),
    ] {
        let (status, answer) = server.admin().post("/sim/instances/shop/incoming", body.clone()).await;
        assert_eq!((status, answer["error"]["code"].clone()), (422, json!(code)), "{body}");
    }
    server.stop().await;
}
