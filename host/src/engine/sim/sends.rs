//! What the simulated network records for each kind of content a session
//! sends: one builder per kind, shared by the plain sends and by forwards
//! (which are the same content, flagged).

use sha2::{Digest, Sha256};

use super::incoming::new_message_id;
use super::network::{SentContact, SentLinkPreview, SentLocation, SentRecord};
use crate::engine::{
    ContactCard, ForwardedContent, MediaKind, OutgoingForward, OutgoingLocation, OutgoingMedia, OutgoingText,
};

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A text, with its quote, mentions and link preview.
pub(super) fn text(to: &str, text: OutgoingText) -> SentRecord {
    SentRecord {
        to: to.to_owned(),
        message_id: crate::engine::chosen_id::or_new(new_message_id),
        kind: "text",
        text: Some(text.text),
        reply_to: text.reply_to,
        mentions: Some(text.mentions).filter(|m| !m.is_empty()),
        link_preview: text.preview.map(|preview| SentLinkPreview {
            url: preview.url,
            title: preview.title,
            description: preview.description,
            thumbnail_sha256: preview.thumbnail.as_deref().map(sha256_hex),
        }),
        ..SentRecord::default()
    }
}

/// A media message; the file by its hash.
pub(super) fn media(to: &str, media: OutgoingMedia) -> SentRecord {
    SentRecord {
        to: to.to_owned(),
        message_id: crate::engine::chosen_id::or_new(new_message_id),
        // A voice note is an audio message flagged push-to-talk, as on WhatsApp.
        kind: match media.kind {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio | MediaKind::Voice => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        },
        caption: media.caption,
        media_sha256: Some(sha256_hex(&media.data)),
        mime_type: Some(media.mime_type),
        file_name: media.file_name,
        voice_note: (media.kind == MediaKind::Voice).then_some(true),
        seconds: media.seconds,
        view_once: media.view_once.then_some(true),
        mentions: Some(media.mentions).filter(|m| !m.is_empty()),
        ..SentRecord::default()
    }
}

pub(super) fn location(to: &str, location: OutgoingLocation) -> SentRecord {
    SentRecord {
        to: to.to_owned(),
        message_id: crate::engine::chosen_id::or_new(new_message_id),
        kind: "location",
        location: Some(SentLocation {
            latitude: location.latitude,
            longitude: location.longitude,
            name: location.name,
            address: location.address,
        }),
        ..SentRecord::default()
    }
}

pub(super) fn contacts(to: &str, cards: Vec<ContactCard>) -> SentRecord {
    SentRecord {
        to: to.to_owned(),
        message_id: crate::engine::chosen_id::or_new(new_message_id),
        kind: "contact",
        contacts: Some(
            cards
                .into_iter()
                .map(|card| SentContact {
                    display_name: card.display_name,
                    vcard: card.vcard,
                })
                .collect(),
        ),
        ..SentRecord::default()
    }
}

/// Forwarded content: recorded as its kind, flagged `forwarded`.
pub(super) fn forward(to: &str, forward: OutgoingForward) -> SentRecord {
    let record = match forward.content {
        ForwardedContent::Text(body) => text(to, OutgoingText::plain(body)),
        ForwardedContent::Media(file) => media(to, file),
        ForwardedContent::Location(place) => location(to, place),
        ForwardedContent::Contacts(cards) => contacts(to, cards),
    };
    SentRecord {
        forwarded: Some(true),
        ..record
    }
}
