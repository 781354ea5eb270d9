//! Sending: who a message goes to, whether they are on WhatsApp, and handing
//! it to the instance's live session.
//!
//! A recipient is a phone number (checked with WhatsApp before anything is
//! sent, the answer cached for a while) or a full JID (a contact, a group or
//! a LID, sent as given). Nothing reaches the engine for a recipient that is
//! malformed or not on WhatsApp.

pub mod actions;
pub mod media_kind;
pub mod outgoing_media;
mod recipient;
mod recipient_cache;
pub mod vcard;
pub mod voice_note;

use std::sync::Arc;

pub use actions::ActionError;
pub use recipient::{Recipient, RecipientError, normalize_phone};
use recipient_cache::RecipientCache;

use crate::engine::{ContactCard, EngineError, NumberCheck, OutgoingLocation, OutgoingMedia, SentMessage, Session};
use crate::instances::{InstanceError, InstanceManager};
use crate::metrics::Metrics;
use crate::store::Store;

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Recipient(#[from] RecipientError),
    #[error("{0} is not on WhatsApp")]
    NotOnWhatsapp(String),
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Sends messages on behalf of instances. Cheap to clone.
#[derive(Clone)]
pub struct Messenger {
    instances: InstanceManager,
    cache: Arc<RecipientCache>,
    /// Where sent messages are recorded, so actions can name them by id.
    store: Store,
    /// Counts what was sent, by instance and kind.
    metrics: Arc<Metrics>,
}

impl Messenger {
    pub fn new(instances: InstanceManager, store: Store, metrics: Arc<Metrics>) -> Messenger {
        Messenger {
            instances,
            cache: Arc::new(RecipientCache::default()),
            store,
            metrics,
        }
    }

    /// Sends a text (optionally quoting `reply_to`) from instance `id`.
    pub async fn send_text(
        &self,
        id: &str,
        to: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, SendError> {
        self.send_text_mentioning(id, to, text, reply_to, &[]).await
    }

    /// Sends a text (optionally quoting `reply_to`) that mentions the users
    /// `mentions` (phone numbers or user JIDs) from instance `id`.
    pub async fn send_text_mentioning(
        &self,
        id: &str,
        to: &str,
        text: &str,
        reply_to: Option<&str>,
        mentions: &[String],
    ) -> Result<SentMessage, SendError> {
        let mentions = mentions
            .iter()
            .map(|who| Recipient::parse(who)?.user_jid())
            .collect::<Result<Vec<_>, _>>()?;
        let (session, jid) = self.prepare(id, to).await?;
        let sent = session.send_text(&jid, text, reply_to, &mentions).await?;
        self.sent(id, "text", &sent).await;
        Ok(sent)
    }

    /// Sends a media message from instance `id`.
    pub async fn send_media(&self, id: &str, to: &str, media: OutgoingMedia) -> Result<SentMessage, SendError> {
        let (session, jid) = self.prepare(id, to).await?;
        let kind = media.kind.as_str();
        let sent = session.send_media(&jid, media).await?;
        self.sent(id, kind, &sent).await;
        Ok(sent)
    }

    /// Sends a location from instance `id`.
    pub async fn send_location(
        &self,
        id: &str,
        to: &str,
        location: OutgoingLocation,
    ) -> Result<SentMessage, SendError> {
        let (session, jid) = self.prepare(id, to).await?;
        let sent = session.send_location(&jid, location).await?;
        self.sent(id, "location", &sent).await;
        Ok(sent)
    }

    /// Sends contact cards, as one message, from instance `id`.
    pub async fn send_contacts(&self, id: &str, to: &str, cards: Vec<ContactCard>) -> Result<SentMessage, SendError> {
        let (session, jid) = self.prepare(id, to).await?;
        let sent = session.send_contacts(&jid, cards).await?;
        self.sent(id, "contact", &sent).await;
        Ok(sent)
    }

    /// Checks, without sending, what [`Messenger::send_media`] would check
    /// first: the instance is connected and the recipient valid and on
    /// WhatsApp. Routes call it before expensive work (fetching a `mediaUrl`)
    /// for a message that could not be sent anyway; the answer is cached, so
    /// the send that follows does not ask WhatsApp again.
    pub async fn check_sendable(&self, id: &str, to: &str) -> Result<(), SendError> {
        self.prepare(id, to).await.map(drop)
    }

    /// Whether `phone` is on WhatsApp, asked through instance `id`.
    pub async fn check(&self, id: &str, phone: &str) -> Result<NumberCheck, SendError> {
        let phone = normalize_phone(phone)?;
        let session = self.instances.session(id)?;
        self.lookup(session.as_ref(), &phone).await
    }

    /// The instance's session and the recipient's JID, once the recipient is
    /// known to be valid and on WhatsApp.
    async fn prepare(&self, id: &str, to: &str) -> Result<(Arc<dyn Session>, String), SendError> {
        let recipient = Recipient::parse(to)?;
        let session = self.instances.session(id)?;
        let jid = match recipient {
            Recipient::Jid(jid) => jid,
            Recipient::Phone(phone) => {
                let check = self.lookup(session.as_ref(), &phone).await?;
                match check.jid {
                    Some(jid) if check.on_whatsapp => jid,
                    _ => return Err(SendError::NotOnWhatsapp(phone)),
                }
            }
        };
        Ok((session, jid))
    }

    /// Counts a message WhatsApp took, and records it so that actions can
    /// name it by id. The message is out whatever the record's fate: a
    /// failed record is logged, not the send's failure.
    async fn sent(&self, id: &str, kind: &'static str, sent: &SentMessage) {
        self.metrics.message_sent(id, kind);
        if let Err(e) = self
            .store
            .record_sent(id, &sent.message_id, &sent.to, kind, sent.timestamp)
            .await
        {
            tracing::warn!(instance = %id, message_id = %sent.message_id, error = %e,
                "a sent message could not be recorded; actions on it will not find it");
        }
    }

    async fn lookup(&self, session: &dyn Session, phone: &str) -> Result<NumberCheck, SendError> {
        if let Some(known) = self.cache.get(phone) {
            return Ok(known);
        }
        let answer = session
            .check_numbers(&[phone.to_owned()])
            .await?
            .into_iter()
            .find(|check| check.phone == phone)
            .unwrap_or(NumberCheck {
                phone: phone.to_owned(),
                on_whatsapp: false,
                jid: None,
            });
        self.cache.put(answer.clone());
        Ok(answer)
    }
}
