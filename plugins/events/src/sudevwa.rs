//! The `sudevwa` format (source document 000, `docs/seeds/000_48d941547274bad6.txt`): every event wrapped as
//! `{"event": "<name>", "timestamp": "<RFC 3339>", "data": {...}}`.
//!
//! It is the shape of WebSocket frames and of the per-instance primary webhook. The envelope
//! `timestamp` is when the event happened ([`Event::at_us`]), with Go's trimmed fraction.
//!
//! | event | from | `data` |
//! |---|---|---|
//! | `incoming_message` | a message with new content | `instance_id, from` (chat JID)`, from_me, message` (text or caption, `""` when none)`, timestamp` (unix s)`, is_group, message_id, push_name` (`""` when unknown) |
//! | `message.undecryptable` | [`EventKind::MessageUndecryptable`] | `instance_id, from` (chat JID)`, sender, from_me, timestamp` (unix s)`, is_group, message_id, push_name` (`""` when unknown)`, reason` |
//! | `qr` | [`EventKind::Qr`] | `instance_id, qr, expires_at` (RFC 3339) |
//! | `instance.status` | [`EventKind::StatusChanged`] | `instance_id, status, previous` |
//! | `instance.paired` | [`EventKind::Paired`] | `instance_id, jid, phone_number, push_name` (or null) |
//! | `instance.logged_out` | [`EventKind::LoggedOut`] | `instance_id, reason` |
//! | `message.receipt` | [`EventKind::Receipt`] | `instance_id, chat, sender, [sender_lid, sender_phone], ids, receipt_type, timestamp` (unix s) |
//! | `group.participants` | [`EventKind::GroupParticipants`] | `instance_id, group, action, jids, timestamp` (unix s)`, [participants]` (`[{jid, lid, phone}]`) |
//! | `group.update` | [`EventKind::GroupUpdate`] | `instance_id, group, change` (`subject`, `description`, `announce`, `locked`, `approval`, `photo`, `invite_link`)`, text, enabled, author` (each or null)`, timestamp` (unix s) |
//! | `chat.state` | [`EventKind::ChatState`] | `instance_id, chat, sender, sender_lid` (or null)`, [sender_phone], is_group, state` (`typing`, `recording`, `paused`)`, timestamp` (unix s) |
//! | `poll.vote` | [`EventKind::PollVote`] | `instance_id, from` (chat JID)`, sender` (the voter's JID)`, sender_lid, sender_phone` (or null)`, push_name` (`""` when unknown)`, is_group, timestamp` (unix s)`, message_id` (the vote's)`, poll_id, selected_options` (names)`, totals` (`[{option, votes}]`, every option in order) |
//! | `call.offer`, `call.missed`, `call.ended` | [`EventKind::CallOffer`], [`EventKind::CallMissed`], [`EventKind::CallEnded`] | `instance_id, call_id, from` (the caller)`, from_lid, from_phone, group` (or null)`, is_video, is_group, timestamp` (unix s)`, reason` (null for an offer)`, auto_rejected` |
//! | `instance.offline` | [`EventKind::Offline`] | `instance_id, status, offline_secs, reason` (or null) |
//! | `plugin.error` | [`EventKind::PluginError`] | `instance_id, plugin, error` |
//! | `system` | [`EventKind::System`] | `instance_id` (absent for server-wide notices)`, message` |
//! | `queue.job` | [`EventKind::QueueJob`] | `instance_id, job_id, status, kind, batch_id, message_id, failure, to` (each or null)`, timestamp` (unix s) |
//!
//! Fields in `[brackets]` are there only when a LID is known, so that an event about
//! accounts known by phone number alone keeps the shape it had (for `incoming_message`,
//! the source document's exactly): `incoming_message` and `message.undecryptable` add
//! `sender_lid, sender_phone` (the phone number, or null when unknown) when the author's
//! LID is known and `chat_lid, chat_phone` when the contact's is, in a one-to-one chat;
//! `message.receipt` adds `sender_lid, sender_phone`; `chat.state` adds `sender_phone`
//! when `sender_lid` is not null; `group.participants` adds `participants`, every
//! participant by both names, when a LID is known for any of them.
//!
//! `message.undecryptable` is not in the source document: its `data` is `incoming_message`'s
//! without `message` (there is no text to give), plus the `sender` (in a group, `from` is
//! the group) and the `reason`.
//!
//! `chat.state` is not in the source document either: it is named and shaped like
//! `message.receipt`, the other notice about a chat that is not a message.
//!
//! `poll.vote` is not in the source document: it is named like the other message events
//! (`message.receipt`, `message.undecryptable`) and shaped like `message.undecryptable`'s
//! envelope (the chat as `from`, the voter as `sender`), plus the poll and the options.
//!
//! The call events and `instance.offline` are not in the source document either: calls are
//! named like the other notices (`message.receipt`, `chat.state`) with one name per outcome,
//! and shaped flat like them; `instance.offline` is named and shaped like
//! `instance.status`.
//!
//! `queue.job` (a send queue job's new status) is wasap's own too: named like the other
//! server-side notices (`instance.offline`, `plugin.error`), flat, every field always
//! present (null when the job has none yet), so a client can read each frame alike.
//!
//! `incoming_message`'s `data` is fixed by the source document and has no room for what a
//! reaction, edit, revocation or deletion acts on, so those messages are not carried here
//! (use the `gowa` format for them): [`envelope`] returns `None`.

use serde::Serialize;

use crate::jid::{lid_pair, participants_with_lids};
use crate::model::ParticipantIds;
use crate::model::{Call, Content, Event, EventKind, Message, PollTotal, QueueJob, Undecryptable};
use crate::time::{rfc3339_from_micros, rfc3339_from_millis};

/// One sudevwa payload, borrowing from the event it was made from.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope<'a> {
    pub event: &'static str,
    pub timestamp: String,
    pub data: Data<'a>,
}

/// The `data` of each sudevwa event.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Data<'a> {
    IncomingMessage(IncomingMessage<'a>),
    Undecryptable(UndecryptableMessage<'a>),
    Qr {
        instance_id: &'a str,
        qr: &'a str,
        expires_at: String,
    },
    Status {
        instance_id: &'a str,
        status: &'static str,
        previous: &'static str,
    },
    Paired {
        instance_id: &'a str,
        jid: &'a str,
        phone_number: &'a str,
        push_name: Option<&'a str>,
    },
    LoggedOut {
        instance_id: &'a str,
        reason: &'a str,
    },
    Receipt {
        instance_id: &'a str,
        chat: &'a str,
        sender: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        sender_lid: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sender_phone: Option<Option<&'a str>>,
        ids: &'a [String],
        receipt_type: &'static str,
        timestamp: i64,
    },
    GroupParticipants {
        instance_id: &'a str,
        group: &'a str,
        action: &'static str,
        jids: &'a [String],
        timestamp: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        participants: Option<&'a [ParticipantIds]>,
    },
    GroupUpdate {
        instance_id: &'a str,
        group: &'a str,
        change: &'static str,
        text: Option<&'a str>,
        enabled: Option<bool>,
        author: Option<&'a str>,
        timestamp: i64,
    },
    PollVote(PollVoteData<'a>),
    Call(CallData<'a>),
    Offline {
        instance_id: &'a str,
        status: &'static str,
        offline_secs: u64,
        reason: Option<&'a str>,
    },
    ChatState {
        instance_id: &'a str,
        chat: &'a str,
        sender: &'a str,
        sender_lid: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sender_phone: Option<Option<&'a str>>,
        is_group: bool,
        state: &'static str,
        timestamp: i64,
    },
    PluginError {
        instance_id: &'a str,
        plugin: &'a str,
        error: &'a str,
    },
    System {
        #[serde(skip_serializing_if = "str::is_empty")]
        instance_id: &'a str,
        message: &'a str,
    },
    QueueJob {
        instance_id: &'a str,
        job_id: i64,
        status: &'static str,
        kind: &'a str,
        batch_id: Option<&'a str>,
        message_id: Option<&'a str>,
        failure: Option<&'a str>,
        to: Option<&'a str>,
        timestamp: i64,
    },
}

/// `incoming_message` data, exactly the source document's fields.
#[derive(Debug, Clone, Serialize)]
pub struct IncomingMessage<'a> {
    pub instance_id: &'a str,
    /// The chat's JID (the group's, for group messages), which is where a reply goes.
    pub from: &'a str,
    pub from_me: bool,
    /// The text or the media caption.
    pub message: &'a str,
    /// Unix seconds, as WhatsApp stamped the message.
    pub timestamp: i64,
    pub is_group: bool,
    pub message_id: &'a str,
    pub push_name: &'a str,
    #[serde(flatten)]
    pub lids: LidFields<'a>,
}

/// Both names of the author and, in a one-to-one chat, of the contact, added to a
/// message's `data` only when a LID is known (see [`lid_pair`]), so that a message from
/// a contact known by phone number alone is exactly the source document's.
#[derive(Debug, Clone, Serialize)]
pub struct LidFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_lid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_phone: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_lid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_phone: Option<Option<&'a str>>,
}

impl<'a> LidFields<'a> {
    fn of(sender: (Option<&'a str>, Option<&'a str>), chat: (Option<&'a str>, Option<&'a str>)) -> LidFields<'a> {
        let (sender_lid, sender_phone) = lid_pair(sender.0, sender.1);
        let (chat_lid, chat_phone) = lid_pair(chat.0, chat.1);
        LidFields {
            sender_lid,
            sender_phone,
            chat_lid,
            chat_phone,
        }
    }
}

/// `message.undecryptable` data: `incoming_message`'s fields but the text, plus who sent
/// it and why it has no content.
#[derive(Debug, Clone, Serialize)]
pub struct UndecryptableMessage<'a> {
    pub instance_id: &'a str,
    /// The chat's JID, as in `incoming_message`.
    pub from: &'a str,
    /// The author's JID: the contact, or the participant in a group.
    pub sender: &'a str,
    pub from_me: bool,
    /// Unix seconds, as WhatsApp stamped the message.
    pub timestamp: i64,
    pub is_group: bool,
    pub message_id: &'a str,
    pub push_name: &'a str,
    /// One of [`Undecryptable::REASONS`].
    pub reason: &'a str,
    #[serde(flatten)]
    pub lids: LidFields<'a>,
}

/// `poll.vote` data: a vote on a poll the instance sent, and the totals so far.
#[derive(Debug, Clone, Serialize)]
pub struct PollVoteData<'a> {
    pub instance_id: &'a str,
    /// The poll's chat JID, as `from` in `incoming_message`.
    pub from: &'a str,
    /// The voter's JID.
    pub sender: &'a str,
    pub sender_lid: Option<&'a str>,
    pub sender_phone: Option<&'a str>,
    pub push_name: &'a str,
    pub is_group: bool,
    /// Unix seconds, when the voter voted.
    pub timestamp: i64,
    /// The vote message's id.
    pub message_id: &'a str,
    pub poll_id: &'a str,
    /// The options the vote picks, by name; empty when the vote was withdrawn.
    pub selected_options: &'a [String],
    pub totals: &'a [PollTotal],
}

/// `call.offer`, `call.missed` and `call.ended` data: the call and, once it stopped, why.
#[derive(Debug, Clone, Serialize)]
pub struct CallData<'a> {
    pub instance_id: &'a str,
    pub call_id: &'a str,
    /// The caller's JID (phone number when known).
    pub from: &'a str,
    pub from_lid: Option<&'a str>,
    pub from_phone: Option<&'a str>,
    /// The group of a group call.
    pub group: Option<&'a str>,
    pub is_video: bool,
    pub is_group: bool,
    /// Unix seconds.
    pub timestamp: i64,
    /// Why the call stopped; null for an offer.
    pub reason: Option<&'a str>,
    pub auto_rejected: bool,
}

/// The sudevwa event name for `event`, or `None` when the format does not carry it.
pub fn event_name(event: &Event) -> Option<&'static str> {
    Some(match &event.kind {
        EventKind::Qr { .. } => "qr",
        EventKind::StatusChanged { .. } => "instance.status",
        EventKind::Paired { .. } => "instance.paired",
        EventKind::LoggedOut { .. } => "instance.logged_out",
        EventKind::Message(message) if carries_new_content(message) => "incoming_message",
        EventKind::Message(_) => return None,
        EventKind::MessageUndecryptable(_) => "message.undecryptable",
        EventKind::Receipt(_) => "message.receipt",
        EventKind::GroupParticipants(_) => "group.participants",
        EventKind::GroupUpdate(_) => "group.update",
        EventKind::ChatState(_) => "chat.state",
        EventKind::PollVote(_) => "poll.vote",
        EventKind::CallOffer(_) => "call.offer",
        EventKind::CallMissed(_) => "call.missed",
        EventKind::CallEnded(_) => "call.ended",
        EventKind::Offline { .. } => "instance.offline",
        EventKind::PluginError { .. } => "plugin.error",
        EventKind::System { .. } => "system",
        EventKind::QueueJob(_) => "queue.job",
    })
}

/// Messages that say something new, as opposed to acting on an earlier message.
fn carries_new_content(message: &Message) -> bool {
    !matches!(
        message.content,
        Content::Reaction { .. } | Content::Revoked { .. } | Content::Edited { .. } | Content::DeletedForMe { .. }
    )
}

/// The sudevwa payload of `event`, or `None` when the format does not carry it.
pub fn envelope(event: &Event) -> Option<Envelope<'_>> {
    let name = event_name(event)?;
    let instance_id = event.instance_id.as_str();
    let data = match &event.kind {
        EventKind::Qr { qr, expires_at_ms } => Data::Qr {
            instance_id,
            qr,
            expires_at: rfc3339_from_millis(*expires_at_ms),
        },
        EventKind::StatusChanged { status, previous } => Data::Status {
            instance_id,
            status: status.as_str(),
            previous: previous.as_str(),
        },
        EventKind::Paired {
            jid,
            phone_number,
            push_name,
        } => Data::Paired {
            instance_id,
            jid,
            phone_number,
            push_name: push_name.as_deref(),
        },
        EventKind::LoggedOut { reason } => Data::LoggedOut { instance_id, reason },
        EventKind::Message(message) => Data::IncomingMessage(IncomingMessage {
            instance_id,
            from: &message.chat,
            from_me: message.from_me,
            message: message.text_or_caption().unwrap_or(""),
            timestamp: message.timestamp,
            is_group: message.is_group,
            message_id: &message.id,
            // Go's zero value: the source server sends "" rather than null.
            push_name: message.push_name.as_deref().unwrap_or(""),
            lids: LidFields::of(
                (message.sender_lid.as_deref(), message.sender_phone.as_deref()),
                (message.chat_lid.as_deref(), message.chat_phone.as_deref()),
            ),
        }),
        EventKind::MessageUndecryptable(message) => Data::Undecryptable(undecryptable(instance_id, message)),
        EventKind::Receipt(receipt) => Data::Receipt {
            instance_id,
            chat: &receipt.chat,
            sender: &receipt.sender,
            sender_lid: lid_pair(receipt.sender_lid.as_deref(), receipt.sender_phone.as_deref()).0,
            sender_phone: lid_pair(receipt.sender_lid.as_deref(), receipt.sender_phone.as_deref()).1,
            ids: &receipt.ids,
            receipt_type: receipt.receipt_type.as_str(),
            timestamp: receipt.timestamp,
        },
        EventKind::GroupParticipants(change) => Data::GroupParticipants {
            instance_id,
            group: &change.group,
            action: change.action.as_str(),
            jids: &change.jids,
            timestamp: change.timestamp,
            participants: participants_with_lids(&change.participants),
        },
        EventKind::GroupUpdate(update) => Data::GroupUpdate {
            instance_id,
            group: &update.group,
            change: update.change.as_str(),
            text: update.text.as_deref(),
            enabled: update.enabled,
            author: update.author.as_deref(),
            timestamp: update.timestamp,
        },
        EventKind::PollVote(vote) => Data::PollVote(PollVoteData {
            instance_id,
            from: &vote.chat,
            sender: &vote.voter,
            sender_lid: vote.voter_lid.as_deref(),
            sender_phone: vote.voter_phone.as_deref(),
            push_name: vote.push_name.as_deref().unwrap_or(""),
            is_group: vote.is_group,
            timestamp: vote.timestamp,
            message_id: &vote.id,
            poll_id: &vote.poll_id,
            selected_options: &vote.selected,
            totals: &vote.totals,
        }),
        EventKind::CallOffer(call) | EventKind::CallMissed(call) | EventKind::CallEnded(call) => {
            Data::Call(call_data(instance_id, call))
        }
        EventKind::Offline {
            status,
            offline_secs,
            reason,
        } => Data::Offline {
            instance_id,
            status: status.as_str(),
            offline_secs: *offline_secs,
            reason: reason.as_deref(),
        },
        EventKind::ChatState(change) => Data::ChatState {
            instance_id,
            chat: &change.chat,
            sender: &change.sender,
            sender_lid: change.sender_lid.as_deref(),
            sender_phone: lid_pair(change.sender_lid.as_deref(), change.sender_phone.as_deref()).1,
            is_group: change.is_group,
            state: change.state.as_str(),
            timestamp: change.timestamp,
        },
        EventKind::PluginError { plugin, error } => Data::PluginError {
            instance_id,
            plugin,
            error,
        },
        EventKind::System { message } => Data::System { instance_id, message },
        EventKind::QueueJob(job) => queue_job_data(instance_id, job, event.at_us.div_euclid(1_000_000)),
    };
    Some(Envelope {
        event: name,
        timestamp: rfc3339_from_micros(event.at_us),
        data,
    })
}

fn queue_job_data<'a>(instance_id: &'a str, job: &'a QueueJob, timestamp: i64) -> Data<'a> {
    Data::QueueJob {
        instance_id,
        job_id: job.job_id,
        status: job.status.as_str(),
        kind: &job.kind,
        batch_id: job.batch_id.as_deref(),
        message_id: job.message_id.as_deref(),
        failure: job.failure.as_deref(),
        to: job.to.as_deref(),
        timestamp,
    }
}

fn call_data<'a>(instance_id: &'a str, call: &'a Call) -> CallData<'a> {
    CallData {
        instance_id,
        call_id: &call.id,
        from: &call.from,
        from_lid: call.from_lid.as_deref(),
        from_phone: call.from_phone.as_deref(),
        group: call.group.as_deref(),
        is_video: call.is_video,
        is_group: call.is_group,
        timestamp: call.timestamp,
        reason: call.reason.as_deref(),
        auto_rejected: call.auto_rejected,
    }
}

fn undecryptable<'a>(instance_id: &'a str, message: &'a Undecryptable) -> UndecryptableMessage<'a> {
    UndecryptableMessage {
        instance_id,
        from: &message.chat,
        sender: &message.sender,
        from_me: message.from_me,
        timestamp: message.timestamp,
        is_group: message.is_group,
        message_id: &message.id,
        push_name: message.push_name.as_deref().unwrap_or(""),
        reason: &message.reason,
        lids: LidFields::of(
            (message.sender_lid.as_deref(), message.sender_phone.as_deref()),
            (message.chat_lid.as_deref(), message.chat_phone.as_deref()),
        ),
    }
}

/// The sudevwa payload of `event` as a JSON value.
pub fn format(event: &Event) -> Option<serde_json::Value> {
    envelope(event).map(|payload| serde_json::to_value(payload).expect("payloads are plain JSON"))
}

/// The sudevwa payload of `event` as the bytes of a request or frame body.
pub fn to_vec(event: &Event) -> Option<Vec<u8>> {
    envelope(event).map(|payload| serde_json::to_vec(&payload).expect("payloads are plain JSON"))
}
