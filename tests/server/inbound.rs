//! Inbound traffic on the simulated network, end to end: every message kind
//! the sim can send (docs/API.md's `/sim/.../incoming`), receipts and group events
//! come out of the host as the matching canonical event; incoming media is
//! stored and served byte for byte at `/statics/media/<file>`, and a media
//! file over the limit still delivers its message, with the error noted.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};
use wasap::events::{Content, Event, EventKind, GroupAction, ReceiptType};
use wasap_tests::{TestDb, TestServer, data_dir};

const CONTACT: &str = "6281234567890";
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";
const GROUP: &str = "120363402106000000@g.us";

async fn online(server: &mut TestServer) {
    let (status, body) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": "shop" }))
        .await;
    assert_eq!(status, 201, "{body}");
    server.admin().get("/api/instances/shop/qr").await;
    server
        .admin()
        .post("/sim/instances/shop/scan", json!({ "phone": "6289900000001" }))
        .await;
    server.events.wait_status("shop", "online").await;
}

/// Sends `body` as an incoming message and returns the event the host published for it.
async fn incoming(server: &mut TestServer, body: Value) -> Arc<Event> {
    let id = server.sim("shop").incoming(body).await;
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

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn every_message_kind_becomes_its_canonical_event() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server).await;

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "push_name": "John Doe", "text": "Hello" }),
    )
    .await;
    assert_eq!(event.instance_id, "shop");
    let m = message(&event);
    assert_eq!((m.chat.as_str(), m.sender.as_str()), (CONTACT_JID, CONTACT_JID));
    assert_eq!(m.push_name.as_deref(), Some("John Doe"));
    assert!(!m.is_group && !m.from_me);
    assert_eq!(m.content, Content::Text { text: "Hello".into() });

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "group": GROUP, "id": "3EB0REPLY", "text": "fine", "reply_to": { "id": "3EB0Q", "text": "how?" } }),
    )
    .await;
    let m = message(&event);
    assert_eq!(m.id, "3EB0REPLY");
    assert!(m.is_group);
    assert_eq!((m.chat.as_str(), m.sender.as_str()), (GROUP, CONTACT_JID));
    let quoted = m.quoted.as_ref().expect("quoted");
    assert_eq!((quoted.id.as_str(), quoted.text.as_str()), ("3EB0Q", "how?"));

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "text": "fwd", "forwarded": true }),
    )
    .await;
    assert!(message(&event).forwarded);

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "kind": "contact", "contact": { "display_name": "3Care", "vcard": "BEGIN:VCARD\nEND:VCARD" } }),
    )
    .await;
    assert_eq!(
        message(&event).content,
        Content::Contact {
            display_name: "3Care".into(),
            vcard: "BEGIN:VCARD\nEND:VCARD".into()
        }
    );

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "kind": "location", "location": { "latitude": -6.2088, "longitude": 106.8456, "name": "Jakarta" } }),
    )
    .await;
    assert!(matches!(
        &message(&event).content,
        Content::Location { latitude, longitude, name: Some(name), .. } if *latitude == -6.2088 && *longitude == 106.8456 && name == "Jakarta"
    ));

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "kind": "reaction", "reaction": { "emoji": "👍", "target_id": "3EB0T" } }),
    )
    .await;
    assert_eq!(
        message(&event).content,
        Content::Reaction {
            emoji: "👍".into(),
            target_id: "3EB0T".into()
        }
    );

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "kind": "revoke", "target_id": "3EB0R" }),
    )
    .await;
    assert!(
        matches!(&message(&event).content, Content::Revoked { target_id, target_chat, target_from_me: false } if target_id == "3EB0R" && target_chat == CONTACT_JID)
    );

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "kind": "edit", "target_id": "3EB0E", "text": "new" }),
    )
    .await;
    assert_eq!(
        message(&event).content,
        Content::Edited {
            target_id: "3EB0E".into(),
            text: "new".into()
        }
    );

    let event = incoming(
        &mut server,
        json!({ "from": CONTACT, "kind": "delete_for_me", "target_id": "3EB0D", "from_me": true }),
    )
    .await;
    assert_eq!(
        message(&event).content,
        Content::DeletedForMe {
            target_id: "3EB0D".into(),
            target_from_me: true
        }
    );
    assert!(message(&event).from_me);

    // Media kinds: stored, served byte for byte, named by media_path.
    for (kind, mime, bytes) in [
        ("image", "image/jpeg", b"\xff\xd8\xff\xe0 a jpeg".to_vec()),
        ("video", "video/mp4", b"\x00\x00\x00\x18ftypmp42 video".to_vec()),
        ("audio", "audio/ogg", b"OggS an ogg".to_vec()),
        ("document", "application/pdf", b"%PDF-1.7 a pdf".to_vec()),
        ("sticker", "image/webp", b"RIFF\x00\x00\x00\x00WEBP".to_vec()),
    ] {
        let body = json!({
            "from": CONTACT, "kind": kind, "caption": format!("a {kind}"), "view_once": kind == "image",
            "media": { "base64": b64(&bytes), "mime_type": mime, "file_name": format!("file.{kind}") },
        });
        let event = incoming(&mut server, body).await;
        let m = message(&event);
        assert_eq!(m.content.name(), kind);
        assert_eq!(m.view_once, kind == "image");
        let media = m.content.media().expect("media");
        assert_eq!(media.mime_type, mime);
        assert_eq!(
            media.caption.as_deref(),
            if kind == "sticker" {
                None
            } else {
                Some(format!("a {kind}"))
            }
            .as_deref()
        );
        assert!(media.download_error.is_none(), "{media:?}");
        let path = media.media_path.as_deref().expect("media_path");
        assert!(path.starts_with("statics/media/"), "{path}");
        let name = path.trim_start_matches("statics/media/");
        assert!(name.len() >= 32, "at least 128 random bits in {name}");
        let response = server.client(None).get_raw(&format!("/{path}"), None).await;
        assert_eq!(response.status(), 200, "served without a token");
        assert_eq!(response.headers()["content-type"], mime);
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            bytes.as_slice(),
            "{kind} served byte for byte"
        );
    }
    let (status, body) = server.client(None).get("/statics/media/nope.jpg").await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("media_not_found")));
    server.stop().await;
}

#[tokio::test]
async fn receipts_and_group_events_arrive() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server).await;

    for (kind, expected) in [("delivered", ReceiptType::Delivered), ("read", ReceiptType::Read)] {
        let (status, body) = server
            .admin()
            .post(
                "/sim/instances/shop/receipt",
                json!({ "from": CONTACT, "ids": ["3EB0A", "3EB0B"], "type": kind }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (event, _) = server
            .events
            .wait_for("a receipt", |e| matches!(e.kind, EventKind::Receipt(_)))
            .await;
        let EventKind::Receipt(receipt) = &event.kind else {
            unreachable!()
        };
        assert_eq!(receipt.receipt_type, expected);
        assert_eq!(receipt.ids, ["3EB0A", "3EB0B"]);
        assert_eq!(receipt.sender, CONTACT_JID);
    }

    for (kind, expected) in [
        ("join", GroupAction::Join),
        ("leave", GroupAction::Leave),
        ("promote", GroupAction::Promote),
        ("demote", GroupAction::Demote),
    ] {
        let (status, body) = server
            .admin()
            .post(
                "/sim/instances/shop/group-participants",
                json!({ "group": GROUP, "type": kind, "jids": [CONTACT] }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (event, _) = server
            .events
            .wait_for("a group event", |e| matches!(e.kind, EventKind::GroupParticipants(_)))
            .await;
        let EventKind::GroupParticipants(group) = &event.kind else {
            unreachable!()
        };
        assert_eq!((group.group.as_str(), group.action), (GROUP, expected));
        assert_eq!(group.jids, [CONTACT_JID]);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_media_file_over_the_limit_still_delivers_its_message() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.max_image_bytes = 8;
    let mut server = TestServer::start_with(config).await;
    online(&mut server).await;

    let body = json!({ "from": CONTACT, "kind": "image", "caption": "big", "media": { "base64": b64(&[7u8; 64]), "mime_type": "image/png" } });
    let event = incoming(&mut server, body).await;
    let media = message(&event).content.media().expect("media").clone();
    assert_eq!(media.caption.as_deref(), Some("big"));
    assert!(media.media_path.is_none());
    assert!(
        media.download_error.as_deref().is_some_and(|e| e.contains('8')),
        "{media:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn malformed_sim_messages_are_refused() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server).await;
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
