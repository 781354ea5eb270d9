//! Sending: who a message goes to, whether they are on WhatsApp, and handing
//! it to the instance's live session.
//!
//! A recipient is a phone number (checked with WhatsApp before anything is
//! sent, the answer cached for a while) or a full JID (a contact, a group or
//! a LID, sent as given). Nothing reaches the engine for a recipient that is
//! malformed or not on WhatsApp.

pub mod actions;
pub mod calls;
pub mod contacts;
pub mod forward;
pub mod groups;
pub mod lids;
pub mod link_preview;
pub mod media_kind;
pub mod mentions;
pub mod outgoing_media;
pub mod places_and_cards;
pub mod polls;
mod recipient;
mod recipient_cache;
pub mod recipient_check;
mod text_send;
pub mod vcard;
pub mod voice_note;

use std::sync::Arc;

pub use actions::ActionError;
pub use link_preview::PreviewRequest;
pub use mentions::Mentions;
pub use recipient::{Recipient, RecipientError, normalize_phone};
use recipient_cache::RecipientCache;
pub use text_send::{MAX_TEXT_BYTES, TextSend};

use crate::engine::{
    ContactCard, EngineError, NumberCheck, OutgoingLocation, OutgoingMedia, OutgoingText, SentMessage, Session,
};
use crate::instances::{InstanceError, InstanceManager};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::sent_content::ContentError;

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
    #[error("{0} is not a group JID (…@g.us); only a group's members can all be mentioned")]
    NotAGroup(String),
    #[error("this account is not in group {0} (or there is no such group)")]
    UnknownGroup(String),
    #[error("a message mentions at most {0} users")]
    TooManyMentions(usize),
    #[error(transparent)]
    Preview(#[from] link_preview::PreviewError),
    /// A direct send over the instance's pace, under `direct_sends: refuse`.
    #[error("the instance is over its pace; retry after {0} s")]
    Paced(u64),
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
    /// Where link previews are fetched and inbound media re-read for a
    /// forward; without it, previews are not fetched and media not forwarded.
    sources: Option<forward::Sources>,
    /// The send queue, whose pacing direct sends count against (or are
    /// refused by); without it, direct sends are not paced.
    queue: Option<crate::send_queue::SendQueue>,
}

impl Messenger {
    pub fn new(instances: InstanceManager, store: Store, metrics: Arc<Metrics>) -> Messenger {
        Messenger {
            instances,
            cache: Arc::new(RecipientCache::default()),
            store,
            metrics,
            sources: None,
            queue: None,
        }
    }

    /// The messenger, pacing direct sends with `queue`'s rules.
    pub fn with_queue(self, queue: crate::send_queue::SendQueue) -> Messenger {
        Messenger {
            queue: Some(queue),
            ..self
        }
    }

    /// Whether a direct send from instance `id` may go now. A send of the
    /// queue's own (it runs with a chosen message id) was paced already.
    async fn paced(&self, id: &str) -> Result<(), SendError> {
        let Some(queue) = &self.queue else { return Ok(()) };
        if crate::engine::chosen_id::chosen().is_some() {
            return Ok(());
        }
        match queue.direct_send_allowed(id).await {
            Err(crate::send_queue::QueueError::Paced(secs)) => Err(SendError::Paced(secs)),
            // The pace could not be read: the send is not held back for it.
            _ => Ok(()),
        }
    }

    /// Counts a direct send against instance `id`'s pace.
    fn count_direct(&self, id: &str) {
        if let Some(queue) = &self.queue
            && crate::engine::chosen_id::chosen().is_none()
        {
            queue.direct_sent(id);
        }
    }

    /// The messenger, fetching link previews with `fetcher` (under its
    /// outbound-URL policy) and forwarding inbound media from `media`.
    pub fn with_sources(self, fetcher: crate::outbound::Fetcher, media: crate::media::MediaStore) -> Messenger {
        Messenger {
            sources: Some(forward::Sources { fetcher, media }),
            ..self
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
        let text = TextSend {
            text: text.to_owned(),
            reply_to: reply_to.map(str::to_owned),
            mentions: Mentions::users(mentions),
            preview: None,
        };
        self.send_rich_text(id, to, text).await
    }

    /// Sends a text with everything it may carry (a quote, mentions or
    /// everyone in a group, a link preview given or fetched) from instance
    /// `id`. A preview to fetch that gives nothing usable is left out; the
    /// text goes anyway.
    pub async fn send_rich_text(&self, id: &str, to: &str, text: TextSend) -> Result<SentMessage, SendError> {
        self.paced(id).await?;
        let (session, jid) = self.prepare(id, to).await?;
        let mentions = self.mentioned(session.as_ref(), &jid, &text.mentions).await?;
        let preview = self.preview_for(&text.text, text.preview).await?;
        let outgoing = OutgoingText {
            text: text.text,
            reply_to: text.reply_to,
            mentions,
            preview,
        };
        let content = forward::SentContent::text(&outgoing.text);
        let sent = self.counted(id, session.send_text(&jid, outgoing).await)?;
        self.sent_with(id, "text", &sent, content).await;
        Ok(sent)
    }

    /// Sends a media message from instance `id`.
    pub async fn send_media(&self, id: &str, to: &str, media: OutgoingMedia) -> Result<SentMessage, SendError> {
        self.send_media_mentioning(id, to, media, &Mentions::default()).await
    }

    /// Sends a media message whose caption mentions `mentions` from instance `id`.
    pub async fn send_media_mentioning(
        &self,
        id: &str,
        to: &str,
        mut media: OutgoingMedia,
        mentions: &Mentions,
    ) -> Result<SentMessage, SendError> {
        self.paced(id).await?;
        let (session, jid) = self.prepare(id, to).await?;
        media.mentions = self.mentioned(session.as_ref(), &jid, mentions).await?;
        let kind = media.kind.as_str();
        let sent = self.counted(id, session.send_media(&jid, media).await)?;
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
        self.paced(id).await?;
        let (session, jid) = self.prepare(id, to).await?;
        let content = forward::SentContent::location(&location);
        let sent = self.counted(id, session.send_location(&jid, location).await)?;
        self.sent_with(id, "location", &sent, content).await;
        Ok(sent)
    }

    /// Sends contact cards, as one message, from instance `id`.
    pub async fn send_contacts(&self, id: &str, to: &str, cards: Vec<ContactCard>) -> Result<SentMessage, SendError> {
        self.paced(id).await?;
        let (session, jid) = self.prepare(id, to).await?;
        let content = forward::SentContent::contacts(&cards);
        let sent = self.counted(id, session.send_contacts(&jid, cards).await)?;
        self.sent_with(id, "contact", &sent, content).await;
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

    /// `result`, a send's, counted against instance `id`'s `send_failures`
    /// when it failed on the way to WhatsApp.
    fn counted<T>(&self, id: &str, result: Result<T, EngineError>) -> Result<T, EngineError> {
        if result.is_err() {
            self.instances.send_failed(id);
        }
        result
    }

    /// Counts a message WhatsApp took, and records it so that actions can
    /// name it by id. The message is out whatever the record's fate: a
    /// failed record is logged, not the send's failure.
    async fn sent(&self, id: &str, kind: &'static str, sent: &SentMessage) {
        self.sent_with(id, kind, sent, None).await;
    }

    /// [`sent`](Self::sent), keeping what the message said (`content`,
    /// when it can be forwarded later) with its record.
    async fn sent_with(&self, id: &str, kind: &'static str, sent: &SentMessage, content: Option<String>) {
        self.metrics.message_sent(id, kind);
        self.count_direct(id);
        let recorded = match content {
            Some(content) => {
                self.store
                    .record_sent_with_content(id, &sent.message_id, &sent.to, kind, sent.timestamp, &content)
                    .await
            }
            None => self
                .store
                .record_sent(id, &sent.message_id, &sent.to, kind, sent.timestamp)
                .await
                .map_err(ContentError::from),
        };
        match recorded {
            Ok(()) => {}
            Err(ContentError::TooLarge) => {
                tracing::warn!(instance = %id, message_id = %sent.message_id,
                    "what a sent message said is too large to keep; it cannot be forwarded");
            }
            Err(ContentError::Store(e)) => {
                tracing::warn!(instance = %id, message_id = %sent.message_id, error = %e,
                    "a sent message could not be recorded; actions on it will not find it");
            }
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
