//! whatsapp-rust's inbound events as our minimal [`InboundEvent`] model.
//!
//! Deliberately small: the text or caption of messages, the kind of message,
//! receipt types and ids, and group participant changes. Everything else
//! (protocol messages, other receipt kinds, group settings) is dropped here;
//! the full conversion grows in `events` later.
//!
//! JIDs are reported the way users address them: a contact's phone-number JID
//! where WhatsApp also gave one (LID-addressed chats carry it as the `alt`),
//! without the sending device's suffix.

use whatsapp_rust::Jid;
use whatsapp_rust::types::events::{GroupUpdate, InboundMessage, Receipt};
use whatsapp_rust::types::message::MessageSource;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::wacore::stanza::groups::GroupNotificationAction;
use whatsapp_rust::wacore::types::presence::ReceiptType as WaReceiptType;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::events::{GroupAction, InboundEvent, InboundKind, ReceiptType};

/// An incoming message, or `None` for the ones the model does not carry.
pub(super) fn message(inbound: &InboundMessage) -> Option<InboundEvent> {
    let info = &inbound.info;
    let base = inbound.message.get_base_message();
    let kind = message_kind(base)?;
    let text = inbound
        .message
        .text_content()
        .or_else(|| inbound.message.get_caption())
        .map(str::to_owned);
    let source = &info.source;
    Some(InboundEvent {
        message_id: info.id.to_string(),
        chat: chat_jid(source),
        sender: sender_jid(source),
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        from_me: source.is_from_me,
        is_group: source.is_group,
        timestamp: info.timestamp.timestamp(),
        kind: InboundKind::Message {
            message_kind: kind.to_owned(),
            text,
        },
    })
}

/// The kind name of a message's content; `None` for protocol traffic
/// (key shares, history sync notices, edits and revokes for now).
fn message_kind(message: &wa::Message) -> Option<&'static str> {
    let kind = if message.conversation.as_deref().is_some_and(|t| !t.is_empty())
        || message.extended_text_message.is_set()
    {
        "text"
    } else if message.image_message.is_set() {
        "image"
    } else if message.video_message.is_set() {
        "video"
    } else if message.audio_message.is_set() {
        "audio"
    } else if message.document_message.is_set() {
        "document"
    } else if message.sticker_message.is_set() {
        "sticker"
    } else if message.contact_message.is_set() || message.contacts_array_message.is_set() {
        "contact"
    } else if message.location_message.is_set() || message.live_location_message.is_set() {
        "location"
    } else if message.reaction_message.is_set() {
        "reaction"
    } else {
        return None;
    };
    Some(kind)
}

/// A delivery, read or played receipt for messages we sent.
pub(super) fn receipt(receipt: &Receipt) -> Option<InboundEvent> {
    let kind = match receipt.r#type {
        WaReceiptType::Delivered => ReceiptType::Delivered,
        WaReceiptType::Read => ReceiptType::Read,
        WaReceiptType::Played => ReceiptType::Played,
        // Our own devices' read marks, retries, server errors and the like
        // are not receipts for messages we sent.
        _ => return None,
    };
    let ids: Vec<String> = receipt.message_ids.iter().map(|id| id.to_string()).collect();
    let source = &receipt.source;
    Some(InboundEvent {
        message_id: ids.first()?.clone(),
        chat: chat_jid(source),
        sender: sender_jid(source),
        push_name: None,
        from_me: source.is_from_me,
        is_group: source.is_group,
        timestamp: receipt.timestamp.timestamp(),
        kind: InboundKind::Receipt { receipt: kind, ids },
    })
}

/// Participants joining, leaving, promoted or demoted in a group.
pub(super) fn group_update(update: &GroupUpdate) -> Option<InboundEvent> {
    let (action, participants) = match &update.action {
        GroupNotificationAction::Add { participants, .. } => (GroupAction::Join, participants),
        GroupNotificationAction::Remove { participants, .. } => (GroupAction::Leave, participants),
        GroupNotificationAction::Promote { participants } => (GroupAction::Promote, participants),
        GroupNotificationAction::Demote { participants } => (GroupAction::Demote, participants),
        _ => return None,
    };
    let jids = participants
        .iter()
        .map(|p| p.phone_number.as_ref().unwrap_or(&p.jid).to_non_ad().to_string())
        .collect();
    let group = update.group_jid.to_string();
    let actor = update.participant_pn.as_ref().or(update.participant.as_ref());
    Some(InboundEvent {
        message_id: update.notification_id.clone().unwrap_or_default(),
        sender: actor.map(|j| j.to_non_ad().to_string()).unwrap_or_else(|| group.clone()),
        chat: group,
        push_name: update.notify.clone().filter(|n| !n.is_empty()),
        from_me: false,
        is_group: true,
        timestamp: update.timestamp.timestamp(),
        kind: InboundKind::GroupParticipants { action, jids },
    })
}

/// The sender as users address it: the phone-number JID when WhatsApp gave
/// one alongside a LID, without the device suffix.
fn sender_jid(source: &MessageSource) -> String {
    prefer_phone(&source.sender, source.sender_alt.as_ref())
}

/// The chat; for a one-to-one chat with a LID-addressed contact, the
/// contact's phone-number JID when known.
fn chat_jid(source: &MessageSource) -> String {
    if !source.is_group && !source.is_from_me && source.chat.is_lid() {
        return prefer_phone(&source.chat, source.sender_alt.as_ref());
    }
    if !source.is_group && source.is_from_me && source.chat.is_lid() {
        return prefer_phone(&source.chat, source.recipient_alt.as_ref());
    }
    source.chat.to_non_ad().to_string()
}

fn prefer_phone(jid: &Jid, alt: Option<&Jid>) -> String {
    match alt {
        Some(alt) if jid.is_lid() && alt.is_pn() => alt.to_non_ad().to_string(),
        _ => jid.to_non_ad().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use whatsapp_rust::types::message::MessageInfo;
    use whatsapp_rust::wacore::chrono::DateTime;
    use whatsapp_rust::wacore::proto_helpers::MessageBuilderExt;

    use super::*;

    fn incoming(message: wa::Message, source: MessageSource) -> InboundMessage {
        InboundMessage::builder()
            .message(Arc::new(message))
            .info(Arc::new(MessageInfo {
                source,
                id: "3EB0AA".to_owned(),
                push_name: "Ann".to_owned(),
                timestamp: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
                ..Default::default()
            }))
            .build()
    }

    #[test]
    fn a_text_from_a_lid_contact_is_reported_by_phone_number() {
        let source = MessageSource {
            chat: Jid::lid("100000001"),
            sender: Jid::lid_device("100000001", 3),
            sender_alt: Some(Jid::pn("6281234567890")),
            ..Default::default()
        };
        let event = message(&incoming(wa::Message::text("hi"), source)).expect("a text is reported");
        assert_eq!(event.message_id, "3EB0AA");
        assert_eq!(event.chat, "6281234567890@s.whatsapp.net");
        assert_eq!(event.sender, "6281234567890@s.whatsapp.net");
        assert_eq!(event.push_name.as_deref(), Some("Ann"));
        assert_eq!(event.timestamp, 1_700_000_000);
        assert!(matches!(event.kind, InboundKind::Message { ref message_kind, text: Some(ref t) }
            if message_kind == "text" && t == "hi"));
    }

    #[test]
    fn an_image_carries_its_caption_and_protocol_messages_are_skipped() {
        let source = MessageSource {
            chat: Jid::group("120363402106000000"),
            sender: Jid::pn_device("6281234567890", 2),
            is_group: true,
            ..Default::default()
        };
        let image = wa::Message {
            image_message: whatsapp_rust::waproto::buffa::MessageField::some(wa::message::ImageMessage {
                caption: Some("look".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event = message(&incoming(image, source.clone())).expect("an image is reported");
        assert_eq!(event.chat, "120363402106000000@g.us");
        assert_eq!(event.sender, "6281234567890@s.whatsapp.net");
        assert!(event.is_group);
        assert!(matches!(event.kind, InboundKind::Message { ref message_kind, text: Some(ref t) }
            if message_kind == "image" && t == "look"));

        let protocol = wa::Message {
            protocol_message: whatsapp_rust::waproto::buffa::MessageField::some(Default::default()),
            ..Default::default()
        };
        assert!(message(&incoming(protocol, source)).is_none());
    }
}
