//! Stable ids of inbound events: the same thing delivered twice is the same event.
//!
//! WhatsApp delivers again whatever it did not hear acknowledged, and the
//! journal keeps one entry per event id, so an inbound event's id is a digest
//! of its key rather than random: a message's is its key, (chat, sender,
//! message id), which stays the same on a redelivery even when fields derived
//! from the stanza do not; any other kind's is its whole content (a receipt's
//! chat, sender, type, time and ids; a group change's group, action, time and
//! members). The instance is part of it, so two instances that receive the
//! same group message have two events, each delivered to its own receivers.
//! Ids are 128 bits, hex, shaped like the random ids of other events.

use sha2::{Digest, Sha256};

use crate::events::EventKind;

/// The id of inbound event `kind` of `instance_id`.
pub(crate) fn event_id(instance_id: &str, kind: &EventKind) -> String {
    let mut digest = Sha256::new();
    // Each part with its length first, so no two lists of parts run together
    // into the same bytes.
    let mut part = |bytes: &[u8]| {
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(bytes);
    };
    part(instance_id.as_bytes());
    part(kind.name().as_bytes());
    match kind {
        EventKind::Message(message) => {
            part(message.chat.as_bytes());
            part(message.sender.as_bytes());
            part(message.id.as_bytes());
        }
        // Keyed like a message (its kind name, hashed above, keeps it apart from
        // the message a later successful decrypt of the same key delivers).
        EventKind::MessageUndecryptable(message) => {
            part(message.chat.as_bytes());
            part(message.sender.as_bytes());
            part(message.id.as_bytes());
        }
        // Keyed like a message too: a vote delivered again is the same event
        // even if the totals it carries (the votes tallied before it) differ.
        EventKind::PollVote(vote) => {
            part(vote.chat.as_bytes());
            part(vote.voter.as_bytes());
            part(vote.id.as_bytes());
        }
        // A call's offer, and what stopped it, by the call: an offer delivered
        // again is the same event whatever the instance's settings say now.
        EventKind::CallOffer(call) | EventKind::CallMissed(call) | EventKind::CallEnded(call) => {
            part(call.from.as_bytes());
            part(call.id.as_bytes());
        }
        // The canonical JSON of the kind is all of its content, in a fixed field order.
        other => part(&serde_json::to_vec(other).unwrap_or_default()),
    }
    hex::encode(&digest.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Content, Message, Receipt, ReceiptType};

    fn message(id: &str, chat: &str, text: &str) -> EventKind {
        EventKind::Message(Message {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: id.to_owned(),
            chat: chat.to_owned(),
            sender: chat.to_owned(),
            push_name: None,
            from_me: false,
            is_group: false,
            timestamp: 1,
            content: Content::Text { text: text.to_owned() },
            quoted: None,
            forwarded: false,
            view_once: false,
            ephemeral: None,
        })
    }

    #[test]
    fn a_message_is_known_by_its_key_and_instance() {
        let first = event_id("shop", &message("A1", "1@s.whatsapp.net", "hi"));
        assert_eq!(first.len(), 32);
        // Redelivered with a field derived differently: the same event.
        assert_eq!(first, event_id("shop", &message("A1", "1@s.whatsapp.net", "hi again")));
        assert_ne!(first, event_id("shop", &message("A2", "1@s.whatsapp.net", "hi")));
        assert_ne!(first, event_id("shop", &message("A1", "2@s.whatsapp.net", "hi")));
        assert_ne!(first, event_id("other", &message("A1", "1@s.whatsapp.net", "hi")));
    }

    #[test]
    fn a_receipt_is_known_by_its_content() {
        let receipt = |kind: ReceiptType, at: i64| {
            EventKind::Receipt(Receipt {
                sender_lid: None,
                sender_phone: None,
                chat: "1@s.whatsapp.net".to_owned(),
                sender: "1@s.whatsapp.net".to_owned(),
                ids: vec!["A1".to_owned()],
                receipt_type: kind,
                timestamp: at,
            })
        };
        let read = event_id("shop", &receipt(ReceiptType::Read, 5));
        assert_eq!(read, event_id("shop", &receipt(ReceiptType::Read, 5)));
        assert_ne!(read, event_id("shop", &receipt(ReceiptType::Delivered, 5)));
        assert_ne!(read, event_id("shop", &receipt(ReceiptType::Read, 6)));
    }
}
