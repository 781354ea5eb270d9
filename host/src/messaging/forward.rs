//! Forwarding a message by its id: its content sent again to another chat,
//! marked as forwarded (WhatsApp's "Forwarded" label, with a forwarding
//! score as phones keep it).
//!
//! What can be forwarded:
//! - a message that came in, found in the journal: a text, a location, a
//!   contact card, or media whose file wasap stored (`/statics/media`),
//!   uploaded anew;
//! - a text, location or contact message this server sent: what it said is
//!   kept with its record ([`SentContent`], capped by
//!   [`crate::store::sent_content::MAX_SENT_CONTENT_BYTES`]). The file of
//!   media this server sent is not kept, so that media cannot be forwarded.
//!
//! Everything else (reactions, edits, revocations, polls...) is refused.

use serde::{Deserialize, Serialize};
use wasap_events::Content;

use super::{Messenger, SendError};
use crate::engine::{
    ContactCard, ForwardedContent, MediaKind, OutgoingForward, OutgoingLocation, OutgoingMedia, SentMessage,
};
use crate::media::MediaStore;
use crate::outbound::Fetcher;
use crate::store::StoreError;

/// Where the Messenger reaches beyond WhatsApp: the web, for link previews,
/// and the stored inbound media, for forwards.
#[derive(Clone)]
pub(super) struct Sources {
    pub fetcher: Fetcher,
    pub media: MediaStore,
}

/// Why a message was not forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no message {0} is known to this instance (sent or received within the journal's retention)")]
    UnknownMessage(String),
    #[error("message {id} is a {kind} message, which cannot be forwarded")]
    NotForwardable { id: String, kind: String },
    #[error("what message {0} said was not kept (media this server sent, or a message too large to keep)")]
    ContentNotKept(String),
    #[error("the file of message {0} is not stored (its download failed, or the media retention removed it)")]
    MediaNotStored(String),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("cannot look the message up: {0}")]
    Store(#[from] StoreError),
}

impl From<crate::instances::InstanceError> for ForwardError {
    fn from(e: crate::instances::InstanceError) -> ForwardError {
        ForwardError::Send(e.into())
    }
}

impl From<crate::engine::EngineError> for ForwardError {
    fn from(e: crate::engine::EngineError) -> ForwardError {
        ForwardError::Send(e.into())
    }
}

/// What a sent message said, as kept with its record (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum SentContent {
    Text {
        text: String,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Contacts {
        cards: Vec<KeptCard>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct KeptCard {
    display_name: String,
    vcard: String,
}

impl SentContent {
    fn json(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }

    pub(super) fn text(text: &str) -> Option<String> {
        SentContent::Text { text: text.to_owned() }.json()
    }

    pub(super) fn location(location: &OutgoingLocation) -> Option<String> {
        SentContent::Location {
            latitude: location.latitude,
            longitude: location.longitude,
            name: location.name.clone(),
            address: location.address.clone(),
        }
        .json()
    }

    pub(super) fn contacts(cards: &[ContactCard]) -> Option<String> {
        let cards = cards
            .iter()
            .map(|c| KeptCard {
                display_name: c.display_name.clone(),
                vcard: c.vcard.clone(),
            })
            .collect();
        SentContent::Contacts { cards }.json()
    }

    fn into_forwarded(self) -> ForwardedContent {
        match self {
            SentContent::Text { text } => ForwardedContent::Text(text),
            SentContent::Location {
                latitude,
                longitude,
                name,
                address,
            } => ForwardedContent::Location(OutgoingLocation {
                latitude,
                longitude,
                name,
                address,
            }),
            SentContent::Contacts { cards } => ForwardedContent::Contacts(
                cards
                    .into_iter()
                    .map(|c| ContactCard {
                        display_name: c.display_name,
                        vcard: c.vcard,
                    })
                    .collect(),
            ),
        }
    }
}

/// The kinds this server keeps what it sent of.
const KEPT_KINDS: &[&str] = &["text", "location", "contact"];

impl Messenger {
    /// Forwards message `message_id` (sent or received by instance `id`) to
    /// `to` (a phone number or a JID).
    pub async fn forward(&self, id: &str, message_id: &str, to: &str) -> Result<SentMessage, ForwardError> {
        // The instance first: an unknown instance is its 404, not the message's.
        self.instances.session(id)?;
        let known = self
            .store
            .find_message(id, message_id)
            .await?
            .ok_or_else(|| ForwardError::UnknownMessage(message_id.to_owned()))?;
        let (content, score) = if known.from_me && known.sender.is_none() {
            (self.own_content(id, &known.id, &known.kind).await?, 1)
        } else {
            let message = self
                .store
                .journalled_message(id, message_id)
                .await?
                .ok_or_else(|| ForwardError::UnknownMessage(message_id.to_owned()))?;
            // Forwarded again: past the first forward, as phones count.
            let score = if message.forwarded { 2 } else { 1 };
            (self.received_content(&message.id, message.content).await?, score)
        };
        let kept = match &content {
            ForwardedContent::Text(text) => SentContent::text(text),
            ForwardedContent::Location(place) => SentContent::location(place),
            ForwardedContent::Contacts(cards) => SentContent::contacts(cards),
            ForwardedContent::Media(_) => None,
        };
        let kind = content.kind();
        let (session, jid) = self.prepare(id, to).await?;
        let sent = self.counted(id, session.forward(&jid, OutgoingForward { content, score }).await)?;
        self.sent_with(id, kind, &sent, kept).await;
        Ok(sent)
    }

    /// What a message this server sent said.
    async fn own_content(&self, id: &str, message_id: &str, kind: &str) -> Result<ForwardedContent, ForwardError> {
        if !KEPT_KINDS.contains(&kind) {
            return Err(if kind_is_media(kind) {
                ForwardError::ContentNotKept(message_id.to_owned())
            } else {
                ForwardError::NotForwardable {
                    id: message_id.to_owned(),
                    kind: kind.to_owned(),
                }
            });
        }
        let kept = self.store.sent_content(id, message_id).await?;
        kept.and_then(|json| serde_json::from_str::<SentContent>(&json).ok())
            .map(SentContent::into_forwarded)
            .ok_or_else(|| ForwardError::ContentNotKept(message_id.to_owned()))
    }

    /// What a message that came in carries, its media file read back.
    async fn received_content(&self, message_id: &str, content: Content) -> Result<ForwardedContent, ForwardError> {
        let kind = match &content {
            Content::Image(_) => MediaKind::Image,
            Content::Video(_) => MediaKind::Video,
            Content::Audio(_) => MediaKind::Audio,
            Content::Document(_) => MediaKind::Document,
            Content::Sticker(_) => MediaKind::Sticker,
            Content::Text { text } => return Ok(ForwardedContent::Text(text.clone())),
            Content::Location {
                latitude,
                longitude,
                name,
                address,
                ..
            } => {
                return Ok(ForwardedContent::Location(OutgoingLocation {
                    latitude: *latitude,
                    longitude: *longitude,
                    name: name.clone(),
                    address: address.clone(),
                }));
            }
            Content::Contact { display_name, vcard } => {
                return Ok(ForwardedContent::Contacts(vec![ContactCard {
                    display_name: display_name.clone(),
                    vcard: vcard.clone(),
                }]));
            }
            other => {
                return Err(ForwardError::NotForwardable {
                    id: message_id.to_owned(),
                    kind: other.name().to_owned(),
                });
            }
        };
        let media = content.media().cloned().unwrap_or_default();
        let not_stored = || ForwardError::MediaNotStored(message_id.to_owned());
        let file = media
            .media_path
            .as_deref()
            .and_then(|path| path.rsplit('/').next())
            .ok_or_else(not_stored)?;
        let path = self
            .sources
            .as_ref()
            .and_then(|sources| sources.media.path_of(file))
            .ok_or_else(not_stored)?;
        let data = tokio::fs::read(&path).await.map_err(|_| not_stored())?;
        Ok(ForwardedContent::Media(OutgoingMedia {
            kind,
            data: data.into(),
            mime_type: media.mime_type,
            file_name: media.file_name,
            caption: media.caption,
            mentions: Vec::new(),
            view_once: false,
            seconds: None,
        }))
    }
}

fn kind_is_media(kind: &str) -> bool {
    matches!(kind, "image" | "video" | "audio" | "document" | "sticker" | "voice")
}
