//! Messages: what a chat message carries, whatever its kind.
//!
//! Reactions, edits, revocations and deletions are messages too (WhatsApp sends them as
//! protocol messages with their own id), so they share [`Message`]'s envelope and differ
//! only in [`Content`].

use serde::{Deserialize, Serialize};

/// A message that reached the instance (or was sent by it from another device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// WhatsApp's id of this message (for a reaction or edit: of the reaction or edit itself).
    pub id: String,
    /// The chat's JID: the contact's (`...@s.whatsapp.net`) or the group's (`...@g.us`).
    pub chat: String,
    /// The author's JID: the contact, or the participant in a group; their phone-number
    /// JID when known, else their LID (`...@lid`).
    pub sender: String,
    /// The author's LID (`...@lid`), when known: from the stanza, or from the LID and
    /// phone-number pairs the instance has learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_lid: Option<String>,
    /// The author's phone number (international form without `+`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_phone: Option<String>,
    /// In a one-to-one chat, the contact's LID, when known; `None` in groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_lid: Option<String>,
    /// In a one-to-one chat, the contact's phone number, when known; `None` in groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_phone: Option<String>,
    /// The author's display name, when WhatsApp sent one.
    pub push_name: Option<String>,
    /// Sent by this account (from the phone or another linked device).
    pub from_me: bool,
    /// The chat is a group.
    pub is_group: bool,
    /// When WhatsApp stamped the message, unix seconds.
    pub timestamp: i64,
    /// What the message says or carries.
    pub content: Content,
    /// The message this one replies to.
    pub quoted: Option<Quoted>,
    /// WhatsApp marked the message as forwarded.
    pub forwarded: bool,
    /// View-once media: the recipient can open it once.
    pub view_once: bool,
    /// The chat's disappearing-messages setting, when the message carries it.
    pub ephemeral: Option<Ephemeral>,
}

impl Message {
    /// The text a human would read as the message: the text, the new text of an edit, or the
    /// caption of media. `None` for content without words (reactions, locations, contacts...).
    pub fn text_or_caption(&self) -> Option<&str> {
        match &self.content {
            Content::Text { text } | Content::Edited { text, .. } => Some(text),
            _ => self.content.media().and_then(|media| media.caption.as_deref()),
        }
    }

    /// The id of the earlier message this one acts on (reaction, revocation, edit, deletion).
    pub fn target_id(&self) -> Option<&str> {
        match &self.content {
            Content::Reaction { target_id, .. }
            | Content::Revoked { target_id, .. }
            | Content::Edited { target_id, .. }
            | Content::DeletedForMe { target_id, .. } => Some(target_id),
            _ => None,
        }
    }
}

/// What a message carries. The serde tag is [`Content::name`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Plain or extended text (extended text is text with a link preview or a reply).
    Text {
        text: String,
    },
    Image(Media),
    Video(Media),
    /// Audio, including voice notes.
    Audio(Media),
    Document(Media),
    Sticker(Media),
    /// A shared contact card.
    Contact {
        display_name: String,
        /// The vCard text (`BEGIN:VCARD...END:VCARD`).
        vcard: String,
    },
    /// A shared location.
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
        /// The map thumbnail WhatsApp attaches, base64 JPEG.
        thumbnail_base64: Option<String>,
    },
    /// A reaction to an earlier message; an empty `emoji` withdraws the reaction.
    Reaction {
        emoji: String,
        target_id: String,
    },
    /// An earlier message was deleted for everyone.
    Revoked {
        target_id: String,
        /// The chat the revoked message was in (a JID).
        target_chat: String,
        /// The revoked message had been sent by this account.
        target_from_me: bool,
    },
    /// An earlier message was edited; `text` is its new text.
    Edited {
        target_id: String,
        text: String,
    },
    /// An earlier message was deleted on this account only ("delete for me", synced from
    /// another device). The envelope's `sender` is this account.
    DeletedForMe {
        target_id: String,
        /// The deleted message had been sent by this account.
        target_from_me: bool,
    },
}

impl Content {
    /// The stable snake_case name of the content kind (`text`, `image`, `revoked`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::Image(_) => "image",
            Content::Video(_) => "video",
            Content::Audio(_) => "audio",
            Content::Document(_) => "document",
            Content::Sticker(_) => "sticker",
            Content::Contact { .. } => "contact",
            Content::Location { .. } => "location",
            Content::Reaction { .. } => "reaction",
            Content::Revoked { .. } => "revoked",
            Content::Edited { .. } => "edited",
            Content::DeletedForMe { .. } => "deleted_for_me",
        }
    }

    /// The media, for image, video, audio, document and sticker content.
    pub fn media(&self) -> Option<&Media> {
        match self {
            Content::Image(media)
            | Content::Video(media)
            | Content::Audio(media)
            | Content::Document(media)
            | Content::Sticker(media) => Some(media),
            _ => None,
        }
    }

    /// The media, mutable: where the host records the stored file (or why it
    /// could not be stored) after downloading it.
    pub fn media_mut(&mut self) -> Option<&mut Media> {
        match self {
            Content::Image(media)
            | Content::Video(media)
            | Content::Audio(media)
            | Content::Document(media)
            | Content::Sticker(media) => Some(media),
            _ => None,
        }
    }
}

/// A media attachment and where its downloaded copy lives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Media {
    pub mime_type: String,
    pub caption: Option<String>,
    /// The file name the sender gave (documents usually have one).
    pub file_name: Option<String>,
    /// `statics/media/<file>` once downloaded: the path the server serves it under.
    pub media_path: Option<String>,
    /// Size in bytes, as WhatsApp announced it.
    pub size: Option<u64>,
    /// SHA-256 of the decrypted file, lowercase hex.
    pub sha256_hex: Option<String>,
    /// Why the download failed. A failed download still delivers the event, so that
    /// receivers learn a message arrived even when its media could not be fetched.
    pub download_error: Option<String>,
}

/// The message a reply quotes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quoted {
    pub id: String,
    /// The quoted message's text or caption; empty when it had none.
    pub text: String,
}

/// A chat's disappearing-messages setting as a message carries it (WhatsApp's `contextInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ephemeral {
    /// How long messages live, in seconds (e.g. 7776000 for 90 days).
    pub expiration: u32,
    /// When the setting was last changed, unix seconds.
    pub setting_timestamp: i64,
    /// Who turned the setting on and how, when WhatsApp says.
    pub disappearing_mode: Option<DisappearingMode>,
}

/// Who and what turned disappearing messages on. `initiator` and `trigger` are WhatsApp's
/// protocol enum values, kept as numbers so values we do not know yet survive unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisappearingMode {
    /// 0 changed in chat, 1 initiated by me, 2 initiated by other, ...
    pub initiator: u32,
    /// 0 unknown, 1 chat setting, 2 account setting, 3 bulk change, ...
    pub trigger: u32,
    pub initiated_by_me: bool,
}
