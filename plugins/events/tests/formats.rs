//! Format behaviour the seed examples (`docs/seeds/`) do not show: the sudevwa events beyond
//! `incoming_message`, gowa's `message_deleted_for_me`, failed downloads, and which events
//! each format leaves out.

use serde_json::{Value, json};
use wasap_events::{
    Content, Event, EventKind, GroupAction, GroupParticipants, InstanceStatus, Media, Message, Receipt, ReceiptType,
    Undecryptable, gowa, sudevwa,
};

/// 2025-07-13T11:05:51.25Z
const AT_US: i64 = 1_752_404_751_250_000;

fn event(instance_id: &str, kind: EventKind) -> Event {
    Event {
        id: "evt-1".into(),
        instance_id: instance_id.into(),
        at_us: AT_US,
        kind,
    }
}

fn message(content: Content) -> Message {
    Message {
        sender_lid: None,
        sender_phone: None,
        chat_lid: None,
        chat_phone: None,
        id: "3EB0C127D7BACC83D6A1".into(),
        chat: "120363402106000000@g.us".into(),
        sender: "628123456789@s.whatsapp.net".into(),
        push_name: None,
        from_me: false,
        is_group: true,
        timestamp: 1_752_404_751,
        content,
        quoted: None,
        forwarded: false,
        view_once: false,
        ephemeral: None,
    }
}

fn lifecycle_events() -> Vec<EventKind> {
    vec![
        EventKind::Qr {
            qr: "2@abc".into(),
            expires_at_ms: 1_752_404_771_000,
        },
        EventKind::StatusChanged {
            status: InstanceStatus::Online,
            previous: InstanceStatus::Connecting,
        },
        EventKind::Paired {
            jid: "628123456789@s.whatsapp.net".into(),
            phone_number: "628123456789".into(),
            push_name: Some("John Doe".into()),
        },
        EventKind::LoggedOut {
            reason: "logged out from the phone".into(),
        },
        EventKind::PluginError {
            plugin: "echo".into(),
            error: "fuel exhausted".into(),
        },
        EventKind::System {
            message: "server started".into(),
        },
    ]
}

#[test]
fn sudevwa_lifecycle_events() {
    let expected = [
        json!({"event": "qr", "data": {"instance_id": "i1", "qr": "2@abc",
            "expires_at": "2025-07-13T11:06:11Z"}}),
        json!({"event": "instance.status", "data": {"instance_id": "i1", "status": "online",
            "previous": "connecting"}}),
        json!({"event": "instance.paired", "data": {"instance_id": "i1",
            "jid": "628123456789@s.whatsapp.net", "phone_number": "628123456789",
            "push_name": "John Doe"}}),
        json!({"event": "instance.logged_out", "data": {"instance_id": "i1",
            "reason": "logged out from the phone"}}),
        json!({"event": "plugin.error", "data": {"instance_id": "i1", "plugin": "echo",
            "error": "fuel exhausted"}}),
        json!({"event": "system", "data": {"instance_id": "i1", "message": "server started"}}),
    ];
    for (kind, mut want) in lifecycle_events().into_iter().zip(expected) {
        want["timestamp"] = json!("2025-07-13T11:05:51.25Z");
        assert_eq!(sudevwa::format(&event("i1", kind)).unwrap(), want);
    }
}

#[test]
fn sudevwa_server_wide_system_event_has_no_instance() {
    let kind = EventKind::System {
        message: "shutting down".into(),
    };
    let got = sudevwa::format(&event("", kind)).unwrap();
    assert_eq!(got["data"], json!({"message": "shutting down"}));
}

#[test]
fn sudevwa_receipts_and_group_events() {
    let receipt = EventKind::Receipt(Receipt {
        sender_lid: None,
        sender_phone: None,
        chat: "628987654321@s.whatsapp.net".into(),
        sender: "628987654321@s.whatsapp.net".into(),
        ids: vec!["A".into(), "B".into()],
        receipt_type: ReceiptType::Read,
        timestamp: 1_752_404_751,
    });
    assert_eq!(
        sudevwa::format(&event("i1", receipt)).unwrap(),
        json!({"event": "message.receipt", "timestamp": "2025-07-13T11:05:51.25Z", "data": {
            "instance_id": "i1", "chat": "628987654321@s.whatsapp.net",
            "sender": "628987654321@s.whatsapp.net", "ids": ["A", "B"],
            "receipt_type": "read", "timestamp": 1_752_404_751}})
    );
    let group = EventKind::GroupParticipants(GroupParticipants {
        participants: Vec::new(),
        group: "120363402106000000@g.us".into(),
        action: GroupAction::Promote,
        jids: vec!["628123456789@s.whatsapp.net".into()],
        timestamp: 1_752_404_751,
    });
    assert_eq!(
        sudevwa::format(&event("i1", group)).unwrap(),
        json!({"event": "group.participants", "timestamp": "2025-07-13T11:05:51.25Z", "data": {
            "instance_id": "i1", "group": "120363402106000000@g.us", "action": "promote",
            "jids": ["628123456789@s.whatsapp.net"], "timestamp": 1_752_404_751}})
    );
}

#[test]
fn sudevwa_group_media_message_uses_chat_and_caption() {
    let image = Content::Image(Media {
        mime_type: "image/jpeg".into(),
        caption: Some("look".into()),
        ..Media::default()
    });
    let got = sudevwa::format(&event("i1", EventKind::Message(message(image)))).unwrap();
    assert_eq!(
        got["data"],
        json!({"instance_id": "i1", "from": "120363402106000000@g.us", "from_me": false,
            "message": "look", "timestamp": 1_752_404_751, "is_group": true,
            "message_id": "3EB0C127D7BACC83D6A1", "push_name": ""})
    );
    let location = Content::Location {
        latitude: 1.0,
        longitude: 2.0,
        name: None,
        address: None,
        thumbnail_base64: None,
    };
    let got = sudevwa::format(&event("i1", EventKind::Message(message(location)))).unwrap();
    assert_eq!(got["data"]["message"], "");
}

#[test]
fn sudevwa_leaves_out_messages_that_act_on_other_messages() {
    let acting = [
        Content::Reaction {
            emoji: "👍".into(),
            target_id: "X".into(),
        },
        Content::Revoked {
            target_id: "X".into(),
            target_chat: "c".into(),
            target_from_me: false,
        },
        Content::Edited {
            target_id: "X".into(),
            text: "new".into(),
        },
        Content::DeletedForMe {
            target_id: "X".into(),
            target_from_me: true,
        },
    ];
    for content in acting {
        let event = event("i1", EventKind::Message(message(content)));
        assert_eq!(sudevwa::event_name(&event), None);
        assert!(sudevwa::format(&event).is_none());
    }
}

#[test]
fn gowa_message_deleted_for_me_has_the_fields_the_seed_sample_reads() {
    let mut msg = message(Content::DeletedForMe {
        target_id: "94D1".into(),
        target_from_me: true,
    });
    msg.chat = "628987654321@s.whatsapp.net".into();
    msg.is_group = false;
    msg.from_me = true;
    let got = gowa::format(&event("i1", EventKind::Message(msg))).unwrap();
    assert_eq!(
        got,
        json!({"action": "message_deleted_for_me", "deleted_message_id": "94D1",
            "deleted_from_me": true, "sender_id": "628123456789", "chat_id": "628987654321",
            "from": "628123456789@s.whatsapp.net", "timestamp": "2025-07-13T11:05:51Z",
            "pushname": ""})
    );
}

/// A group participant's message the engine could not decrypt.
fn undecryptable() -> EventKind {
    EventKind::MessageUndecryptable(Undecryptable {
        sender_lid: None,
        sender_phone: None,
        chat_lid: None,
        chat_phone: None,
        id: "3EB0C127D7BACC83D6A1".into(),
        chat: "120363402106000000@g.us".into(),
        sender: "628123456789@s.whatsapp.net".into(),
        push_name: Some("Budi".into()),
        from_me: false,
        is_group: true,
        timestamp: 1_752_404_751,
        reason: Undecryptable::DECRYPTION_FAILED.into(),
    })
}

#[test]
fn sudevwa_undecryptable_message_is_incoming_message_without_text_plus_sender_and_reason() {
    let got = sudevwa::format(&event("i1", undecryptable())).unwrap();
    assert_eq!(
        got,
        json!({"event": "message.undecryptable", "timestamp": "2025-07-13T11:05:51.25Z", "data": {
            "instance_id": "i1", "from": "120363402106000000@g.us", "sender": "628123456789@s.whatsapp.net",
            "from_me": false, "timestamp": 1_752_404_751, "is_group": true,
            "message_id": "3EB0C127D7BACC83D6A1", "push_name": "Budi", "reason": "decryption_failed"}})
    );
}

#[test]
fn gowa_undecryptable_message_is_a_message_header_with_an_action() {
    let got = gowa::format(&event("i1", undecryptable())).unwrap();
    assert_eq!(
        got,
        json!({"action": "message_undecryptable", "undecryptable_message_id": "3EB0C127D7BACC83D6A1",
            "reason": "decryption_failed", "sender_id": "628123456789", "chat_id": "120363402106000000",
            "from": "628123456789@s.whatsapp.net", "timestamp": "2025-07-13T11:05:51Z", "pushname": "Budi"})
    );
    // No `message` object: a receiver that reads every payload with one as a message
    // must not take it for an empty text.
    assert!(got.get("message").is_none());
}

#[test]
fn undecryptable_message_names_stand_for_its_kind() {
    assert_eq!(
        EventKind::kind_name("message.undecryptable"),
        Some("message_undecryptable")
    );
    assert_eq!(
        EventKind::kind_name("message_undecryptable"),
        Some("message_undecryptable")
    );
    assert_eq!(undecryptable().name(), "message_undecryptable");
}

#[test]
fn gowa_failed_download_still_reports_the_message() {
    let video = Content::Video(Media {
        mime_type: "video/mp4".into(),
        download_error: Some("media expired".into()),
        ..Media::default()
    });
    let got = gowa::format(&event("i1", EventKind::Message(message(video)))).unwrap();
    assert_eq!(
        got["video"],
        json!({"mime_type": "video/mp4", "caption": "", "download_error": "media expired"})
    );
    assert_eq!(got["message"]["id"], "3EB0C127D7BACC83D6A1");
}

#[test]
fn gowa_direct_chat_receipt_names_only_the_chat() {
    let receipt = EventKind::Receipt(Receipt {
        sender_lid: None,
        sender_phone: None,
        chat: "628987654321@s.whatsapp.net".into(),
        sender: "628987654321@s.whatsapp.net".into(),
        ids: vec!["A".into()],
        receipt_type: ReceiptType::Played,
        timestamp: 1_752_404_751,
    });
    let got = gowa::format(&event("i1", receipt)).unwrap();
    assert_eq!(got["payload"]["from"], "628987654321@s.whatsapp.net");
    assert_eq!(got["payload"]["receipt_type"], "played");
    assert_eq!(
        got["payload"]["receipt_type_description"],
        gowa::receipt_type_description(ReceiptType::Played)
    );
}

#[test]
fn gowa_leaves_out_lifecycle_events() {
    for kind in lifecycle_events() {
        let name = kind.name();
        assert!(gowa::format(&event("i1", kind)).is_none(), "{name}");
    }
}

#[test]
fn bytes_and_values_agree() {
    let event = event("i1", EventKind::Message(message(Content::Text { text: "hi".into() })));
    let bytes: Value = serde_json::from_slice(&gowa::to_vec(&event).unwrap()).unwrap();
    assert_eq!(bytes, gowa::format(&event).unwrap());
    let bytes: Value = serde_json::from_slice(&sudevwa::to_vec(&event).unwrap()).unwrap();
    assert_eq!(bytes, sudevwa::format(&event).unwrap());
}
