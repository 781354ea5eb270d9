//! The WhatsApp seam: what the rest of the host asks of a WhatsApp connection.
//!
//! An [`Engine`] opens one [`Session`] per instance. A session is one
//! connection attempt's worth of life: it reports what happens on it (QR codes,
//! pairing, connected, dropped, logged out, inbound traffic) as
//! [`EngineEvent`]s on the channel it was given, and carries out requests
//! (send, act on earlier messages, check numbers, presence, pair code,
//! logout). When a session drops,
//! it does not reconnect by itself: the instance supervisor decides when to
//! open the next one, so the reconnect policy lives in one place for every
//! engine.
//!
//! Two engines implement this: `whatsapp` (whatsapp-rust, the real network)
//! and `sim` (a simulated network in the process, for tests and demos).
//! Nothing above this module knows which one is running.

mod actions;
pub mod address_book;
pub mod chosen_id;
mod contacts;
mod forward;
mod group_admin;
mod groups;
pub mod lids;
mod outgoing_text;
mod places_and_cards;
mod polls;
pub mod sim;
pub mod whatsapp;

pub use actions::{ChatState, MessageRef};
pub use address_book::{AddressBook, SyncedContact};
pub use contacts::{BlockedContact, ContactProfile, OwnProfile, PrivacyCategory, PrivacySetting, ProfilePicture};
pub use forward::{ForwardedContent, OutgoingForward};
pub use group_admin::{
    GroupAdmin, GroupChange, InvitePreview, JoinRequest, Joined, ParticipantAction, ParticipantResult, RequestAction,
};
pub use groups::{GroupInfo, GroupParticipant, GroupSettings};
pub use outgoing_text::{LinkPreview, OutgoingText};
pub use places_and_cards::{ContactCard, OutgoingLocation};
pub use polls::OutgoingPoll;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::events::EventKind;
use crate::store::{DeviceBackend, StoreError};

/// Which engine the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// The real WhatsApp network, through whatsapp-rust.
    Whatsapp,
    /// A simulated network inside the process, driven by the `/sim/` routes.
    Sim,
}

/// Everything an engine needs to open a session for one instance.
pub struct SessionRequest {
    pub instance_id: String,
    /// The instance's device store: keys and protocol state live here, so a
    /// paired device reconnects after a restart without a new QR.
    pub device: DeviceBackend,
    /// Where the session reports what happens on it. Bounded: a session that
    /// outpaces its supervisor waits instead of growing a queue.
    pub events: mpsc::Sender<EngineEvent>,
    /// Where the session hands inbound traffic (messages, receipts, group
    /// events): the instance's inbound journal. A session acknowledges an
    /// event to WhatsApp only once [`InboundSink::accept`] has returned `Ok`
    /// for it, so an event is never lost between the socket and the journal.
    pub inbound: Arc<dyn InboundSink>,
    /// The instance's polls: the session records those it sends, and reads
    /// and tallies their votes through it.
    pub polls: crate::polls::PollBook,
    /// The instance's contact list, as WhatsApp's contact sync teaches it
    /// (names from the account's address book): not a public event.
    pub address_book: Arc<dyn AddressBook>,
}

/// The instance's inbound journal as a session sees it: the one way inbound
/// traffic enters the server, for every engine.
#[async_trait]
pub trait InboundSink: Send + Sync {
    /// Journals `events`, in order, and returns once they are durable: the
    /// session may acknowledge them now. A write that fails (disk full,
    /// database down) is retried with backoff meanwhile, so a caller may wait
    /// long; that wait is the back-pressure on the engine. An event already
    /// journalled (WhatsApp delivered it again) is accepted without a second
    /// entry. `Err` only when the instance's pipeline is gone (the server is
    /// stopping, or the instance was deleted): do not acknowledge then.
    async fn accept(&self, events: Vec<InboundEvent>) -> Result<(), InboundClosed>;

    /// Hands over an event that is not journalled: a contact's chat state
    /// (typing, recording, paused). WhatsApp does not acknowledge those, gives
    /// them no id, and sends them often; a "typing…" is stale seconds later,
    /// so replaying one after a restart would tell a lie. It is published at
    /// once, with a fresh event id, to the plugins and the outputs, and never
    /// replayed; an instance whose pipeline has stopped drops it. May wait
    /// while the plugins' queue is full. No default: a sink that wraps
    /// another must pass these on too.
    async fn pass_on(&self, kind: EventKind);

    /// The engine now holds `change` more (or, negative, fewer) inbound
    /// events in memory on their way to [`accept`](Self::accept): counted in
    /// `/metrics` with what the pipeline holds.
    fn holding(&self, _change: isize) {}
}

/// [`InboundSink::accept`] could not journal the events: the instance's
/// pipeline has stopped. WhatsApp keeps them and delivers them again.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the instance's inbound pipeline has stopped")]
pub struct InboundClosed;

/// Opens sessions. One engine serves every instance of the server.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Starts a session for one instance and returns at once; progress
    /// (QR codes, connected, ...) arrives as events.
    async fn open(&self, request: SessionRequest) -> Result<Arc<dyn Session>, EngineError>;

    /// The instance was deleted: drop anything kept about it.
    fn forget(&self, _instance_id: &str) {}

    /// A fetcher of incoming media from its [`MediaFetch::ticket`]: the
    /// download of a journalled message that a restart cut short resumes
    /// with it. `None` when the ticket is not this engine's.
    fn media_from_ticket(&self, _instance_id: &str, _ticket: bytes::Bytes) -> Option<Arc<dyn MediaFetch>> {
        None
    }
}

/// One instance's live connection; it manages groups too ([`GroupAdmin`]).
#[async_trait]
pub trait Session: GroupAdmin + Send + Sync {
    /// Asks for a code to link by phone number instead of QR (`XXXX-XXXX`).
    async fn pair_code(&self, phone: &str) -> Result<String, EngineError>;

    /// Sends a text message to a JID, with what rides in its context (a
    /// quote, mentions, a link preview).
    async fn send_text(&self, to: &str, text: OutgoingText) -> Result<SentMessage, EngineError>;

    /// Sends an image, video, audio or document to a JID.
    async fn send_media(&self, to: &str, media: OutgoingMedia) -> Result<SentMessage, EngineError>;

    /// Sends a location to a JID.
    async fn send_location(&self, to: &str, location: OutgoingLocation) -> Result<SentMessage, EngineError>;

    /// Sends one or several contact cards, as one message, to a JID.
    async fn send_contacts(&self, to: &str, cards: Vec<ContactCard>) -> Result<SentMessage, EngineError>;

    /// Sends a poll to a JID, and records it in the session's
    /// [`PollBook`](crate::polls::PollBook) so its votes can be read.
    async fn send_poll(&self, to: &str, poll: OutgoingPoll) -> Result<SentMessage, EngineError>;

    /// Sends earlier content again to a JID, marked as forwarded.
    async fn forward(&self, to: &str, forward: OutgoingForward) -> Result<SentMessage, EngineError>;

    /// The group `group` (a `…@g.us` JID) as WhatsApp describes it to this
    /// account; `None` when there is no such group or the account is not in it.
    async fn group_info(&self, group: &str) -> Result<Option<GroupInfo>, EngineError>;

    /// Contact `jid`'s profile (picture, about); `None` when the number has
    /// no WhatsApp account.
    async fn contact_profile(&self, jid: &str) -> Result<Option<ContactProfile>, EngineError>;

    /// Blocks (`blocked`) or unblocks the contact `jid`.
    async fn set_blocked(&self, jid: &str, blocked: bool) -> Result<(), EngineError>;

    /// The contacts this account has blocked.
    async fn blocklist(&self) -> Result<Vec<BlockedContact>, EngineError>;

    /// The account's own push name, about and photo.
    async fn own_profile(&self) -> Result<OwnProfile, EngineError>;

    /// Changes the account's push name (the name its messages carry).
    async fn set_push_name(&self, name: &str) -> Result<(), EngineError>;

    /// Changes the account's about text.
    async fn set_about(&self, about: &str) -> Result<(), EngineError>;

    /// Sets the account's photo to `jpeg`, or removes it (`None`); the new
    /// picture's id.
    async fn set_profile_photo(&self, jpeg: Option<bytes::Bytes>) -> Result<Option<String>, EngineError>;

    /// The account's privacy settings, as WhatsApp has them.
    async fn privacy(&self) -> Result<Vec<PrivacySetting>, EngineError>;

    /// Sets one privacy setting to `value` (one of `category.values()`).
    async fn set_privacy(&self, category: PrivacyCategory, value: &str) -> Result<(), EngineError>;

    /// Reacts to `target` with `emoji`; an empty `emoji` withdraws the reaction.
    async fn react(&self, target: &MessageRef, emoji: &str) -> Result<SentMessage, EngineError>;

    /// Replaces the text of `target`, a text this account sent.
    async fn edit_text(&self, target: &MessageRef, text: &str) -> Result<SentMessage, EngineError>;

    /// Deletes `target` for everyone in its chat: a message this account
    /// sent, or, in a group where the account is an admin, another member's
    /// (`target.sender`, named to WhatsApp as an admin's revocation).
    async fn revoke(&self, target: &MessageRef) -> Result<SentMessage, EngineError>;

    /// Deletes `target` (sent at `sent_at`, unix seconds) for this account
    /// only: gone from its own devices, still there for the others.
    async fn delete_for_me(&self, target: &MessageRef, sent_at: i64) -> Result<(), EngineError>;

    /// Tells the senders of `messages` (all in one chat, none sent by this
    /// account) that they were read.
    async fn mark_read(&self, messages: &[MessageRef]) -> Result<(), EngineError>;

    /// Shows `state` (typing, recording, paused) in the chat with `to`.
    async fn chat_state(&self, to: &str, state: ChatState) -> Result<(), EngineError>;

    /// Asks WhatsApp which of these phone numbers (digits only) have an account.
    async fn check_numbers(&self, phones: &[String]) -> Result<Vec<NumberCheck>, EngineError>;

    /// Both names (LID and phone number) of each account in `names`, in
    /// order, as far as this instance has learnt them; `None` for one it
    /// knows nothing about. Asks nobody (see [`lids`]).
    async fn lid_pairs(&self, names: &[lids::AccountName]) -> Result<Vec<Option<lids::LidPair>>, EngineError>;

    /// Announces the device as available (the presence heartbeat).
    async fn announce_available(&self) -> Result<(), EngineError>;

    /// Rejects the call `call_id` that `from` (the caller's JID, as its
    /// `call_offer` event named it) is making to this account: the caller
    /// sees it declined. `CallNotFound` when no such call is ringing.
    async fn reject_call(&self, call_id: &str, from: &str) -> Result<(), EngineError>;

    /// When the connection last heard from WhatsApp (any stanza, an answer to
    /// a keepalive ping included), unix milliseconds; `None` before it heard
    /// anything. The instance's watchdog reconnects a connection that has
    /// been silent for too long.
    fn last_heard_ms(&self) -> Option<i64>;

    /// A round trip to WhatsApp (a keepalive ping): answered, it is a sign of
    /// life ([`last_heard_ms`](Self::last_heard_ms) moves); the watchdog asks
    /// for one before it calls a quiet connection deaf.
    async fn ping(&self) -> Result<(), EngineError>;

    /// Unlinks this device from the account. The session then reports `LoggedOut`.
    async fn logout(&self) -> Result<(), EngineError>;

    /// Closes the connection after flushing its state. No event follows.
    async fn close(&self);
}

/// What a session reports about its connection, in the order it happens.
/// Inbound traffic does not come this way: it goes to [`SessionRequest::inbound`].
#[derive(Debug, Clone)]
pub enum EngineEvent {
    /// A QR code to scan with the phone; the next one replaces it after `valid_for`.
    Qr { code: String, valid_for: Duration },
    /// The phone accepted the link: the device now belongs to `jid`.
    Paired { jid: String, push_name: Option<String> },
    /// The connection is up and logged in as `jid`.
    Connected { jid: String, push_name: Option<String> },
    /// The connection dropped; the device is still linked.
    Disconnected { reason: String },
    /// The device was unlinked (from the phone, by the server, or by `logout`):
    /// its keys are void and it must pair again.
    LoggedOut { reason: String },
    /// Another client took over this device's connection.
    StreamReplaced,
    /// The account is temporarily banned from connecting.
    TemporaryBan { reason: String, expires_in: Duration },
    /// WhatsApp refuses this client version.
    ClientOutdated,
}

/// Something that arrived from WhatsApp: a message, receipt or group event in
/// the canonical model, and, for a media message, how to fetch its file. Its
/// event id is derived from its key (`instances::inbound` owns that), so the
/// same message delivered twice is the same event.
#[derive(Clone)]
pub struct InboundEvent {
    /// `EventKind::Message`, `Receipt` or `GroupParticipants`.
    pub kind: EventKind,
    /// The media of a message, still to be downloaded (through the engine,
    /// which holds the keys) before the event is published.
    pub media: Option<Arc<dyn MediaFetch>>,
}

impl std::fmt::Debug for InboundEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundEvent")
            .field("kind", &self.kind)
            .field("media", &self.media.is_some())
            .finish()
    }
}

/// Fetches one incoming media file.
#[async_trait]
pub trait MediaFetch: Send + Sync {
    /// The file's bytes; refused with `MediaTooLarge` past `max_bytes`.
    async fn fetch(&self, max_bytes: u64) -> Result<bytes::Bytes, EngineError>;

    /// What the engine needs to fetch the file again later, as bytes that
    /// can be stored (the sim engine's simulated server keeps it with the
    /// message it has not had acknowledged); `None` when it cannot be kept.
    fn ticket(&self) -> Option<bytes::Bytes> {
        None
    }
}

/// A message the engine accepted for sending.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub message_id: String,
    /// The recipient's JID as WhatsApp addressed it.
    pub to: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// The recipient's LID (`…@lid`), when WhatsApp has told it.
    pub lid: Option<String>,
}

impl SentMessage {
    /// A message WhatsApp took just now, its recipient's LID not known.
    pub fn now(message_id: impl Into<String>, to: impl Into<String>) -> SentMessage {
        SentMessage {
            message_id: message_id.into(),
            to: to.into(),
            timestamp: crate::clock::now_secs(),
            lid: None,
        }
    }
}

/// The kinds of media that can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    /// A WebP image shown as a sticker.
    Sticker,
    /// Ogg Opus audio shown as a voice note (push-to-talk), with its length.
    Voice,
}

impl MediaKind {
    /// The kind's name, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
            MediaKind::Voice => "voice",
        }
    }
}

/// A media message to send.
#[derive(Debug, Clone)]
pub struct OutgoingMedia {
    pub kind: MediaKind,
    pub data: bytes::Bytes,
    pub mime_type: String,
    pub file_name: Option<String>,
    pub caption: Option<String>,
    /// The users the caption mentions, as user JIDs.
    pub mentions: Vec<String>,
    /// The recipient can open it once (an image or a video).
    pub view_once: bool,
    /// The length of a voice note, in seconds.
    pub seconds: Option<u32>,
}

/// Whether a phone number has a WhatsApp account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberCheck {
    pub phone: String,
    pub on_whatsapp: bool,
    pub jid: Option<String>,
}

/// What can go wrong talking to WhatsApp.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the instance is not connected")]
    NotConnected,
    #[error("invalid recipient {0}")]
    InvalidRecipient(String),
    #[error("invalid phone number {0}")]
    InvalidPhone(String),
    #[error("whatsapp: {0}")]
    Protocol(String),
    #[error("the request timed out")]
    Timeout,
    #[error("the media file has more than {limit} bytes")]
    MediaTooLarge { limit: u64 },
    /// There is no such group, or the account is not in it.
    #[error("this account is not in group {0} (or there is no such group)")]
    GroupNotFound(String),
    /// The change is an admin's, and the account is not an admin of the group.
    #[error("this account is not an admin of group {0}")]
    NotGroupAdmin(String),
    /// The invite code is unknown, was reset, or the link was switched off.
    #[error("the invite code {0:?} is not valid (unknown, reset or expired)")]
    InvalidInvite(String),
    /// No call with this id from this caller is ringing.
    #[error("no call {0} is ringing from this caller")]
    CallNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
