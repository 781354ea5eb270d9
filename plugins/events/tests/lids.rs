//! Golden tests of both names of an account (its LID and its phone number) in the
//! payloads: neither seed document has LIDs, so these shapes are wasap's own (see
//! `sudevwa.rs` and `gowa.rs`), pinned in `tests/fixtures/lids/`. The seed documents'
//! own examples, where no LID is known, stay exact (`golden.rs`); here a LID is known.

use serde_json::Value;
use wasap_events::{
    Content, Event, EventKind, GroupAction, GroupParticipants, Message, ParticipantIds, Receipt, ReceiptType, gowa,
    sudevwa,
};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/lids/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 2026-03-01T10:30:00Z.
const AT_S: i64 = 1_772_361_000;
const LID: &str = "251556368777322@lid";
const PHONE: &str = "6281234567890";

fn event(kind: EventKind) -> Event {
    Event {
        id: "evt-1".into(),
        instance_id: "instance123".into(),
        at_us: AT_S * 1_000_000 + 500_000,
        kind,
    }
}

fn text(id: &str, chat: &str, sender: &str, text: &str) -> Message {
    Message {
        id: id.into(),
        chat: chat.into(),
        sender: sender.into(),
        sender_lid: None,
        sender_phone: None,
        chat_lid: None,
        chat_phone: None,
        push_name: None,
        from_me: false,
        is_group: false,
        timestamp: AT_S,
        content: Content::Text { text: text.into() },
        quoted: None,
        forwarded: false,
        view_once: false,
        ephemeral: None,
    }
}

fn both(event: &Event, name: &str) {
    assert_eq!(
        sudevwa::format(event).unwrap(),
        fixture(&format!("sudevwa_{name}")),
        "sudevwa {name}"
    );
    assert_eq!(
        gowa::format(event).unwrap(),
        fixture(&format!("gowa_{name}")),
        "gowa {name}"
    );
}

#[test]
fn a_contact_addressed_by_lid_with_its_phone_number_known() {
    let jid = format!("{PHONE}@s.whatsapp.net");
    let message = Message {
        sender_lid: Some(LID.into()),
        sender_phone: Some(PHONE.into()),
        chat_lid: Some(LID.into()),
        chat_phone: Some(PHONE.into()),
        push_name: Some("John Doe".into()),
        ..text("3EB0ABC123DEF456", &jid, &jid, "Hello World")
    };
    both(&event(EventKind::Message(message)), "message_by_lid");
}

#[test]
fn a_group_participant_known_by_lid_alone() {
    let lid = "251556368777323@lid";
    let message = Message {
        sender_lid: Some(lid.into()),
        is_group: true,
        ..text("3EB0ABC123DEF457", "120363402106000000@g.us", lid, "Hi all")
    };
    both(&event(EventKind::Message(message)), "group_message_lid_only");
}

#[test]
fn a_receipt_by_lid_with_the_phone_number_from_the_mapping() {
    let jid = format!("{PHONE}@s.whatsapp.net");
    let receipt = Receipt {
        chat: jid.clone(),
        sender: jid,
        sender_lid: Some(LID.into()),
        sender_phone: Some(PHONE.into()),
        ids: vec!["3EB0A1".into()],
        receipt_type: ReceiptType::Read,
        timestamp: AT_S,
    };
    both(&event(EventKind::Receipt(receipt)), "receipt_by_lid");
}

#[test]
fn group_participants_by_both_names() {
    let jids = vec![
        "6289685000000@s.whatsapp.net".to_owned(),
        "6289686000000@s.whatsapp.net".to_owned(),
    ];
    let change = GroupParticipants {
        group: "120363402106000000@g.us".into(),
        action: GroupAction::Join,
        participants: vec![
            ParticipantIds {
                jid: jids[0].clone(),
                lid: Some(LID.into()),
                phone: Some("6289685000000".into()),
            },
            ParticipantIds {
                jid: jids[1].clone(),
                lid: None,
                phone: Some("6289686000000".into()),
            },
        ],
        jids,
        timestamp: AT_S,
    };
    both(&event(EventKind::GroupParticipants(change)), "group_join_by_lid");
}

#[test]
fn without_a_lid_nothing_is_added() {
    let jid = format!("{PHONE}@s.whatsapp.net");
    // The phone number alone is known: the JID says it all, the seed's shape stays.
    let message = Message {
        sender_phone: Some(PHONE.into()),
        chat_phone: Some(PHONE.into()),
        ..text("3EB0ABC123DEF456", &jid, &jid, "Hello World")
    };
    let event = event(EventKind::Message(message));
    let data = sudevwa::format(&event).unwrap()["data"].clone();
    for key in ["sender_lid", "sender_phone", "chat_lid", "chat_phone"] {
        assert!(data.get(key).is_none(), "{key}: {data}");
    }
    let flat = gowa::format(&event).unwrap();
    assert!(
        flat.get("from_lid").is_none() && flat.get("chat_lid").is_none(),
        "{flat}"
    );
}
