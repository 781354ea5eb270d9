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
//! | `message.receipt` | [`EventKind::Receipt`] | `instance_id, chat, sender, ids, receipt_type, timestamp` (unix s) |
//! | `group.participants` | [`EventKind::GroupParticipants`] | `instance_id, group, action, jids, timestamp` (unix s) |
//! | `chat.state` | [`EventKind::ChatState`] | `instance_id, chat, sender, sender_lid` (or null)`, is_group, state` (`typing`, `recording`, `paused`)`, timestamp` (unix s) |
//! | `poll.vote` | [`EventKind::PollVote`] | `instance_id, from` (chat JID)`, sender` (the voter's JID)`, sender_lid, sender_phone` (or null)`, push_name` (`""` when unknown)`, is_group, timestamp` (unix s)`, message_id` (the vote's)`, poll_id, selected_options` (names)`, totals` (`[{option, votes}]`, every option in order) |
//! | `plugin.error` | [`EventKind::PluginError`] | `instance_id, plugin, error` |
//! | `system` | [`EventKind::System`] | `instance_id` (absent for server-wide notices)`, message` |
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
//! `incoming_message`'s `data` is fixed by the source document and has no room for what a
//! reaction, edit, revocation or deletion acts on, so those messages are not carried here
//! (use the `gowa` format for them): [`envelope`] returns `None`.

use serde::Serialize;

use crate::model::{Content, Event, EventKind, Message, PollTotal, Undecryptable};
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
    },
    PollVote(PollVoteData<'a>),
    ChatState {
        instance_id: &'a str,
        chat: &'a str,
        sender: &'a str,
        sender_lid: Option<&'a str>,
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
        EventKind::ChatState(_) => "chat.state",
        EventKind::PollVote(_) => "poll.vote",
        EventKind::PluginError { .. } => "plugin.error",
        EventKind::System { .. } => "system",
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
        }),
        EventKind::MessageUndecryptable(message) => Data::Undecryptable(undecryptable(instance_id, message)),
        EventKind::Receipt(receipt) => Data::Receipt {
            instance_id,
            chat: &receipt.chat,
            sender: &receipt.sender,
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
        EventKind::ChatState(change) => Data::ChatState {
            instance_id,
            chat: &change.chat,
            sender: &change.sender,
            sender_lid: change.sender_lid.as_deref(),
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
    };
    Some(Envelope {
        event: name,
        timestamp: rfc3339_from_micros(event.at_us),
        data,
    })
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
