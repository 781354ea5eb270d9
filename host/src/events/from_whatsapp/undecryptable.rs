//! whatsapp-rust's `Event::UndecryptableMessage` as a `message_undecryptable` event.
//!
//! whatsapp-rust emits it once per (chat, message id) when a message fails to decrypt
//! (before it sends the sender a retry receipt, `<receipt type="retry">`, and then the
//! transport ack), and for `<unavailable>` placeholders WhatsApp sends instead of content.
//! The envelope is converted exactly as a message's ([`super::message_parts`]), so the
//! chat, sender and push name of the two kinds of event agree.

use whatsapp_rust::types::events::{UnavailableType, UndecryptableMessage};

use super::{chat_jid, chat_names, sender_jid, sender_names};
use crate::events::{EventKind, Undecryptable};

/// The `message_undecryptable` event of `event`.
pub fn undecryptable(event: &UndecryptableMessage) -> EventKind {
    let info = &event.info;
    let source = &info.source;
    let (sender_lid, sender_phone) = sender_names(source);
    let (chat_lid, chat_phone) = chat_names(source);
    EventKind::MessageUndecryptable(Undecryptable {
        id: info.id.to_string(),
        chat: chat_jid(source),
        sender: sender_jid(source),
        sender_lid,
        sender_phone,
        chat_lid,
        chat_phone,
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        from_me: source.is_from_me,
        is_group: source.is_group,
        timestamp: info.timestamp.timestamp(),
        reason: reason(event).to_owned(),
    })
}

/// The machine-readable reason (one of [`Undecryptable::REASONS`]).
fn reason(event: &UndecryptableMessage) -> &'static str {
    if !event.is_unavailable {
        return Undecryptable::DECRYPTION_FAILED;
    }
    match event.unavailable_type {
        UnavailableType::ViewOnce => Undecryptable::UNAVAILABLE_VIEW_ONCE,
        UnavailableType::Hosted => Undecryptable::UNAVAILABLE_HOSTED,
        UnavailableType::Bot => Undecryptable::UNAVAILABLE_BOT,
        UnavailableType::Unknown => Undecryptable::UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use whatsapp_rust::Jid;
    use whatsapp_rust::types::events::DecryptFailMode;
    use whatsapp_rust::types::message::{MessageInfo, MessageSource};
    use whatsapp_rust::wacore::chrono::DateTime;

    use super::*;

    fn event(source: MessageSource, unavailable: Option<UnavailableType>) -> UndecryptableMessage {
        let info = MessageInfo {
            id: "3EB0AA".into(),
            source,
            push_name: "Budi".into(),
            timestamp: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            ..Default::default()
        };
        UndecryptableMessage::builder()
            .info(Arc::new(info))
            .is_unavailable(unavailable.is_some())
            .unavailable_type(unavailable.unwrap_or(UnavailableType::Unknown))
            .decrypt_fail_mode(DecryptFailMode::Show)
            .build()
    }

    #[test]
    fn a_lid_contacts_message_names_the_phone_number_like_a_message_does() {
        let source = MessageSource {
            chat: Jid::lid("100000000000001"),
            sender: Jid::lid_device("100000000000001", 3),
            sender_alt: Some(Jid::pn("6281234567890")),
            ..Default::default()
        };
        let EventKind::MessageUndecryptable(got) = undecryptable(&event(source, None)) else {
            panic!("not an undecryptable message");
        };
        assert_eq!(
            got,
            Undecryptable {
                sender_lid: Some("100000000000001@lid".into()),
                sender_phone: Some("6281234567890".into()),
                chat_lid: Some("100000000000001@lid".into()),
                chat_phone: Some("6281234567890".into()),
                id: "3EB0AA".into(),
                chat: "6281234567890@s.whatsapp.net".into(),
                sender: "6281234567890@s.whatsapp.net".into(),
                push_name: Some("Budi".into()),
                from_me: false,
                is_group: false,
                timestamp: 1_700_000_000,
                reason: "decryption_failed".into(),
            }
        );
    }

    #[test]
    fn placeholders_say_what_they_stand_for() {
        let reasons = [
            (UnavailableType::Unknown, "unavailable"),
            (UnavailableType::ViewOnce, "unavailable_view_once"),
            (UnavailableType::Hosted, "unavailable_hosted"),
            (UnavailableType::Bot, "unavailable_bot"),
        ];
        for (kind, expected) in reasons {
            let EventKind::MessageUndecryptable(got) = undecryptable(&event(MessageSource::default(), Some(kind)))
            else {
                panic!("not an undecryptable message");
            };
            assert_eq!(got.reason, expected);
        }
    }
}
