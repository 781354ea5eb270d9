//! The canonical event model: everything that can happen to an instance, defined once.
//!
//! Every output (REST, WebSocket frames, webhook payloads, plugin input) is derived from an
//! [`Event`]; the formats in [`crate::sudevwa`] and [`crate::gowa`] are pure functions of it.
//! Each [`EventKind`] variant is documented with when it is emitted, whatsmeow-style, so this
//! file is the one place to read to learn what the server can tell its users.
//!
//! The serde form is stable and self-describing, because events are stored in the delivery
//! outbox and cross the plugin boundary:
//! `{"id", "instance_id", "at_us", "kind": {"type": "<kind name>", "data": {...}}}`.

mod call;
mod chat_state;
mod group;
mod group_update;
mod lid;
mod message;
mod poll_vote;
mod queue_job;
mod receipt;
mod undecryptable;

use serde::{Deserialize, Serialize};

pub use call::Call;
pub use chat_state::{ChatState, ChatStateChange};
pub use group::{GroupAction, GroupParticipants};
pub use group_update::{GroupUpdate, GroupUpdateKind};
pub use lid::{ParticipantIds, is_lid, pair_of, phone_of};
pub use message::{Content, DisappearingMode, Ephemeral, Media, Message, Quoted};
pub use poll_vote::{PollTotal, PollVote};
pub use queue_job::{JobStatus, QueueJob};
pub use receipt::{Receipt, ReceiptType};
pub use undecryptable::Undecryptable;

/// One thing that happened to one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable and unique: a retried webhook or a replayed frame carries the same id, so
    /// receivers deduplicate on it (`X-Wasap-Event-Id`).
    pub id: String,
    /// The instance the event concerns; empty only for server-wide [`EventKind::System`] events.
    pub instance_id: String,
    /// When the event happened, in unix microseconds. Microseconds rather than milliseconds
    /// because the sudevwa envelope stamps events with microsecond precision
    /// (`2025-12-08T13:57:04.147255Z`) and every format must be derivable from this value.
    pub at_us: i64,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// The event's kind name (see [`EventKind::name`]).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// When the event happened, in unix milliseconds (truncated).
    pub fn at_ms(&self) -> i64 {
        self.at_us.div_euclid(1000)
    }
}

/// What happened. The serde tag of each variant is its [`name`](EventKind::name).
// Most events are messages, so boxing `Message` would add an allocation to the common case
// while saving memory only on the rare small events.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventKind {
    /// Emitted when a new pairing QR code is ready to be scanned, and again at each rotation.
    #[serde(rename = "qr")]
    Qr {
        /// The raw QR payload (what the QR image encodes).
        qr: String,
        /// When this code stops being accepted, unix milliseconds.
        expires_at_ms: i64,
    },
    /// Emitted when an instance's connection status changes.
    #[serde(rename = "instance_status")]
    StatusChanged {
        status: InstanceStatus,
        previous: InstanceStatus,
    },
    /// Emitted when a phone links the instance, by QR code or by pair code.
    #[serde(rename = "instance_paired")]
    Paired {
        /// The instance's own JID, e.g. `6281234567890@s.whatsapp.net`.
        jid: String,
        /// The linked phone number, international form without `+`.
        phone_number: String,
        /// The account's display name, when WhatsApp told us.
        push_name: Option<String>,
    },
    /// Emitted when the instance is unlinked: logout through the API, or removed on the phone.
    #[serde(rename = "instance_logged_out")]
    LoggedOut {
        /// Why, in words a user can act on (e.g. `logged out from the phone`).
        reason: String,
    },
    /// Emitted for every message that reaches the instance: new content, reactions, edits,
    /// revocations and deletions (see [`Content`]).
    #[serde(rename = "message")]
    Message(Message),
    /// Emitted when a message reaches the instance but its content cannot be read: the
    /// engine could not decrypt it, or WhatsApp sent a placeholder (see
    /// [`Undecryptable::reason`]). A later successful decrypt of the same message is a
    /// separate `message` event.
    #[serde(rename = "message_undecryptable")]
    MessageUndecryptable(Undecryptable),
    /// Emitted when messages are acknowledged: delivered, read or played.
    #[serde(rename = "receipt")]
    Receipt(Receipt),
    /// Emitted when group participants join, leave, are promoted or demoted.
    #[serde(rename = "group_participants")]
    GroupParticipants(GroupParticipants),
    /// Emitted when a group's subject, description, settings (announce, locked, approval),
    /// photo or invite link change (see [`GroupUpdate`]).
    #[serde(rename = "group_update")]
    GroupUpdate(GroupUpdate),
    /// Emitted when a contact starts typing, starts recording a voice note, or stops, in
    /// a chat with the instance. Not journalled and not replayed (see [`ChatStateChange`]).
    #[serde(rename = "chat_state")]
    ChatState(ChatStateChange),
    /// Emitted when a contact votes on a poll the instance sent, changes their vote, or
    /// withdraws it: the options picked, by name, and every option's total so far (see
    /// [`PollVote`]). A vote that cannot be read (its poll is not kept) is a
    /// `message_undecryptable` event with reason `unknown_poll` instead.
    #[serde(rename = "poll_vote")]
    PollVote(PollVote),
    /// Emitted when a contact calls the instance (WhatsApp's call offer): it rings until the
    /// caller gives up, it is answered or declined on the phone, or the instance rejects it
    /// (see [`Call`]). Journalled like a message.
    #[serde(rename = "call_offer")]
    CallOffer(Call),
    /// Emitted when a call stops ringing unanswered: the caller hung up or it rang out, or
    /// it rang while the instance was offline ([`Call::reason`]).
    #[serde(rename = "call_missed")]
    CallMissed(Call),
    /// Emitted when a call ends otherwise: it was answered or declined on the account's phone
    /// or another of its devices ([`Call::reason`]). A call the instance rejects ends without
    /// an event (WhatsApp tells the caller, not the instance).
    #[serde(rename = "call_ended")]
    CallEnded(Call),
    /// Emitted once when a linked instance has been without a working connection for longer
    /// than the server's offline threshold (`WASAP_OFFLINE_ALERT_SECS`), and not again until
    /// it has been online since.
    #[serde(rename = "instance_offline")]
    Offline {
        /// The status it is in now (`disconnected`, `connecting` or `banned`).
        status: InstanceStatus,
        /// How long it has been without a connection, in seconds.
        offline_secs: u64,
        /// The last error that ended or refused its connection, when there was one.
        reason: Option<String>,
    },
    /// Emitted when a plugin fails on an event or is quarantined for failing repeatedly.
    #[serde(rename = "plugin_error")]
    PluginError {
        /// The plugin's name (its manifest name).
        plugin: String,
        /// What went wrong, without internals a user cannot act on.
        error: String,
    },
    /// Emitted for server-wide notices (start-up, shutdown, configuration warnings).
    #[serde(rename = "system")]
    System { message: String },
    /// Emitted each time a job of the instance's send queue takes a status: `queued` (stored,
    /// or put back after an attempt that may succeed later), `sending`, `sent`, `delivered`,
    /// `read`, `failed`, `cancelled` (see [`QueueJob`]). One of the [`EventKind::OPT_IN`]
    /// kinds: a webhook gets it only when its `events` names it.
    #[serde(rename = "queue_job")]
    QueueJob(QueueJob),
}

impl EventKind {
    /// Every kind name, in declaration order: what filters and subscriptions may name.
    pub const NAMES: [&'static str; 18] = [
        "qr",
        "instance_status",
        "instance_paired",
        "instance_logged_out",
        "message",
        "message_undecryptable",
        "receipt",
        "group_participants",
        "group_update",
        "chat_state",
        "poll_vote",
        "call_offer",
        "call_missed",
        "call_ended",
        "instance_offline",
        "plugin_error",
        "system",
        "queue_job",
    ];

    /// The kinds a subscription gets only when it names them: an empty event filter (every
    /// kind) leaves them out, since there are many of them (one per status of every queued
    /// send) and only a client that tracks its own sends wants them.
    pub const OPT_IN: [&'static str; 1] = ["queue_job"];

    /// The names the payload formats give kinds where they differ from the kind's own name,
    /// as (format's name, kind name): a webhook subscription may use either.
    pub const FORMAT_NAMES: [(&'static str, &'static str); 18] = [
        ("incoming_message", "message"),
        ("message.undecryptable", "message_undecryptable"),
        ("message.receipt", "receipt"),
        ("message.ack", "receipt"),
        ("group.participants", "group_participants"),
        ("group.update", "group_update"),
        ("chat.state", "chat_state"),
        ("chat_presence", "chat_state"),
        ("poll.vote", "poll_vote"),
        ("call.offer", "call_offer"),
        ("call.missed", "call_missed"),
        ("call.ended", "call_ended"),
        ("instance.offline", "instance_offline"),
        ("instance.status", "instance_status"),
        ("instance.paired", "instance_paired"),
        ("instance.logged_out", "instance_logged_out"),
        ("plugin.error", "plugin_error"),
        ("queue.job", "queue_job"),
    ];

    /// The kind name (one of [`EventKind::NAMES`]) that `name` stands for: a kind name
    /// itself, or a format's name for a kind ([`EventKind::FORMAT_NAMES`]).
    pub fn kind_name(name: &str) -> Option<&'static str> {
        let kind = EventKind::NAMES.iter().find(|kind| **kind == name);
        kind.copied().or_else(|| {
            EventKind::FORMAT_NAMES
                .iter()
                .find(|(format_name, _)| *format_name == name)
                .map(|(_, kind)| *kind)
        })
    }

    /// The stable snake_case name used by filters, subscriptions and the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Qr { .. } => "qr",
            EventKind::StatusChanged { .. } => "instance_status",
            EventKind::Paired { .. } => "instance_paired",
            EventKind::LoggedOut { .. } => "instance_logged_out",
            EventKind::Message(_) => "message",
            EventKind::MessageUndecryptable(_) => "message_undecryptable",
            EventKind::Receipt(_) => "receipt",
            EventKind::GroupParticipants(_) => "group_participants",
            EventKind::GroupUpdate(_) => "group_update",
            EventKind::ChatState(_) => "chat_state",
            EventKind::PollVote(_) => "poll_vote",
            EventKind::CallOffer(_) => "call_offer",
            EventKind::CallMissed(_) => "call_missed",
            EventKind::CallEnded(_) => "call_ended",
            EventKind::Offline { .. } => "instance_offline",
            EventKind::PluginError { .. } => "plugin_error",
            EventKind::System { .. } => "system",
            EventKind::QueueJob(_) => "queue_job",
        }
    }
}

/// The connection status of an instance, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    /// Not linked to a phone; a QR code (or pair code) is needed.
    QrRequired,
    /// A QR code or pair code is being shown and the phone has not confirmed yet.
    Pairing,
    /// Linked, and (re)connecting to WhatsApp.
    Connecting,
    /// Linked and connected.
    Online,
    /// Linked but the connection is down; the instance reconnects by itself.
    Disconnected,
    /// Linked, but WhatsApp refuses the account's connections for a while (a temporary
    /// ban); the instance reconnects by itself when the ban ends.
    Banned,
    /// Unlinked; the device keys are gone and the instance must pair again.
    LoggedOut,
}

impl InstanceStatus {
    /// Every status, in the order of an instance's life.
    pub const ALL: [InstanceStatus; 7] = [
        InstanceStatus::QrRequired,
        InstanceStatus::Pairing,
        InstanceStatus::Connecting,
        InstanceStatus::Online,
        InstanceStatus::Disconnected,
        InstanceStatus::Banned,
        InstanceStatus::LoggedOut,
    ];

    /// Parses a status name; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<InstanceStatus> {
        InstanceStatus::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// The status as it appears in JSON (`qr_required`, `online`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::QrRequired => "qr_required",
            InstanceStatus::Pairing => "pairing",
            InstanceStatus::Connecting => "connecting",
            InstanceStatus::Online => "online",
            InstanceStatus::Disconnected => "disconnected",
            InstanceStatus::Banned => "banned",
            InstanceStatus::LoggedOut => "logged_out",
        }
    }
}

impl core::fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
