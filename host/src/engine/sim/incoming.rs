//! What the simulated phone sends: the body of `POST /sim/instances/{id}/incoming`
//! (docs/API.md) turned into the canonical event a real WhatsApp message of that
//! kind becomes, media included.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use rand::Rng;
use serde::Deserialize;

use super::network::SimError;
use crate::engine::{EngineError, InboundEvent, MediaFetch};
use crate::events::{Content, Ephemeral, EventKind, Media, Message, Quoted, Undecryptable};

/// A message from a contact, as the sim route receives it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimIncoming {
    /// The contact: a phone number or a JID.
    pub from: String,
    pub push_name: Option<String>,
    /// The group the message is in; `from` is then the participant.
    pub group: Option<String>,
    pub id: Option<String>,
    /// `text` (the default), `image`, ..., `delete_for_me`, or `undecryptable`: a
    /// message the engine cannot decrypt (a `message_undecryptable` event).
    pub kind: Option<String>,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub reply_to: Option<SimReply>,
    pub media: Option<SimMedia>,
    pub contact: Option<SimContactCard>,
    pub location: Option<SimLocation>,
    pub reaction: Option<SimReaction>,
    /// The message revoked, edited or deleted.
    pub target_id: Option<String>,
    #[serde(default)]
    pub view_once: bool,
    #[serde(default)]
    pub forwarded: bool,
    /// For `delete_for_me`: whether the deleted message was the instance's own.
    #[serde(default)]
    pub from_me: bool,
    /// The chat's disappearing-messages timer, as a message in such a chat carries it.
    pub ephemeral: Option<SimEphemeral>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimEphemeral {
    /// Seconds a message lives.
    pub expiration: u32,
    /// When the timer was set (unix seconds).
    #[serde(default)]
    pub setting_timestamp: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimReply {
    pub id: String,
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimMedia {
    pub base64: String,
    pub mime_type: String,
    pub file_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimContactCard {
    pub display_name: String,
    pub vcard: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimLocation {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimReaction {
    pub emoji: String,
    pub target_id: String,
}

/// Kinds the simulated phone can send (docs/API.md).
pub const KINDS: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "contact",
    "location",
    "reaction",
    "revoke",
    "edit",
    "delete_for_me",
    "undecryptable",
];

impl SimIncoming {
    /// The canonical event; `chat` and `sender` are already JIDs (for a
    /// `delete_for_me`, the sender is the instance itself, as on WhatsApp:
    /// the account deleted the message on another of its devices).
    pub fn into_event(self, chat: String, sender: String) -> Result<(String, InboundEvent), SimError> {
        let kind = self.kind.as_deref().unwrap_or("text");
        if kind == "undecryptable" {
            return Ok(self.undecryptable(chat, sender));
        }
        let missing = |what: &str| SimError::Invalid(format!("kind {kind:?} needs {what}"));
        let mut fetch: Option<Arc<dyn MediaFetch>> = None;
        let mut media = |caption: Option<String>| -> Result<Media, SimError> {
            let source = self.media.as_ref().ok_or_else(|| missing("media"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(source.base64.trim())
                .map_err(|e| SimError::Invalid(format!("media.base64 is not base64: {e}")))?;
            let size = bytes.len() as u64;
            fetch = Some(Arc::new(SimMediaBytes(bytes::Bytes::from(bytes))));
            Ok(Media {
                mime_type: source.mime_type.clone(),
                caption,
                file_name: source.file_name.clone(),
                media_path: None,
                size: Some(size),
                sha256_hex: None,
                download_error: None,
            })
        };
        let caption = self.caption.clone().or(self.text.clone());
        let target = || self.target_id.clone().ok_or_else(|| missing("target_id"));
        let content = match kind {
            "text" => Content::Text {
                text: self.text.clone().ok_or_else(|| missing("text"))?,
            },
            "image" => Content::Image(media(caption)?),
            "video" => Content::Video(media(caption)?),
            "audio" => Content::Audio(media(caption)?),
            "document" => Content::Document(media(caption)?),
            "sticker" => Content::Sticker(media(None)?),
            "contact" => {
                let card = self.contact.as_ref().ok_or_else(|| missing("contact"))?;
                Content::Contact {
                    display_name: card.display_name.clone(),
                    vcard: card.vcard.clone(),
                }
            }
            "location" => {
                let place = self.location.as_ref().ok_or_else(|| missing("location"))?;
                if !(-90.0..=90.0).contains(&place.latitude) || !(-180.0..=180.0).contains(&place.longitude) {
                    return Err(SimError::Invalid("latitude or longitude out of range".to_owned()));
                }
                Content::Location {
                    latitude: place.latitude,
                    longitude: place.longitude,
                    name: place.name.clone(),
                    address: place.address.clone(),
                    thumbnail_base64: None,
                }
            }
            "reaction" => {
                let reaction = self.reaction.as_ref().ok_or_else(|| missing("reaction"))?;
                Content::Reaction {
                    emoji: reaction.emoji.clone(),
                    target_id: reaction.target_id.clone(),
                }
            }
            "revoke" => Content::Revoked {
                target_id: target()?,
                target_chat: chat.clone(),
                target_from_me: self.from_me,
            },
            "edit" => Content::Edited {
                target_id: target()?,
                text: self.text.clone().ok_or_else(|| missing("text"))?,
            },
            "delete_for_me" => Content::DeletedForMe {
                target_id: target()?,
                target_from_me: self.from_me,
            },
            other => {
                return Err(SimError::Invalid(format!(
                    "unknown message kind {other:?}; one of {}",
                    KINDS.join(", ")
                )));
            }
        };
        // A deletion for me is the account's own act, and has no message id of
        // its own: its envelope carries the deleted message's (as the real
        // engine reports it, events/from_whatsapp).
        let deleted_for_me = matches!(content, Content::DeletedForMe { .. });
        let id = match &content {
            Content::DeletedForMe { target_id, .. } => target_id.clone(),
            _ => self.id.clone().unwrap_or_else(new_message_id),
        };
        let message = Message {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: id.clone(),
            is_group: chat.ends_with("@g.us"),
            chat,
            sender,
            push_name: self.push_name.clone(),
            from_me: self.from_me || deleted_for_me,
            timestamp: crate::clock::now_secs(),
            content,
            quoted: self.reply_to.as_ref().map(|reply| Quoted {
                id: reply.id.clone(),
                text: reply.text.clone(),
            }),
            forwarded: self.forwarded,
            view_once: self.view_once,
            ephemeral: self.ephemeral.as_ref().map(|e| Ephemeral {
                expiration: e.expiration,
                setting_timestamp: e.setting_timestamp,
                disappearing_mode: None,
            }),
        };
        Ok((
            id,
            InboundEvent {
                kind: EventKind::Message(message),
                media: fetch,
            },
        ))
    }
}

impl SimIncoming {
    /// A message the engine could not decrypt: what the real engine reports
    /// when a contact's ciphertext fails to decrypt (and it asks for a retry).
    fn undecryptable(self, chat: String, sender: String) -> (String, InboundEvent) {
        let id = self.id.unwrap_or_else(new_message_id);
        let message = Undecryptable {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: id.clone(),
            is_group: chat.ends_with("@g.us"),
            chat,
            sender,
            push_name: self.push_name,
            from_me: false,
            timestamp: crate::clock::now_secs(),
            reason: Undecryptable::DECRYPTION_FAILED.to_owned(),
        };
        let event = InboundEvent {
            kind: EventKind::MessageUndecryptable(message),
            media: None,
        };
        (id, event)
    }
}

/// Media the simulated phone sent inline: "downloading" it is handing it over.
struct SimMediaBytes(bytes::Bytes);

/// The media of a simulated message again, from its [`MediaFetch::ticket`].
pub(super) fn media_from_ticket(ticket: bytes::Bytes) -> Arc<dyn MediaFetch> {
    Arc::new(SimMediaBytes(ticket))
}

#[async_trait]
impl MediaFetch for SimMediaBytes {
    async fn fetch(&self, max_bytes: u64) -> Result<bytes::Bytes, EngineError> {
        if self.0.len() as u64 > max_bytes {
            return Err(EngineError::MediaTooLarge { limit: max_bytes });
        }
        Ok(self.0.clone())
    }

    fn ticket(&self) -> Option<bytes::Bytes> {
        Some(self.0.clone())
    }
}

/// A message id in WhatsApp Web's style (`3EB0` and 16 hex digits).
pub fn new_message_id() -> String {
    format!("3EB0{:016X}", rand::rng().random::<u64>())
}
