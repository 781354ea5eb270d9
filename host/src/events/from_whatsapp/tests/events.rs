//! Wrappers (view-once, ephemeral, device-sent), forwarding, receipts, group changes and
//! delete-for-me.

use super::*;

#[test]
fn every_view_once_wrapper_is_removed_and_flagged() {
    let wrap = |variant: u8| {
        let inner = wa::Message {
            image_message: some(image("once")),
            ..Default::default()
        };
        match variant {
            0 => wa::Message {
                view_once_message: future_proof(inner),
                ..Default::default()
            },
            1 => wa::Message {
                view_once_message_v2: future_proof(inner),
                ..Default::default()
            },
            _ => wa::Message {
                view_once_message_v2_extension: future_proof(inner),
                ..Default::default()
            },
        }
    };
    for variant in 0..3 {
        let (converted, media) = convert(wrap(variant), direct_in());
        assert!(converted.view_once, "variant {variant}");
        assert_eq!(converted.text_or_caption(), Some("once"));
        assert!(matches!(media, Some(WaMedia::Image(_))));
    }
    let (plain, _) = convert(text("hi"), direct_in());
    assert!(!plain.view_once);
}

#[test]
fn a_forwarded_message_is_marked() {
    let message = wa::Message {
        image_message: some(wa::message::ImageMessage {
            context_info: some(wa::ContextInfo {
                is_forwarded: Some(true),
                forwarding_score: Some(1),
                ..Default::default()
            }),
            ..image("fwd")
        }),
        ..Default::default()
    };
    let (converted, _) = convert(message, direct_in());
    assert!(converted.forwarded);
    assert!(converted.quoted.is_none());
}

#[test]
fn the_ephemeral_wrapper_is_removed_and_its_setting_kept() {
    let message = wa::Message {
        ephemeral_message: future_proof(wa::Message {
            extended_text_message: some(wa::message::ExtendedTextMessage {
                text: Some("vanishing".to_owned()),
                context_info: some(wa::ContextInfo {
                    expiration: Some(7_776_000),
                    ephemeral_setting_timestamp: Some(1_690_000_000),
                    disappearing_mode: some(wa::DisappearingMode {
                        initiator: Some(wa::disappearing_mode::Initiator::INITIATED_BY_OTHER),
                        trigger: Some(wa::disappearing_mode::Trigger::CHAT_SETTING),
                        initiated_by_me: Some(false),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (converted, _) = convert(message, direct_in());
    assert_eq!(
        converted.content,
        Content::Text {
            text: "vanishing".to_owned()
        }
    );
    assert_eq!(
        converted.ephemeral,
        Some(Ephemeral {
            expiration: 7_776_000,
            setting_timestamp: 1_690_000_000,
            disappearing_mode: Some(DisappearingMode {
                initiator: 2,
                trigger: 1,
                initiated_by_me: false
            }),
        })
    );
}

#[test]
fn the_device_sent_wrapper_is_removed_and_the_lid_chat_resolved() {
    let message = wa::Message {
        device_sent_message: some(wa::message::DeviceSentMessage {
            destination_jid: Some(CONTACT_JID.to_owned()),
            message: some(wa::Message {
                ephemeral_message: future_proof(text("from my phone")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let source = MessageSource {
        chat: Jid::lid("100000001"),
        sender: Jid::lid_device("200000002", 0),
        sender_alt: Some(Jid::pn("6289999999999")),
        recipient_alt: Some(Jid::pn(CONTACT)),
        is_from_me: true,
        ..Default::default()
    };
    let (converted, _) = convert(message, source);
    assert_eq!(
        converted.content,
        Content::Text {
            text: "from my phone".to_owned()
        }
    );
    assert!(converted.from_me);
    assert_eq!(converted.chat, CONTACT_JID);
    assert_eq!(converted.sender, ME_JID);
}

/// A receipt for messages M1, M2 and M3 as a phone sends it (the first as the stanza's id,
/// the others listed), its ids read by whatsapp-rust's own parser.
fn receipt_of(kind: WaReceiptType, source: MessageSource) -> Option<EventKind> {
    use whatsapp_rust::wacore_binary::builder::NodeBuilder;
    let stanza = NodeBuilder::new("receipt")
        .attr("id", "M1")
        .children([NodeBuilder::new("list")
            .children(["M2", "M3"].map(|id| NodeBuilder::new("item").attr("id", id).build()))
            .build()])
        .build();
    let ids = whatsapp_rust::wacore::stanza::receipt::collect_simple_message_ids(&stanza.as_node_ref(), "M1", false);
    receipt(
        &WaReceipt::builder()
            .source(source)
            .message_ids(ids)
            .timestamp(DateTime::from_timestamp(AT, 0).unwrap_or_default())
            .r#type(kind)
            .offline(false)
            .build(),
    )
}

#[test]
fn receipts_are_delivered_read_or_played_with_their_ids_in_the_phones_order() {
    for (kind, expected) in [
        (WaReceiptType::Delivered, ReceiptType::Delivered),
        (WaReceiptType::Read, ReceiptType::Read),
        (WaReceiptType::Played, ReceiptType::Played),
    ] {
        assert_eq!(
            receipt_of(kind, group_in()),
            Some(EventKind::Receipt(Receipt {
                sender_lid: None,
                sender_phone: Some(CONTACT.to_owned()),
                chat: GROUP_JID.to_owned(),
                sender: CONTACT_JID.to_owned(),
                ids: vec!["M1".to_owned(), "M2".to_owned(), "M3".to_owned()],
                receipt_type: expected,
                timestamp: AT,
            }))
        );
    }
    let direct = receipt_of(WaReceiptType::Read, direct_in());
    assert!(matches!(direct, Some(EventKind::Receipt(r)) if r.chat == CONTACT_JID && r.sender == CONTACT_JID));
    // Our own devices' read marks are not receipts for messages we sent.
    assert!(receipt_of(WaReceiptType::ReadSelf, direct_in()).is_none());
}

fn participant(lid: &str, phone: Option<&str>) -> GroupParticipantInfo {
    GroupParticipantInfo {
        jid: Jid::lid(lid),
        phone_number: phone.map(Jid::pn),
        display_name: None,
        r#type: None,
        lid: None,
        username: None,
        join_time: None,
        group_history_sent_state: None,
    }
}

#[test]
fn group_participants_join_leave_promote_and_demote() {
    let people = || vec![participant("100000001", Some(CONTACT)), participant("100000002", None)];
    let actions = [
        (
            GroupNotificationAction::Add {
                participants: people(),
                reason: None,
            },
            GroupAction::Join,
        ),
        (
            GroupNotificationAction::Remove {
                participants: people(),
                reason: None,
            },
            GroupAction::Leave,
        ),
        (
            GroupNotificationAction::Promote { participants: people() },
            GroupAction::Promote,
        ),
        (
            GroupNotificationAction::Demote { participants: people() },
            GroupAction::Demote,
        ),
    ];
    for (wa_action, action) in actions {
        let update = GroupUpdate::builder()
            .group_jid(Jid::group("120363402106000000"))
            .participant(Jid::lid("100000009"))
            .timestamp(DateTime::from_timestamp(AT, 0).unwrap_or_default())
            .is_lid_addressing_mode(true)
            .action(wa_action)
            .build();
        assert_eq!(
            group_update(&update),
            Some(EventKind::GroupParticipants(GroupParticipants {
                participants: vec![
                    ParticipantIds {
                        jid: CONTACT_JID.to_owned(),
                        lid: Some("100000001@lid".to_owned()),
                        phone: Some(CONTACT.to_owned()),
                    },
                    ParticipantIds {
                        jid: "100000002@lid".to_owned(),
                        lid: Some("100000002@lid".to_owned()),
                        phone: None,
                    },
                ],
                group: GROUP_JID.to_owned(),
                action,
                jids: vec![CONTACT_JID.to_owned(), "100000002@lid".to_owned()],
                timestamp: AT,
            }))
        );
    }
    let subject = GroupUpdate::builder()
        .group_jid(Jid::group("120363402106000000"))
        .timestamp(DateTime::from_timestamp(AT, 0).unwrap_or_default())
        .is_lid_addressing_mode(false)
        .action(GroupNotificationAction::Subject {
            subject: "new name".to_owned(),
            subject_owner: None,
            subject_time: None,
        })
        .build();
    // Not a participant change: a subject change is a `group_update` of its own.
    assert_eq!(
        group_update(&subject),
        Some(EventKind::GroupUpdate(crate::events::GroupUpdate {
            group: GROUP_JID.to_owned(),
            change: crate::events::GroupUpdateKind::Subject,
            text: Some("new name".to_owned()),
            enabled: None,
            author: None,
            timestamp: AT,
        }))
    );
}

fn delete_for_me(full_sync: bool) -> DeleteMessageForMeUpdate {
    DeleteMessageForMeUpdate::builder()
        .chat_jid(Jid::group("120363402106000000"))
        .message_id("OLD1".to_owned())
        .from_me(false)
        .timestamp(DateTime::from_timestamp(AT, 0).unwrap_or_default())
        .action(Box::new(wa::sync_action_value::DeleteMessageForMeAction {
            delete_media: Some(true),
            message_timestamp: Some(AT - 60),
        }))
        .from_full_sync(full_sync)
        .build()
}

#[test]
fn a_delete_for_me_names_the_target_and_is_authored_by_this_account() {
    assert_eq!(
        deleted_for_me(&delete_for_me(false), ME_JID),
        Some(EventKind::Message(Message {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: "OLD1".to_owned(),
            chat: GROUP_JID.to_owned(),
            sender: ME_JID.to_owned(),
            push_name: None,
            from_me: true,
            is_group: true,
            timestamp: AT,
            content: Content::DeletedForMe {
                target_id: "OLD1".to_owned(),
                target_from_me: false
            },
            quoted: None,
            forwarded: false,
            view_once: false,
            ephemeral: None,
        }))
    );
    // A full app-state sync replays old deletions: history, not news.
    assert!(deleted_for_me(&delete_for_me(true), ME_JID).is_none());
}
