//! The WhatsApp messages for the seam's non-media sends (texts with their
//! context, locations, contact cards) and the context every content kind can
//! carry: mentions and the forwarded flag. Media messages are made in
//! `media_message.rs`; both put their context where [`context_mut`] finds it.

use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::engine::{ContactCard, LinkPreview, OutgoingLocation, OutgoingText};

/// A text message: a bare conversation when it carries nothing else (as
/// WhatsApp Web sends one), an extended text once it quotes, mentions or
/// shows a link preview.
pub(super) fn text_message(text: OutgoingText) -> wa::Message {
    if !text.is_extended() {
        return wa::Message {
            conversation: Some(text.text),
            ..Default::default()
        };
    }
    let context = wa::ContextInfo {
        mentioned_jid: text.mentions,
        ..text.reply_to.as_deref().map(quote).unwrap_or_default()
    };
    let mut extended = wa::message::ExtendedTextMessage {
        text: Some(text.text),
        context_info: MessageField::some(context),
        ..Default::default()
    };
    if let Some(preview) = text.preview {
        with_preview(&mut extended, preview);
    }
    wa::Message {
        extended_text_message: MessageField::some(extended),
        ..Default::default()
    }
}

/// A link's card, the way phones attach it: the link as matched in the text,
/// its page's title and description, and an inline JPEG thumbnail.
fn with_preview(extended: &mut wa::message::ExtendedTextMessage, preview: LinkPreview) {
    extended.matched_text = Some(preview.url);
    extended.title = preview.title;
    extended.description = preview.description;
    extended.preview_type = Some(wa::message::extended_text_message::PreviewType::NONE);
    extended.jpeg_thumbnail = preview.thumbnail.map(|t| t.to_vec());
}

/// The minimal quote: the quoted message's id, which is how WhatsApp links a
/// reply to its original.
pub(super) fn quote(message_id: &str) -> wa::ContextInfo {
    wa::ContextInfo {
        stanza_id: Some(message_id.to_owned()),
        ..Default::default()
    }
}

/// A pin on the map.
pub(super) fn location_message(location: OutgoingLocation) -> wa::Message {
    wa::Message {
        location_message: MessageField::some(wa::message::LocationMessage {
            degrees_latitude: Some(location.latitude),
            degrees_longitude: Some(location.longitude),
            name: location.name,
            address: location.address,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One card is a contact message; several, as WhatsApp sends a shared
/// list, one contacts-array message named by its count.
pub(super) fn contacts_message(cards: Vec<ContactCard>) -> wa::Message {
    let card = |card: ContactCard| wa::message::ContactMessage {
        display_name: Some(card.display_name),
        vcard: Some(card.vcard),
        ..Default::default()
    };
    if cards.len() == 1 {
        let only = cards.into_iter().next().map(card);
        wa::Message {
            contact_message: only.map(MessageField::some).unwrap_or_default(),
            ..Default::default()
        }
    } else {
        wa::Message {
            contacts_array_message: MessageField::some(wa::message::ContactsArrayMessage {
                display_name: Some(format!("{} contacts", cards.len())),
                contacts: cards.into_iter().map(card).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// The context of the content `message` carries (created if missing), for
/// every kind wasap sends; `None` for a bare conversation, which has none.
pub(super) fn context_mut(message: &mut wa::Message) -> Option<&mut wa::ContextInfo> {
    macro_rules! context_of {
        ($($field:ident),+) => {$(
            if let Some(content) = message.$field.as_option_mut() {
                return Some(content.context_info.get_or_insert_default());
            }
        )+};
    }
    context_of!(
        extended_text_message,
        image_message,
        video_message,
        audio_message,
        document_message,
        sticker_message,
        location_message,
        contact_message,
        contacts_array_message
    );
    None
}

/// Marks `message` as forwarded `score` times, as phones do (a bare
/// conversation becomes an extended text, which can carry the flag).
pub(super) fn mark_forwarded(message: &mut wa::Message, score: u32) {
    if let Some(text) = message.conversation.take() {
        message.extended_text_message = MessageField::some(wa::message::ExtendedTextMessage {
            text: Some(text),
            ..Default::default()
        });
    }
    if let Some(context) = context_mut(message) {
        context.is_forwarded = Some(true);
        context.forwarding_score = Some(score);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_text_is_a_conversation_and_a_preview_makes_it_extended() {
        assert_eq!(
            text_message(OutgoingText::plain("hi")).conversation.as_deref(),
            Some("hi")
        );
        let message = text_message(OutgoingText {
            text: "see https://example.test/a".to_owned(),
            preview: Some(LinkPreview {
                url: "https://example.test/a".to_owned(),
                title: Some("A".to_owned()),
                description: None,
                thumbnail: Some(bytes::Bytes::from_static(&[0xFF, 0xD8, 0xFF])),
            }),
            ..OutgoingText::default()
        });
        let extended = message.extended_text_message.as_option().expect("extended");
        assert_eq!(extended.matched_text.as_deref(), Some("https://example.test/a"));
        assert_eq!(extended.title.as_deref(), Some("A"));
        assert_eq!(extended.jpeg_thumbnail.as_deref(), Some(&[0xFF, 0xD8, 0xFF][..]));
    }

    #[test]
    fn a_forward_carries_its_flag_and_score_on_any_kind() {
        let mut text = text_message(OutgoingText::plain("hi"));
        mark_forwarded(&mut text, 1);
        let context = text
            .extended_text_message
            .as_option()
            .and_then(|t| t.context_info.as_option())
            .expect("a context");
        assert_eq!((context.is_forwarded, context.forwarding_score), (Some(true), Some(1)));
        assert_eq!(text.conversation, None);

        let mut place = location_message(OutgoingLocation {
            latitude: 1.0,
            longitude: 2.0,
            name: None,
            address: None,
        });
        mark_forwarded(&mut place, 2);
        let context = place
            .location_message
            .as_option()
            .and_then(|l| l.context_info.as_option())
            .expect("a context");
        assert_eq!(context.forwarding_score, Some(2));
    }
}
