//! The WIT types and the canonical model convert both ways without loss, for every event
//! kind, every content kind and every enum value.

use wasap_plugin::bindings::wasap::plugin::types as w;
use wasap_plugin::events::{
    Content, DisappearingMode, Ephemeral, Event, EventKind, GroupAction, GroupParticipants, InstanceStatus, Media,
    Message, Quoted, Receipt, ReceiptType, Undecryptable,
};
use wasap_plugin::{Outcome, Verdict};

fn media(caption: Option<&str>) -> Media {
    Media {
        mime_type: "image/jpeg".into(),
        caption: caption.map(Into::into),
        file_name: Some("cat.jpg".into()),
        media_path: Some("statics/media/abc.jpg".into()),
        size: Some(u64::MAX),
        sha256_hex: Some("00ff".into()),
        download_error: Some("gone".into()),
    }
}

fn all_contents() -> Vec<Content> {
    vec![
        Content::Text { text: "hi ✓".into() },
        Content::Image(media(Some("a cat"))),
        Content::Video(media(None)),
        Content::Audio(Media::default()),
        Content::Document(media(Some("doc"))),
        Content::Sticker(media(None)),
        Content::Contact {
            display_name: "Jane".into(),
            vcard: "BEGIN:VCARD\nEND:VCARD".into(),
        },
        Content::Location {
            latitude: -6.2,
            longitude: 106.816_666,
            name: Some("Monas".into()),
            address: None,
            thumbnail_base64: Some("/9j/".into()),
        },
        Content::Reaction {
            emoji: "👍".into(),
            target_id: "3EA0".into(),
        },
        Content::Revoked {
            target_id: "3EA1".into(),
            target_chat: "120363@g.us".into(),
            target_from_me: true,
        },
        Content::Edited {
            target_id: "3EA2".into(),
            text: "new".into(),
        },
        Content::DeletedForMe {
            target_id: "3EA3".into(),
            target_from_me: false,
        },
    ]
}

fn message(content: Content, rich: bool) -> Message {
    Message {
        id: "3EB0".into(),
        chat: "120363@g.us".into(),
        sender: "628123456789@s.whatsapp.net".into(),
        sender_lid: rich.then(|| "2515@lid".into()),
        sender_phone: rich.then(|| "628123456789".into()),
        chat_lid: (!rich).then(|| "2516@lid".into()),
        chat_phone: None,
        push_name: rich.then(|| "John".into()),
        from_me: rich,
        is_group: rich,
        timestamp: 1_697_365_800,
        content,
        quoted: rich.then(|| Quoted {
            id: "3EAF".into(),
            text: "earlier".into(),
        }),
        forwarded: rich,
        view_once: !rich,
        ephemeral: rich.then_some(Ephemeral {
            expiration: 7_776_000,
            setting_timestamp: -1,
            disappearing_mode: Some(DisappearingMode {
                initiator: 2,
                trigger: 99,
                initiated_by_me: true,
            }),
        }),
    }
}

fn all_kinds() -> Vec<EventKind> {
    let mut kinds = vec![
        EventKind::Qr {
            qr: "2@abc".into(),
            expires_at_ms: 1_765_202_244_000,
        },
        EventKind::Paired {
            jid: "628@s.whatsapp.net".into(),
            phone_number: "628".into(),
            push_name: None,
        },
        EventKind::LoggedOut {
            reason: "logged out from the phone".into(),
        },
        EventKind::PluginError {
            plugin: "spam-filter".into(),
            error: "out of fuel".into(),
        },
        EventKind::System {
            message: "started".into(),
        },
    ];
    for status in InstanceStatus::ALL {
        kinds.push(EventKind::StatusChanged {
            status,
            previous: InstanceStatus::ALL[InstanceStatus::ALL.len() - 1 - status as usize],
        });
    }
    for status in wasap_plugin::events::JobStatus::ALL {
        kinds.push(EventKind::QueueJob(wasap_plugin::events::QueueJob {
            job_id: 41,
            status,
            kind: "text".into(),
            batch_id: (status == wasap_plugin::events::JobStatus::Queued).then(|| "bulk-1".into()),
            message_id: Some("3EB0ABC".into()),
            failure: (status == wasap_plugin::events::JobStatus::Failed).then(|| "not on WhatsApp".into()),
            to: Some("628".into()),
        }));
    }
    for receipt_type in [ReceiptType::Delivered, ReceiptType::Read, ReceiptType::Played] {
        kinds.push(EventKind::Receipt(Receipt {
            chat: "628@s.whatsapp.net".into(),
            sender: "628@s.whatsapp.net".into(),
            sender_lid: Some("2515@lid".into()),
            sender_phone: Some("628".into()),
            ids: vec!["a".into(), "b".into()],
            receipt_type,
            timestamp: 1,
        }));
    }
    for action in [
        GroupAction::Join,
        GroupAction::Leave,
        GroupAction::Promote,
        GroupAction::Demote,
    ] {
        kinds.push(EventKind::GroupParticipants(GroupParticipants {
            group: "120363@g.us".into(),
            action,
            jids: vec!["628@s.whatsapp.net".into()],
            participants: vec![wasap_plugin::events::ParticipantIds {
                jid: "628@s.whatsapp.net".into(),
                lid: Some("2515@lid".into()),
                phone: Some("628".into()),
            }],
            timestamp: 2,
        }));
    }
    for (change, text, enabled) in [
        (wasap_plugin::events::GroupUpdateKind::Subject, Some("Toko"), None),
        (wasap_plugin::events::GroupUpdateKind::Description, None, None),
        (wasap_plugin::events::GroupUpdateKind::Announce, None, Some(true)),
        (wasap_plugin::events::GroupUpdateKind::Locked, None, Some(false)),
        (wasap_plugin::events::GroupUpdateKind::Approval, None, Some(true)),
        (
            wasap_plugin::events::GroupUpdateKind::Photo,
            Some("1700000000000"),
            None,
        ),
        (wasap_plugin::events::GroupUpdateKind::InviteLink, None, None),
    ] {
        kinds.push(EventKind::GroupUpdate(wasap_plugin::events::GroupUpdate {
            group: "120363@g.us".into(),
            change,
            text: text.map(str::to_owned),
            enabled,
            author: enabled.map(|_| "628@s.whatsapp.net".to_owned()),
            timestamp: 2,
        }));
    }
    for (state, sender_lid) in [
        (wasap_plugin::events::ChatState::Typing, None),
        (wasap_plugin::events::ChatState::Recording, Some("2515@lid".to_owned())),
        (wasap_plugin::events::ChatState::Paused, None),
    ] {
        kinds.push(EventKind::ChatState(wasap_plugin::events::ChatStateChange {
            chat: "120363@g.us".into(),
            sender: "628@s.whatsapp.net".into(),
            sender_phone: sender_lid.as_ref().map(|_| "628".to_owned()),
            sender_lid,
            is_group: true,
            state,
            timestamp: 4,
        }));
    }
    // A vote, and a withdrawn one (nothing selected).
    for selected in [vec!["Rice".to_owned(), "Soup".to_owned()], Vec::new()] {
        kinds.push(EventKind::PollVote(wasap_plugin::events::PollVote {
            id: "3EB0VOTE".into(),
            poll_id: "3EB0POLL".into(),
            chat: "120363@g.us".into(),
            voter: "628@s.whatsapp.net".into(),
            voter_lid: Some("2515@lid".into()),
            voter_phone: None,
            push_name: Some("Budi".into()),
            is_group: true,
            timestamp: 5,
            totals: ["Rice", "Noodles", "Soup"]
                .into_iter()
                .map(|option| wasap_plugin::events::PollTotal {
                    option: option.into(),
                    votes: u32::from(selected.iter().any(|s| s == option)),
                })
                .collect(),
            selected,
        }));
    }
    // A call's offer, a miss and an end, each with every field.
    for (kind, reason) in [
        ("offer", None),
        ("missed", Some("timeout")),
        ("ended", Some("accepted_elsewhere")),
    ] {
        let call = wasap_plugin::events::Call {
            id: "CALL1".into(),
            from: "628@s.whatsapp.net".into(),
            from_lid: Some("2515@lid".into()),
            from_phone: Some("628".into()),
            group: reason.map(|_| "120363@g.us".to_owned()),
            is_video: reason.is_some(),
            is_group: reason.is_some(),
            timestamp: 6,
            reason: reason.map(str::to_owned),
            auto_rejected: reason.is_none(),
        };
        kinds.push(match kind {
            "offer" => EventKind::CallOffer(call),
            "missed" => EventKind::CallMissed(call),
            _ => EventKind::CallEnded(call),
        });
    }
    kinds.push(EventKind::Offline {
        status: InstanceStatus::Banned,
        offline_secs: 301,
        reason: Some("temporarily banned: 101".into()),
    });
    for reason in Undecryptable::REASONS {
        kinds.push(EventKind::MessageUndecryptable(Undecryptable {
            id: "3EB0".into(),
            chat: "120363@g.us".into(),
            sender: "628@s.whatsapp.net".into(),
            sender_lid: None,
            sender_phone: Some("628".into()),
            chat_lid: None,
            chat_phone: None,
            push_name: Some("Budi".into()),
            from_me: false,
            is_group: true,
            timestamp: 3,
            reason: reason.into(),
        }));
    }
    for content in all_contents() {
        kinds.push(EventKind::Message(message(content.clone(), true)));
        kinds.push(EventKind::Message(message(content, false)));
    }
    kinds
}

fn event(kind: EventKind) -> Event {
    Event {
        id: "evt-1".into(),
        instance_id: "main".into(),
        at_us: 1_765_202_224_147_255,
        kind,
    }
}

#[test]
fn every_event_kind_round_trips() {
    let kinds = all_kinds();
    let names: std::collections::BTreeSet<_> = kinds.iter().map(EventKind::name).collect();
    assert_eq!(names.len(), EventKind::NAMES.len(), "a kind is missing");

    for kind in kinds {
        let original = event(kind);
        let wit: w::Event = original.clone().into();
        let back: Event = wit.clone().into();
        assert_eq!(back, original);
        // And the other way: WIT -> model -> WIT.
        assert_eq!(w::Event::from(back), wit);
    }
}

#[test]
fn kinds_map_to_the_matching_wit_case() {
    let wit: w::Event = event(EventKind::StatusChanged {
        status: InstanceStatus::Online,
        previous: InstanceStatus::Connecting,
    })
    .into();
    assert_eq!(
        wit.kind,
        w::EventKind::InstanceStatus(w::StatusChange {
            status: w::InstanceStatus::Online,
            previous: w::InstanceStatus::Connecting,
        })
    );
    let wit: w::Content = Content::Text { text: "x".into() }.into();
    assert_eq!(wit, w::Content::Text("x".into()));
}

#[test]
fn outcomes_round_trip_with_replaced_events_and_actions() {
    let replaced = event(EventKind::Message(message(all_contents().remove(0), true)));
    for outcome in [
        Outcome::cont(),
        Outcome::drop(),
        Outcome::replace(replaced.clone())
            .send_text("628", "hi")
            .publish(wasap_plugin::Channel::Instance("main".into()), "{}")
            .webhook(wasap_plugin::WebhookRequest::json_to_subscribers(
                "gowa",
                "evt-1",
                b"{}".to_vec(),
            )),
        // The moderation actions, every participant change among them.
        Outcome::drop()
            .group_participants("120363402106000703@g.us", wasap_plugin::ParticipantChange::Add, ["628"])
            .group_participants("120363402106000703", wasap_plugin::ParticipantChange::Remove, ["628"])
            .group_participants(
                "120363402106000703@g.us",
                wasap_plugin::ParticipantChange::Promote,
                ["628", "629"],
            )
            .group_participants(
                "120363402106000703@g.us",
                wasap_plugin::ParticipantChange::Demote,
                ["628"],
            )
            .block("628")
            .unblock("628@s.whatsapp.net")
            .reject_call("CALL1", "628@s.whatsapp.net"),
    ] {
        let wit: w::Outcome = outcome.clone().into();
        assert_eq!(Outcome::from(wit), outcome);
    }
    let wit: w::Outcome = Outcome::replace(replaced.clone()).into();
    assert_eq!(wit.verdict, w::Verdict::Replace(replaced.into()));
    assert!(matches!(Outcome::drop().verdict, Verdict::Drop));
}
