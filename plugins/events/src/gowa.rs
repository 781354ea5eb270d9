//! The `gowa` format (source document 003, `docs/seeds/003_240af2c9c9654f11.txt`), field for field.
//!
//! Two shapes, as in the source:
//! - Messages are flat: `sender_id` and `chat_id` (user parts of the JIDs), `from` (the
//!   sender's full JID), `timestamp` (RFC 3339 of the message's own time), `pushname`, a
//!   `message` object `{text, id, replied_id, quoted_message}`, then one key for the content
//!   (`image`, `contact`, `reaction`, ...) or the `action` fields of revocations, edits and
//!   deletions, and `view_once` / `forwarded` when true.
//! - Receipts and group changes are wrapped: `{"event", "payload", "timestamp"}`, with full
//!   JIDs in the payload, as the source's examples and tables show.
//!
//! `contact` and `location` are written the way the source writes them: as WhatsApp's own
//! protocol message in camelCase, so they carry the chat's disappearing-messages setting as
//! `contextInfo` when the message has one; the other media keys use the source's own
//! snake_case shape, which has no `contextInfo`.
//!
//! Decisions where the source document is silent:
//! - `message_deleted_for_me` (only its `action` and `deleted_message_id` appear in the
//!   source's sample code): the message header without a `message` object, since a deletion
//!   on this account is a settings sync, not a message, plus `deleted_from_me`.
//! - `message_undecryptable` (a message whose content could not be read): the message
//!   header like `message_deleted_for_me`'s, without a `message` object (there is no text
//!   or content), plus `action`, `undecryptable_message_id` and `reason`, the way the
//!   source's other actions name the message they concern.
//! - Media that failed to download: `media_path` is absent and `download_error` says why.
//! - `chat_presence` (a contact typing, recording or stopped; not in the source document,
//!   named and shaped as go-whatsapp-web-multidevice sends it since): wrapped like
//!   receipts, with `chat_id` and `from` (full JIDs), `from_lid` when the sender's LID is
//!   known, whatsmeow's `state` (`composing` or `paused`) and `media` (`audio` when
//!   recording, else empty), and `is_group`.
//! - `poll_vote` (a vote on a poll the instance sent; not in the source document): a
//!   message like a reaction, flat, with the vote's own id in `message` and a `poll_vote`
//!   key holding `poll_id`, `selected_options` (names), `totals` (`[{option, votes}]`, every
//!   option in order) and `from_lid` when the voter's LID is known.
//! - `call.offer` (not in source document 003, named and shaped as go-whatsapp-web-multidevice
//!   sends it since): wrapped like receipts, with `call_id`, `from` (the caller's full JID),
//!   `from_lid` when known, `auto_rejected`, and `group_jid` for a group call; plus
//!   `is_video` and `is_group`. `call.missed` and `call.ended` (wasap's own) have the same
//!   payload plus `reason`.
//! - Both names of an account (see `docs/API.md`, "Phone numbers and LIDs"): only when a
//!   LID is known, so that the source's examples stay exact: messages (and undecryptable
//!   ones) add `from_lid` (the sender's LID; `from` is their phone-number JID when known)
//!   and, in a one-to-one chat, `chat_lid`; `message.ack` adds `sender_lid`;
//!   `group.participants` adds `participants` (`[{jid, lid, phone}]`, every participant
//!   in `jids`' order) when a LID is known for any of them.
//! - `group.update` (a group's subject, description, settings, photo or invite link
//!   changed; not in the source document): wrapped like `group.participants`, with
//!   `chat_id` (the group's full JID), `type` (what changed: `subject`, `description`,
//!   `announce`, `locked`, `approval`, `photo`, `invite_link`), `text` (the new subject,
//!   description or photo id, null when removed), `enabled` (a setting's new state) and
//!   `author` (who changed it), each null when it does not apply or is unknown.
//! - `queue.job` (a send queue job's new status; wasap's own, not in the source document):
//!   wrapped like receipts, with `instance_id`, `job_id`, `status`, `kind`, and `batch_id`,
//!   `message_id`, `failure` and `to` when the job has them; the wrapper's `timestamp` is
//!   when the status changed.
//! - Lifecycle, plugin and system events are not part of this format: [`payload`] is `None`.

use serde::Serialize;

use crate::jid::{participants_with_lids, source_string, user_part};
use crate::model::{
    Call, ChatState, ChatStateChange, Content, Ephemeral, Event, EventKind, GroupParticipants, GroupUpdate, Media,
    Message, ParticipantIds, PollTotal, PollVote, QueueJob, Receipt, ReceiptType, Undecryptable,
};
use crate::time::rfc3339_from_secs;

/// One gowa payload, borrowing from the event it was made from.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Payload<'a> {
    Message(MessagePayload<'a>),
    Receipt(Wrapped<ReceiptPayload<'a>>),
    GroupParticipants(Wrapped<GroupPayload<'a>>),
    GroupUpdate(Wrapped<GroupUpdatePayload<'a>>),
    ChatPresence(Wrapped<ChatPresencePayload<'a>>),
    Call(Wrapped<CallPayload<'a>>),
    QueueJob(Wrapped<QueueJobPayload<'a>>),
}

/// The wrapper of receipt and group events.
#[derive(Debug, Clone, Serialize)]
pub struct Wrapped<P> {
    /// `message.ack`, `group.participants`, `group.update`, `chat_presence`, a call's or `queue.job`.
    pub event: &'static str,
    pub payload: P,
    pub timestamp: String,
}

/// A message, flat.
#[derive(Debug, Clone, Serialize)]
pub struct MessagePayload<'a> {
    pub sender_id: &'a str,
    pub chat_id: &'a str,
    pub from: &'a str,
    /// The sender's LID, when known (`from` is then their phone-number JID when known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_lid: Option<&'a str>,
    /// In a one-to-one chat, the contact's LID, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_lid: Option<&'a str>,
    pub timestamp: String,
    pub pushname: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageBody<'a>>,
    #[serde(flatten)]
    pub content: Option<ContentPart<'a>>,
    #[serde(skip_serializing_if = "is_false")]
    pub view_once: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub forwarded: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The `message` object every message payload carries.
#[derive(Debug, Clone, Serialize)]
pub struct MessageBody<'a> {
    /// The text; for an edit, the new text; empty for everything else (captions live in
    /// the media object).
    pub text: &'a str,
    pub id: &'a str,
    /// The id of the message replied to, or empty.
    pub replied_id: &'a str,
    /// The text of the message replied to, or empty.
    pub quoted_message: &'a str,
}

/// The content-specific keys of a message payload.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentPart<'a> {
    Reaction(ReactionBody<'a>),
    Image(MediaBody<'a>),
    Video(MediaBody<'a>),
    Audio(MediaBody<'a>),
    Document(MediaBody<'a>),
    Sticker(MediaBody<'a>),
    Contact(ContactBody<'a>),
    Location(LocationBody<'a>),
    PollVote(PollVoteBody<'a>),
    /// Written as top-level keys rather than under a key of its own.
    #[serde(untagged)]
    Revoked(RevokedFields<'a>),
    #[serde(untagged)]
    Edited(EditedFields<'a>),
    #[serde(untagged)]
    DeletedForMe(DeletedForMeFields<'a>),
    #[serde(untagged)]
    Undecryptable(UndecryptableFields<'a>),
}

/// `reaction`: the emoji as `message`, the message reacted to as `id`.
#[derive(Debug, Clone, Serialize)]
pub struct ReactionBody<'a> {
    pub message: &'a str,
    pub id: &'a str,
}

/// `image`, `video`, `audio`, `document` and `sticker`.
#[derive(Debug, Clone, Serialize)]
pub struct MediaBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_path: Option<&'a str>,
    pub mime_type: &'a str,
    /// Empty when there is none (the source's sticker example).
    pub caption: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_error: Option<&'a str>,
}

/// `contact`, in WhatsApp's camelCase.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactBody<'a> {
    pub display_name: &'a str,
    pub vcard: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_info: Option<ContextInfo>,
}

/// `poll_vote`: the poll voted on, the options picked and the totals so far.
#[derive(Debug, Clone, Serialize)]
pub struct PollVoteBody<'a> {
    pub poll_id: &'a str,
    /// Empty when the voter withdrew their vote.
    pub selected_options: &'a [String],
    pub totals: &'a [PollTotal],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_lid: Option<&'a str>,
}

/// `location`, in WhatsApp's camelCase.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationBody<'a> {
    pub degrees_latitude: f64,
    pub degrees_longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<&'a str>,
    #[serde(rename = "JPEGThumbnail", skip_serializing_if = "Option::is_none")]
    pub jpeg_thumbnail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_info: Option<ContextInfo>,
}

/// WhatsApp's `contextInfo`, reduced to the disappearing-messages setting we model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextInfo {
    pub expiration: u32,
    pub ephemeral_setting_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disappearing_mode: Option<DisappearingModeBody>,
}

/// WhatsApp's `disappearingMode`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisappearingModeBody {
    pub initiator: u32,
    pub trigger: u32,
    pub initiated_by_me: bool,
}

/// The top-level keys of `message_revoked`.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedFields<'a> {
    pub action: &'static str,
    pub revoked_chat: &'a str,
    pub revoked_from_me: bool,
    pub revoked_message_id: &'a str,
}

/// The top-level keys of `message_edited`.
#[derive(Debug, Clone, Serialize)]
pub struct EditedFields<'a> {
    pub action: &'static str,
    pub original_message_id: &'a str,
    pub edited_text: &'a str,
}

/// The top-level keys of `message_deleted_for_me`.
#[derive(Debug, Clone, Serialize)]
pub struct DeletedForMeFields<'a> {
    pub action: &'static str,
    pub deleted_message_id: &'a str,
    pub deleted_from_me: bool,
}

/// The top-level keys of `message_undecryptable`.
#[derive(Debug, Clone, Serialize)]
pub struct UndecryptableFields<'a> {
    pub action: &'static str,
    pub undecryptable_message_id: &'a str,
    /// One of [`Undecryptable::REASONS`].
    pub reason: &'a str,
}

/// `message.ack`'s payload.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptPayload<'a> {
    /// The chat's full JID.
    pub chat_id: &'a str,
    /// `sender in chat` for groups, the chat alone otherwise.
    pub from: String,
    pub ids: &'a [String],
    pub receipt_type: &'static str,
    pub receipt_type_description: &'static str,
    /// The sender's full JID.
    pub sender_id: &'a str,
    /// The sender's LID, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_lid: Option<&'a str>,
}

/// `group.participants`'s payload.
#[derive(Debug, Clone, Serialize)]
pub struct GroupPayload<'a> {
    /// The group's full JID.
    pub chat_id: &'a str,
    /// `join`, `leave`, `promote` or `demote`.
    #[serde(rename = "type")]
    pub action: &'static str,
    pub jids: &'a [String],
    /// The participants by both names (`[{jid, lid, phone}]`), when a LID is known for
    /// any of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<&'a [ParticipantIds]>,
}

/// `group.update`'s payload.
#[derive(Debug, Clone, Serialize)]
pub struct GroupUpdatePayload<'a> {
    /// The group's full JID.
    pub chat_id: &'a str,
    /// What changed: `subject`, `description`, `announce`, `locked`, `approval`, `photo`
    /// or `invite_link`.
    #[serde(rename = "type")]
    pub change: &'static str,
    /// The new subject, description or photo id; null when removed or not a text.
    pub text: Option<&'a str>,
    /// A setting's new state; null for the other changes.
    pub enabled: Option<bool>,
    /// Who changed it (full JID), when known.
    pub author: Option<&'a str>,
}

/// `chat_presence`'s payload.
#[derive(Debug, Clone, Serialize)]
pub struct ChatPresencePayload<'a> {
    /// The chat's full JID.
    pub chat_id: &'a str,
    /// The sender's full JID (phone number when known).
    pub from: &'a str,
    /// The sender's LID, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_lid: Option<&'a str>,
    /// `composing` (typing or recording) or `paused`.
    pub state: &'static str,
    /// `audio` when recording a voice note, else empty.
    pub media: &'static str,
    pub is_group: bool,
}

/// `queue.job`'s payload.
#[derive(Debug, Clone, Serialize)]
pub struct QueueJobPayload<'a> {
    pub instance_id: &'a str,
    pub job_id: i64,
    pub status: &'static str,
    /// The send route the job came from (`text`, `location`, `contact`, ...).
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<&'a str>,
}

/// `call.offer`'s, `call.missed`'s and `call.ended`'s payload.
#[derive(Debug, Clone, Serialize)]
pub struct CallPayload<'a> {
    pub call_id: &'a str,
    /// The caller's full JID (phone number when known).
    pub from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_lid: Option<&'a str>,
    pub auto_rejected: bool,
    pub is_video: bool,
    pub is_group: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_jid: Option<&'a str>,
    /// Why the call stopped (`call.missed`, `call.ended`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// The source's human-readable text for each receipt type (the first two are the source
/// document's words; `played` has no example there).
pub fn receipt_type_description(receipt_type: ReceiptType) -> &'static str {
    match receipt_type {
        ReceiptType::Delivered => {
            "means the message was delivered to the device (but the user might not have noticed)."
        }
        ReceiptType::Read => "the user opened the chat and saw the message.",
        ReceiptType::Played => "the user played the voice message or video, or opened the view-once media.",
    }
}

/// The gowa payload of `event`, or `None` when the format does not carry it.
pub fn payload(event: &Event) -> Option<Payload<'_>> {
    match &event.kind {
        EventKind::Message(message) => Some(Payload::Message(message_payload(message))),
        EventKind::MessageUndecryptable(message) => Some(Payload::Message(undecryptable_payload(message))),
        EventKind::Receipt(receipt) => Some(Payload::Receipt(receipt_payload(receipt))),
        EventKind::GroupParticipants(change) => Some(Payload::GroupParticipants(group_payload(change))),
        EventKind::GroupUpdate(update) => Some(Payload::GroupUpdate(group_update_payload(update))),
        EventKind::ChatState(change) => Some(Payload::ChatPresence(chat_presence_payload(change))),
        EventKind::PollVote(vote) => Some(Payload::Message(poll_vote_payload(vote))),
        EventKind::CallOffer(call) => Some(Payload::Call(call_payload("call.offer", call))),
        EventKind::CallMissed(call) => Some(Payload::Call(call_payload("call.missed", call))),
        EventKind::CallEnded(call) => Some(Payload::Call(call_payload("call.ended", call))),
        EventKind::QueueJob(job) => Some(Payload::QueueJob(queue_job_payload(event, job))),
        EventKind::Qr { .. }
        | EventKind::StatusChanged { .. }
        | EventKind::Paired { .. }
        | EventKind::LoggedOut { .. }
        | EventKind::Offline { .. }
        | EventKind::PluginError { .. }
        | EventKind::System { .. } => None,
    }
}

/// The gowa payload of `event` as a JSON value.
pub fn format(event: &Event) -> Option<serde_json::Value> {
    payload(event).map(|payload| serde_json::to_value(payload).expect("payloads are plain JSON"))
}

/// The gowa payload of `event` as the bytes of a request body.
pub fn to_vec(event: &Event) -> Option<Vec<u8>> {
    payload(event).map(|payload| serde_json::to_vec(&payload).expect("payloads are plain JSON"))
}

fn message_payload(message: &Message) -> MessagePayload<'_> {
    let body = MessageBody {
        text: match &message.content {
            Content::Text { text } | Content::Edited { text, .. } => text,
            _ => "",
        },
        id: &message.id,
        replied_id: message.quoted.as_ref().map_or("", |quoted| quoted.id.as_str()),
        quoted_message: message.quoted.as_ref().map_or("", |quoted| quoted.text.as_str()),
    };
    let context_info = message.ephemeral.as_ref().map(context_info);
    let content = match &message.content {
        Content::Text { .. } => None,
        Content::Image(media) => Some(ContentPart::Image(media_body(media))),
        Content::Video(media) => Some(ContentPart::Video(media_body(media))),
        Content::Audio(media) => Some(ContentPart::Audio(media_body(media))),
        Content::Document(media) => Some(ContentPart::Document(media_body(media))),
        Content::Sticker(media) => Some(ContentPart::Sticker(media_body(media))),
        Content::Contact { display_name, vcard } => Some(ContentPart::Contact(ContactBody {
            display_name,
            vcard,
            context_info,
        })),
        Content::Location {
            latitude,
            longitude,
            name,
            address,
            thumbnail_base64,
        } => Some(ContentPart::Location(LocationBody {
            degrees_latitude: *latitude,
            degrees_longitude: *longitude,
            name: name.as_deref(),
            address: address.as_deref(),
            jpeg_thumbnail: thumbnail_base64.as_deref(),
            context_info,
        })),
        Content::Reaction { emoji, target_id } => Some(ContentPart::Reaction(ReactionBody {
            message: emoji,
            id: target_id,
        })),
        Content::Revoked {
            target_id,
            target_chat,
            target_from_me,
        } => Some(ContentPart::Revoked(RevokedFields {
            action: "message_revoked",
            revoked_chat: target_chat,
            revoked_from_me: *target_from_me,
            revoked_message_id: target_id,
        })),
        Content::Edited { target_id, text } => Some(ContentPart::Edited(EditedFields {
            action: "message_edited",
            original_message_id: target_id,
            edited_text: text,
        })),
        Content::DeletedForMe {
            target_id,
            target_from_me,
        } => Some(ContentPart::DeletedForMe(DeletedForMeFields {
            action: "message_deleted_for_me",
            deleted_message_id: target_id,
            deleted_from_me: *target_from_me,
        })),
    };
    let has_message_object = !matches!(message.content, Content::DeletedForMe { .. });
    MessagePayload {
        sender_id: user_part(&message.sender),
        chat_id: user_part(&message.chat),
        from: &message.sender,
        from_lid: message.sender_lid.as_deref(),
        chat_lid: message.chat_lid.as_deref(),
        timestamp: rfc3339_from_secs(message.timestamp),
        pushname: message.push_name.as_deref().unwrap_or(""),
        message: has_message_object.then_some(body),
        content,
        view_once: message.view_once,
        forwarded: message.forwarded,
    }
}

fn poll_vote_payload(vote: &PollVote) -> MessagePayload<'_> {
    MessagePayload {
        sender_id: user_part(&vote.voter),
        chat_id: user_part(&vote.chat),
        from: &vote.voter,
        // In the `poll_vote` object, as the format had it first.
        from_lid: None,
        chat_lid: None,
        timestamp: rfc3339_from_secs(vote.timestamp),
        pushname: vote.push_name.as_deref().unwrap_or(""),
        message: Some(MessageBody {
            text: "",
            id: &vote.id,
            replied_id: "",
            quoted_message: "",
        }),
        content: Some(ContentPart::PollVote(PollVoteBody {
            poll_id: &vote.poll_id,
            selected_options: &vote.selected,
            totals: &vote.totals,
            from_lid: vote.voter_lid.as_deref(),
        })),
        view_once: false,
        forwarded: false,
    }
}

fn undecryptable_payload(message: &Undecryptable) -> MessagePayload<'_> {
    MessagePayload {
        sender_id: user_part(&message.sender),
        chat_id: user_part(&message.chat),
        from: &message.sender,
        from_lid: message.sender_lid.as_deref(),
        chat_lid: message.chat_lid.as_deref(),
        timestamp: rfc3339_from_secs(message.timestamp),
        pushname: message.push_name.as_deref().unwrap_or(""),
        message: None,
        content: Some(ContentPart::Undecryptable(UndecryptableFields {
            action: "message_undecryptable",
            undecryptable_message_id: &message.id,
            reason: &message.reason,
        })),
        view_once: false,
        forwarded: false,
    }
}

fn media_body(media: &Media) -> MediaBody<'_> {
    MediaBody {
        media_path: media.media_path.as_deref(),
        mime_type: &media.mime_type,
        caption: media.caption.as_deref().unwrap_or(""),
        download_error: media.download_error.as_deref(),
    }
}

fn context_info(ephemeral: &Ephemeral) -> ContextInfo {
    ContextInfo {
        expiration: ephemeral.expiration,
        ephemeral_setting_timestamp: ephemeral.setting_timestamp,
        disappearing_mode: ephemeral.disappearing_mode.map(|mode| DisappearingModeBody {
            initiator: mode.initiator,
            trigger: mode.trigger,
            initiated_by_me: mode.initiated_by_me,
        }),
    }
}

fn receipt_payload(receipt: &Receipt) -> Wrapped<ReceiptPayload<'_>> {
    Wrapped {
        event: "message.ack",
        payload: ReceiptPayload {
            chat_id: &receipt.chat,
            from: source_string(&receipt.sender, &receipt.chat),
            ids: &receipt.ids,
            receipt_type: receipt.receipt_type.as_str(),
            receipt_type_description: receipt_type_description(receipt.receipt_type),
            sender_id: &receipt.sender,
            sender_lid: receipt.sender_lid.as_deref(),
        },
        timestamp: rfc3339_from_secs(receipt.timestamp),
    }
}

fn group_payload(change: &GroupParticipants) -> Wrapped<GroupPayload<'_>> {
    Wrapped {
        event: "group.participants",
        payload: GroupPayload {
            chat_id: &change.group,
            action: change.action.as_str(),
            jids: &change.jids,
            participants: participants_with_lids(&change.participants),
        },
        timestamp: rfc3339_from_secs(change.timestamp),
    }
}

fn group_update_payload(update: &GroupUpdate) -> Wrapped<GroupUpdatePayload<'_>> {
    Wrapped {
        event: "group.update",
        payload: GroupUpdatePayload {
            chat_id: &update.group,
            change: update.change.as_str(),
            text: update.text.as_deref(),
            enabled: update.enabled,
            author: update.author.as_deref(),
        },
        timestamp: rfc3339_from_secs(update.timestamp),
    }
}

fn chat_presence_payload(change: &ChatStateChange) -> Wrapped<ChatPresencePayload<'_>> {
    let (state, media) = match change.state {
        ChatState::Typing => ("composing", ""),
        ChatState::Recording => ("composing", "audio"),
        ChatState::Paused => ("paused", ""),
    };
    Wrapped {
        event: "chat_presence",
        payload: ChatPresencePayload {
            chat_id: &change.chat,
            from: &change.sender,
            from_lid: change.sender_lid.as_deref(),
            state,
            media,
            is_group: change.is_group,
        },
        timestamp: rfc3339_from_secs(change.timestamp),
    }
}

fn queue_job_payload<'a>(event: &'a Event, job: &'a QueueJob) -> Wrapped<QueueJobPayload<'a>> {
    Wrapped {
        event: "queue.job",
        payload: QueueJobPayload {
            instance_id: &event.instance_id,
            job_id: job.job_id,
            status: job.status.as_str(),
            kind: &job.kind,
            batch_id: job.batch_id.as_deref(),
            message_id: job.message_id.as_deref(),
            failure: job.failure.as_deref(),
            to: job.to.as_deref(),
        },
        timestamp: rfc3339_from_secs(event.at_us.div_euclid(1_000_000)),
    }
}

fn call_payload<'a>(event: &'static str, call: &'a Call) -> Wrapped<CallPayload<'a>> {
    Wrapped {
        event,
        payload: CallPayload {
            call_id: &call.id,
            from: &call.from,
            from_lid: call.from_lid.as_deref(),
            auto_rejected: call.auto_rejected,
            is_video: call.is_video,
            is_group: call.is_group,
            group_jid: call.group.as_deref(),
            reason: call.reason.as_deref(),
        },
        timestamp: rfc3339_from_secs(call.timestamp),
    }
}
