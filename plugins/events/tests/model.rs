//! The canonical model: kind names, its stable JSON form, and serde round-trips.

use serde_json::json;
use wasap_events::{
    Content, DisappearingMode, Ephemeral, Event, EventKind, GroupAction, GroupParticipants, InstanceStatus, Media,
    Message, Quoted, Receipt, ReceiptType,
};

fn message(content: Content) -> Message {
    Message {
        sender_lid: None,
        sender_phone: None,
        chat_lid: None,
        chat_phone: None,
        id: "3EB0".into(),
        chat: "628987654321@s.whatsapp.net".into(),
        sender: "628123456789@s.whatsapp.net".into(),
        push_name: Some("John Doe".into()),
        from_me: false,
        is_group: false,
        timestamp: 1_697_365_800,
        content,
        quoted: Some(Quoted {
            id: "3EAF".into(),
            text: "earlier".into(),
        }),
        forwarded: true,
        view_once: false,
        ephemeral: Some(Ephemeral {
            expiration: 86_400,
            setting_timestamp: 1_697_000_000,
            disappearing_mode: Some(DisappearingMode {
                initiator: 2,
                trigger: 1,
                initiated_by_me: false,
            }),
        }),
    }
}

fn media() -> Media {
    Media {
        mime_type: "image/jpeg".into(),
        caption: Some("a cat".into()),
        file_name: Some("cat.jpg".into()),
        media_path: Some("statics/media/abc.jpg".into()),
        size: Some(1234),
        sha256_hex: Some("00ff".into()),
        download_error: None,
    }
}

fn all_contents() -> Vec<Content> {
    vec![
        Content::Text { text: "hi".into() },
        Content::Image(media()),
        Content::Video(media()),
        Content::Audio(Media {
            caption: None,
            ..media()
        }),
        Content::Document(media()),
        Content::Sticker(Media {
            download_error: Some("gone".into()),
            ..Media::default()
        }),
        Content::Contact {
            display_name: "3Care".into(),
            vcard: "BEGIN:VCARD".into(),
        },
        Content::Location {
            latitude: -6.2088,
            longitude: 106.8456,
            name: Some("Jakarta".into()),
            address: None,
            thumbnail_base64: Some("AAAA".into()),
        },
        Content::Reaction {
            emoji: "👍".into(),
            target_id: "X".into(),
        },
        Content::Revoked {
            target_id: "X".into(),
            target_chat: "c".into(),
            target_from_me: true,
        },
        Content::Edited {
            target_id: "X".into(),
            text: "new".into(),
        },
        Content::DeletedForMe {
            target_id: "X".into(),
            target_from_me: false,
        },
    ]
}

/// One event of each kind, with every content kind among the messages.
fn all_kinds() -> Vec<EventKind> {
    let mut kinds = vec![
        EventKind::Qr {
            qr: "2@abc".into(),
            expires_at_ms: 1,
        },
        EventKind::StatusChanged {
            status: InstanceStatus::Disconnected,
            previous: InstanceStatus::Online,
        },
        EventKind::Paired {
            jid: "j".into(),
            phone_number: "p".into(),
            push_name: None,
        },
        EventKind::LoggedOut { reason: "r".into() },
    ];
    kinds.extend(all_contents().into_iter().map(|c| EventKind::Message(message(c))));
    kinds.extend([
        EventKind::MessageUndecryptable(wasap_events::Undecryptable {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: "A".into(),
            chat: "c".into(),
            sender: "s".into(),
            push_name: None,
            from_me: true,
            is_group: false,
            timestamp: 4,
            reason: wasap_events::Undecryptable::DECRYPTION_FAILED.into(),
        }),
        EventKind::Receipt(Receipt {
            sender_lid: None,
            sender_phone: None,
            chat: "c".into(),
            sender: "s".into(),
            ids: vec!["A".into()],
            receipt_type: ReceiptType::Played,
            timestamp: 5,
        }),
        EventKind::GroupParticipants(GroupParticipants {
            participants: Vec::new(),
            group: "g@g.us".into(),
            action: GroupAction::Demote,
            jids: vec!["a".into(), "b".into()],
            timestamp: 6,
        }),
        EventKind::GroupUpdate(wasap_events::GroupUpdate {
            group: "g@g.us".into(),
            change: wasap_events::GroupUpdateKind::Description,
            text: None,
            enabled: None,
            author: Some("s@s.whatsapp.net".into()),
            timestamp: 6,
        }),
        EventKind::ChatState(wasap_events::ChatStateChange {
            sender_phone: None,
            chat: "g@g.us".into(),
            sender: "s".into(),
            sender_lid: Some("l@lid".into()),
            is_group: true,
            state: wasap_events::ChatState::Recording,
            timestamp: 7,
        }),
        EventKind::PollVote(wasap_events::PollVote {
            id: "v".into(),
            poll_id: "p".into(),
            chat: "c".into(),
            voter: "s".into(),
            voter_lid: Some("l@lid".into()),
            voter_phone: Some("62".into()),
            push_name: None,
            is_group: false,
            timestamp: 8,
            selected: vec!["A".into()],
            totals: vec![wasap_events::PollTotal {
                option: "A".into(),
                votes: 1,
            }],
        }),
        EventKind::CallOffer(call(None)),
        EventKind::CallMissed(call(Some("timeout"))),
        EventKind::CallEnded(call(Some("accepted_elsewhere"))),
        EventKind::Offline {
            status: InstanceStatus::Banned,
            offline_secs: 300,
            reason: None,
        },
        EventKind::PluginError {
            plugin: "p".into(),
            error: "e".into(),
        },
        EventKind::System { message: "m".into() },
        EventKind::QueueJob(wasap_events::QueueJob {
            job_id: 7,
            status: wasap_events::JobStatus::Failed,
            kind: "text".into(),
            batch_id: Some("b".into()),
            message_id: Some("3EB0".into()),
            failure: Some("f".into()),
            to: Some("62".into()),
        }),
    ]);
    kinds
}

fn call(reason: Option<&str>) -> wasap_events::Call {
    wasap_events::Call {
        id: "C".into(),
        from: "s@s.whatsapp.net".into(),
        from_lid: Some("l@lid".into()),
        from_phone: Some("62".into()),
        group: None,
        is_video: true,
        is_group: false,
        timestamp: 9,
        reason: reason.map(Into::into),
        auto_rejected: reason.is_none(),
    }
}

#[test]
fn every_kind_round_trips_through_json() {
    for kind in all_kinds() {
        let event = Event {
            id: "e".into(),
            instance_id: "i".into(),
            at_us: -5,
            kind,
        };
        let text = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, event, "{text}");
    }
}

#[test]
fn the_serde_tag_is_the_kind_name() {
    let mut seen = Vec::new();
    for kind in all_kinds() {
        let value = serde_json::to_value(&kind).unwrap();
        assert_eq!(value["type"], kind.name());
        if !seen.contains(&kind.name()) {
            seen.push(kind.name());
        }
    }
    assert_eq!(seen, EventKind::NAMES);
}

#[test]
fn every_name_a_format_gives_an_event_stands_for_its_kind() {
    for kind in all_kinds() {
        let name = kind.name();
        let event = Event {
            id: "e".into(),
            instance_id: "i".into(),
            at_us: 0,
            kind,
        };
        let sudevwa = wasap_events::sudevwa::event_name(&event);
        let gowa = wasap_events::gowa::format(&event).and_then(|payload| payload["event"].as_str().map(String::from));
        for format_name in sudevwa.map(String::from).into_iter().chain(gowa) {
            assert_eq!(EventKind::kind_name(&format_name), Some(name), "{format_name}");
        }
    }
    for (format_name, kind) in EventKind::FORMAT_NAMES {
        assert!(EventKind::NAMES.contains(&kind), "{format_name} names no kind");
        assert_eq!(EventKind::kind_name(format_name), Some(kind));
    }
    assert_eq!(EventKind::kind_name("nope"), None);
}

#[test]
fn the_content_tag_is_the_content_name() {
    let names: Vec<_> = all_contents().iter().map(Content::name).collect();
    assert_eq!(
        names,
        [
            "text",
            "image",
            "video",
            "audio",
            "document",
            "sticker",
            "contact",
            "location",
            "reaction",
            "revoked",
            "edited",
            "deleted_for_me"
        ]
    );
    for content in all_contents() {
        assert_eq!(serde_json::to_value(&content).unwrap()["type"], content.name());
    }
}

#[test]
fn the_json_form_is_stable() {
    let event = Event {
        id: "e1".into(),
        instance_id: "i1".into(),
        at_us: 1_000_001,
        kind: EventKind::StatusChanged {
            status: InstanceStatus::QrRequired,
            previous: InstanceStatus::LoggedOut,
        },
    };
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"id": "e1", "instance_id": "i1", "at_us": 1_000_001, "kind": {
            "type": "instance_status",
            "data": {"status": "qr_required", "previous": "logged_out"}}})
    );
    assert_eq!(event.at_ms(), 1000);
    assert_eq!(event.name(), "instance_status");
    let text = serde_json::to_value(message(Content::Text { text: "hi".into() })).unwrap();
    assert_eq!(text["content"], json!({"type": "text", "text": "hi"}));
}

#[test]
fn text_or_caption_and_target_id() {
    let cases: Vec<(Content, Option<&str>, Option<&str>)> = vec![
        (Content::Text { text: "hi".into() }, Some("hi"), None),
        (Content::Image(media()), Some("a cat"), None),
        (
            Content::Audio(Media {
                caption: None,
                ..media()
            }),
            None,
            None,
        ),
        (
            Content::Edited {
                target_id: "X".into(),
                text: "new".into(),
            },
            Some("new"),
            Some("X"),
        ),
        (
            Content::Reaction {
                emoji: "👍".into(),
                target_id: "Y".into(),
            },
            None,
            Some("Y"),
        ),
        (
            Content::Contact {
                display_name: "d".into(),
                vcard: "v".into(),
            },
            None,
            None,
        ),
    ];
    for (content, text, target) in cases {
        let msg = message(content);
        assert_eq!(msg.text_or_caption(), text, "{:?}", msg.content);
        assert_eq!(msg.target_id(), target, "{:?}", msg.content);
    }
}

#[test]
fn enums_write_their_documented_strings() {
    for status in InstanceStatus::ALL {
        assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
    }
    for receipt_type in [ReceiptType::Delivered, ReceiptType::Read, ReceiptType::Played] {
        assert_eq!(serde_json::to_value(receipt_type).unwrap(), receipt_type.as_str());
    }
    for action in [
        GroupAction::Join,
        GroupAction::Leave,
        GroupAction::Promote,
        GroupAction::Demote,
    ] {
        assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
    }
    for state in wasap_events::ChatState::ALL {
        assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        assert_eq!(wasap_events::ChatState::parse(state.as_str()), Some(state));
    }
    assert_eq!(wasap_events::ChatState::parse("composing"), None);
}
