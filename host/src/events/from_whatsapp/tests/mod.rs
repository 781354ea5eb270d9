//! The conversion, checked field by field against whatsapp-rust events built from real
//! waproto messages. This file holds the builders and the envelope tests (ids, JIDs,
//! direction, replies); `kinds.rs` covers each kind of content, `events.rs` the
//! wrappers, receipts, group changes and delete-for-me.

mod events;
mod kinds;

use std::sync::Arc;

use whatsapp_rust::Jid;
use whatsapp_rust::types::events::{DeleteMessageForMeUpdate, GroupUpdate, InboundMessage, Receipt as WaReceipt};
use whatsapp_rust::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::wacore::chrono::DateTime;
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::wacore::types::presence::ReceiptType as WaReceiptType;
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::waproto::whatsapp::message::protocol_message::Type as ProtocolType;

use super::*;
use crate::events::{DisappearingMode, Ephemeral, Media, Quoted};

const CONTACT: &str = "6281234567890";
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";
const ME_JID: &str = "6289999999999@s.whatsapp.net";
const GROUP_JID: &str = "120363402106000000@g.us";
const AT: i64 = 1_700_000_000;

fn some<T: Default>(value: T) -> MessageField<T> {
    MessageField::some(value)
}

/// A contact writing to us in a direct chat, from their second device.
fn direct_in() -> MessageSource {
    MessageSource {
        chat: Jid::pn(CONTACT),
        sender: Jid::pn_device(CONTACT, 2),
        ..Default::default()
    }
}

/// A contact writing in a group.
fn group_in() -> MessageSource {
    MessageSource {
        chat: Jid::group("120363402106000000"),
        sender: Jid::pn_device(CONTACT, 2),
        is_group: true,
        ..Default::default()
    }
}

/// Us writing to the contact from the phone.
fn direct_out() -> MessageSource {
    MessageSource {
        chat: Jid::pn(CONTACT),
        sender: Jid::pn("6289999999999"),
        is_from_me: true,
        ..Default::default()
    }
}

fn inbound(message: wa::Message, source: MessageSource) -> InboundMessage {
    InboundMessage::builder()
        .message(Arc::new(message))
        .info(Arc::new(MessageInfo {
            source,
            id: "3EB0AA".to_owned(),
            push_name: "Ann".to_owned(),
            timestamp: DateTime::from_timestamp(AT, 0).unwrap_or_default(),
            ..Default::default()
        }))
        .build()
}

/// Converts and expects a message.
fn convert(message: wa::Message, source: MessageSource) -> (Message, Option<WaMedia>) {
    let converted = super::message(&inbound(message, source)).expect("the message is converted");
    match converted.kind {
        EventKind::Message(message) => (message, converted.media),
        other => panic!("not a message: {other:?}"),
    }
}

fn text(text: &str) -> wa::Message {
    wa::Message {
        conversation: Some(text.to_owned()),
        ..Default::default()
    }
}

fn image(caption: &str) -> wa::message::ImageMessage {
    wa::message::ImageMessage {
        mimetype: Some("image/png".to_owned()),
        caption: Some(caption.to_owned()),
        file_length: Some(1234),
        file_sha256: Some(vec![0xab, 0xcd, 0xef]),
        direct_path: Some("/v/t62/abc".to_owned()),
        media_key: Some(vec![1; 32]),
        ..Default::default()
    }
}

fn future_proof(message: wa::Message) -> MessageField<wa::message::FutureProofMessage> {
    some(wa::message::FutureProofMessage { message: some(message) })
}

fn key(id: &str, from_me: bool) -> MessageField<wa::MessageKey> {
    some(wa::MessageKey {
        remote_jid: Some(CONTACT_JID.to_owned()),
        from_me: Some(from_me),
        id: Some(id.to_owned()),
        ..Default::default()
    })
}

/// What a media message converts to before its file is downloaded: the
/// announced size, no hash yet.
fn media_of(mime: &str, caption: Option<&str>, file_name: Option<&str>, size: u64) -> Media {
    Media {
        mime_type: mime.to_owned(),
        caption: caption.map(str::to_owned),
        file_name: file_name.map(str::to_owned),
        media_path: None,
        size: Some(size),
        sha256_hex: None,
        download_error: None,
    }
}

#[test]
fn a_direct_text_carries_the_whole_envelope() {
    let (message, media) = convert(text("hi"), direct_in());
    assert_eq!(
        message,
        Message {
            sender_lid: None,
            sender_phone: Some(CONTACT.to_owned()),
            chat_lid: None,
            chat_phone: Some(CONTACT.to_owned()),
            id: "3EB0AA".to_owned(),
            chat: CONTACT_JID.to_owned(),
            sender: CONTACT_JID.to_owned(),
            push_name: Some("Ann".to_owned()),
            from_me: false,
            is_group: false,
            timestamp: AT,
            content: Content::Text { text: "hi".to_owned() },
            quoted: None,
            forwarded: false,
            view_once: false,
            ephemeral: None,
        }
    );
    assert!(media.is_none());
}

#[test]
fn an_extended_text_in_a_group_names_group_and_participant() {
    let message = wa::Message {
        extended_text_message: some(wa::message::ExtendedTextMessage {
            text: Some("see https://example.org".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (message, _) = convert(message, group_in());
    assert_eq!(message.chat, GROUP_JID);
    assert_eq!(message.sender, CONTACT_JID);
    assert!(message.is_group);
    assert!(!message.from_me);
    assert_eq!(
        message.content,
        Content::Text {
            text: "see https://example.org".to_owned()
        }
    );
}

#[test]
fn a_text_from_me_is_from_me() {
    let (message, _) = convert(text("sent from the phone"), direct_out());
    assert!(message.from_me);
    assert_eq!(message.chat, CONTACT_JID);
    assert_eq!(message.sender, ME_JID);
}

#[test]
fn a_lid_contact_is_reported_by_phone_number() {
    let source = MessageSource {
        chat: Jid::lid("100000001"),
        sender: Jid::lid_device("100000001", 3),
        sender_alt: Some(Jid::pn(CONTACT)),
        ..Default::default()
    };
    let (message, _) = convert(text("hi"), source);
    assert_eq!(message.chat, CONTACT_JID);
    assert_eq!(message.sender, CONTACT_JID);
}

#[test]
fn a_reply_names_the_quoted_id_and_text() {
    let message = wa::Message {
        extended_text_message: some(wa::message::ExtendedTextMessage {
            text: Some("yes".to_owned()),
            context_info: some(wa::ContextInfo {
                stanza_id: Some("QUOTED1".to_owned()),
                participant: Some(ME_JID.to_owned()),
                quoted_message: some(text("coffee?")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (message, _) = convert(message, direct_in());
    assert_eq!(message.content, Content::Text { text: "yes".to_owned() });
    assert_eq!(
        message.quoted,
        Some(Quoted {
            id: "QUOTED1".to_owned(),
            text: "coffee?".to_owned()
        })
    );
}
