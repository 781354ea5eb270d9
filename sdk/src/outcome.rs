//! What a plugin answers for one event: a [`Verdict`] plus [`Action`]s, built fluently.
//!
//! ```
//! use wasap_plugin::{Channel, ChatState, Outcome};
//! # let message = wasap_plugin::testing::text_message("6281234567890@s.whatsapp.net", "hi");
//! let outcome = Outcome::cont()
//!     .mark_read([&message.id])
//!     .react(&message.id, "👀")
//!     .chat_state(&message.chat, ChatState::Typing)
//!     .reply(&message, "Thanks, we will get back to you.")
//!     .publish(Channel::Global, r#"{"event":"note","data":{}}"#);
//! assert_eq!(outcome.actions.len(), 5);
//! ```
//!
//! A moderation bot (capability `moderate`) changes a group's participants, blocks a
//! contact and declines calls:
//!
//! ```
//! use wasap_plugin::{Outcome, ParticipantChange};
//! # let message = wasap_plugin::testing::text_message("6281234567890@s.whatsapp.net", "spam");
//! let group = "120363402106000703@g.us";
//! let outcome = Outcome::drop()
//!     .group_participants(group, ParticipantChange::Remove, [&message.sender])
//!     .block(&message.sender)
//!     .reject_call("CALL0123456789ABCDEF", &message.sender);
//! assert_eq!(outcome.actions.len(), 3);
//! ```
//!
//! A send can go through the instance's send queue instead of at once: at the instance's
//! pace, or at a time (unix microseconds; here an hour after the message's event), as a
//! send the HTTP API queued:
//!
//! ```
//! use wasap_plugin::{Outcome, SendText};
//! # let event = wasap_plugin::testing::message_event(
//! #     wasap_plugin::testing::text_message("6281234567890@s.whatsapp.net", "remind me"));
//! # let wasap_plugin::EventKind::Message(message) = &event.kind else { unreachable!() };
//! const HOUR_US: i64 = 3_600_000_000;
//! let outcome = Outcome::cont()
//!     .queue(SendText::new(&message.chat, "Noted, I will remind you in an hour."))
//!     .schedule(SendText::new(&message.chat, "Your reminder").replying_to(&message.id), event.at_us + HOUR_US);
//! assert_eq!(outcome.actions.len(), 2);
//! ```
//!
//! The actions that name an earlier message (react, edit, revoke, mark read) name it by its
//! WhatsApp id: one the instance received (an event's `message.id`) or sent. The host looks
//! the id up among the instance's messages and does nothing with an unknown one (it logs
//! why, as for every action that fails after the plugin has answered).

use wasap_events::{Event, Message};

use crate::bindings::wasap::plugin::types as w;

/// Something the host does on a plugin's behalf (see the WIT `action` variant). Each kind
/// needs its manifest capability (`send` for messages, sent at once or queued, and the
/// actions on messages and chats, `moderate` for group participants, blocking and rejecting calls, `webhook`,
/// `publish`); the host refuses an action that is not granted.
pub use w::Action;
pub use w::{
    BlockContact, CardToSend, ChangeParticipants, Channel, ChatState, DeleteForMe, Edit, Forward, GivenLinkPreview,
    LinkPreview, MarkRead, MediaType, ParticipantChange, Publish, QueuedMessage, QueuedSend, React, RejectCall, Revoke,
    SendContacts, SendLocation, SendMedia, SendPoll, SendText, SetChatState, WebhookRequest, WebhookTarget,
};

/// What becomes of the event after this plugin.
// Boxing the event would cost every replacing plugin an allocation to save a few bytes
// on an outcome that lives for one call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Pass the event on unchanged.
    Continue,
    /// Stop the event: later plugins, including the built-in outputs, never see it.
    Drop,
    /// Pass this event on instead. It must keep the original event's id and instance:
    /// the host refuses a replacement with another as bad output (the failure policy
    /// applies). Change the event's kind, not its identity.
    Replace(Event),
}

/// A plugin's answer to one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What becomes of the event.
    pub verdict: Verdict,
    /// What the host should do besides, in order.
    pub actions: Vec<Action>,
}

impl Outcome {
    /// Lets the event continue down the chain unchanged.
    pub fn cont() -> Outcome {
        Outcome::with_verdict(Verdict::Continue)
    }

    /// Drops the event: no later plugin and no output sees it.
    pub fn drop() -> Outcome {
        Outcome::with_verdict(Verdict::Drop)
    }

    /// Passes `event` on instead of the one received.
    pub fn replace(event: Event) -> Outcome {
        Outcome::with_verdict(Verdict::Replace(event))
    }

    fn with_verdict(verdict: Verdict) -> Outcome {
        Outcome {
            verdict,
            actions: Vec::new(),
        }
    }

    /// Adds any action.
    pub fn action(mut self, action: Action) -> Outcome {
        self.actions.push(action);
        self
    }

    /// Replies to `message` in its chat, quoting it.
    pub fn reply(self, message: &Message, text: impl Into<String>) -> Outcome {
        self.send(SendText::new(&message.chat, text).replying_to(&message.id))
    }

    /// Sends a text message to `to` (a phone number without `+`, or a JID).
    pub fn send_text(self, to: impl Into<String>, text: impl Into<String>) -> Outcome {
        self.send(SendText::new(to, text))
    }

    /// Sends a text message built with [`SendText::new`] and its options (a reply,
    /// mentions, mention everyone, a link preview).
    pub fn send(self, text: SendText) -> Outcome {
        self.action(Action::SendText(text))
    }

    /// Sends a location to `to`. Capability `send`.
    pub fn send_location(self, location: SendLocation) -> Outcome {
        self.action(Action::SendLocation(location))
    }

    /// Sends contact cards (1 to 20, e.g. [`CardToSend::phone`]) to `to`, as one
    /// message. Capability `send`.
    pub fn send_contacts(self, to: impl Into<String>, cards: Vec<CardToSend>) -> Outcome {
        self.action(Action::SendContacts(SendContacts { to: to.into(), cards }))
    }

    /// Sends a poll to `to`: a question and 2 to 12 distinct options, of which a voter may
    /// pick up to `selectable_count` (1 = a single choice). Votes come back as poll-vote
    /// events. Capability `send`.
    pub fn send_poll<I>(
        self,
        to: impl Into<String>,
        name: impl Into<String>,
        options: I,
        selectable_count: u32,
    ) -> Outcome
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.action(Action::SendPoll(SendPoll {
            to: to.into(),
            name: name.into(),
            options: options.into_iter().map(Into::into).collect(),
            selectable_count,
        }))
    }

    /// Forwards the message `message_id` (one the instance received or sent) to `to`,
    /// marked as forwarded. Capability `send`.
    pub fn forward(self, message_id: impl Into<String>, to: impl Into<String>) -> Outcome {
        self.action(Action::Forward(Forward {
            message_id: message_id.into(),
            to: to.into(),
        }))
    }

    /// Deletes the message `message_id` on the instance's account only; the other people
    /// in the chat keep it. Capability `send`.
    pub fn delete_for_me(self, message_id: impl Into<String>) -> Outcome {
        self.action(Action::DeleteForMe(DeleteForMe {
            message_id: message_id.into(),
        }))
    }

    /// Sends media that the host fetches from `media.url`.
    pub fn send_media(self, media: SendMedia) -> Outcome {
        self.action(Action::SendMedia(media))
    }

    /// Reacts to the message `message_id` (e.g. `&message.id`) with `emoji`, replacing
    /// the instance's earlier reaction to it; an empty `emoji` withdraws the reaction
    /// (see [`Outcome::withdraw_reaction`]). Capability `send`.
    pub fn react(self, message_id: impl Into<String>, emoji: impl Into<String>) -> Outcome {
        self.action(Action::React(React {
            message_id: message_id.into(),
            emoji: emoji.into(),
        }))
    }

    /// Withdraws the instance's reaction to the message `message_id`. Capability `send`.
    pub fn withdraw_reaction(self, message_id: impl Into<String>) -> Outcome {
        self.react(message_id, "")
    }

    /// Replaces the text of the message `message_id`: a text message the instance sent,
    /// less than 15 minutes ago (WhatsApp refuses other edits, and the host does not
    /// ask). Capability `send`.
    pub fn edit(self, message_id: impl Into<String>, text: impl Into<String>) -> Outcome {
        self.action(Action::Edit(Edit {
            message_id: message_id.into(),
            text: text.into(),
        }))
    }

    /// Deletes the message `message_id`, one the instance sent, for everyone.
    /// Capability `send`.
    pub fn revoke(self, message_id: impl Into<String>) -> Outcome {
        self.action(Action::Revoke(Revoke {
            message_id: message_id.into(),
        }))
    }

    /// Marks messages the instance received as read (e.g. `[&message.id]`): their
    /// senders see blue ticks. One to 100 ids; the host refuses the outcome otherwise.
    /// Capability `send`.
    pub fn mark_read<I>(self, message_ids: I) -> Outcome
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.action(Action::MarkRead(MarkRead {
            message_ids: message_ids.into_iter().map(Into::into).collect(),
        }))
    }

    /// Shows `state` in the chat with `to` (a phone number without `+`, or a JID such as
    /// `message.chat`): "typing…" or "recording audio…", until a message follows,
    /// [`ChatState::Paused`] ends it, or WhatsApp lets it lapse. Capability `send`.
    pub fn chat_state(self, to: impl Into<String>, state: ChatState) -> Outcome {
        self.action(Action::ChatState(SetChatState { to: to.into(), state }))
    }

    /// Adds, removes, promotes or demotes `participants` (1 to 256 phone numbers without
    /// `+`, or user JIDs such as a message's `sender`) of `group` (its JID, e.g. a group
    /// message's `chat`). The instance must be an admin of the group; WhatsApp refuses
    /// the change for some participants only when it must (their privacy settings, not a
    /// member), and the host logs those. Capability `moderate`.
    pub fn group_participants<I>(self, group: impl Into<String>, change: ParticipantChange, participants: I) -> Outcome
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.action(Action::GroupParticipants(ChangeParticipants {
            group: group.into(),
            change,
            participants: participants.into_iter().map(Into::into).collect(),
        }))
    }

    /// Blocks `contact` (a phone number without `+`, or a user JID such as a message's
    /// `sender`) on the instance's account: they can no longer message or call it.
    /// Capability `moderate`.
    pub fn block(self, contact: impl Into<String>) -> Outcome {
        self.action(Action::BlockContact(BlockContact {
            contact: contact.into(),
            blocked: true,
        }))
    }

    /// Unblocks `contact` (a phone number without `+`, or a user JID). Capability
    /// `moderate`.
    pub fn unblock(self, contact: impl Into<String>) -> Outcome {
        self.action(Action::BlockContact(BlockContact {
            contact: contact.into(),
            blocked: false,
        }))
    }

    /// Declines the call `call_id` from `caller` that rings on the instance: for a
    /// `call-offer` event, `call.id` and `call.from`. The caller sees it declined.
    /// Capability `moderate`.
    pub fn reject_call(self, call_id: impl Into<String>, caller: impl Into<String>) -> Outcome {
        self.action(Action::RejectCall(RejectCall {
            call_id: call_id.into(),
            caller: caller.into(),
        }))
    }

    /// Puts `message` (a [`SendText`], [`SendMedia`], [`SendLocation`], [`SendContacts`] or
    /// [`SendPoll`]) in the instance's send queue, to go as soon as the instance's pace
    /// allows, instead of at once: the host checks it as the HTTP API checks a queued send
    /// and stores it as a job, which the queue sends with its pacing, statuses and
    /// `queue-job` events. A queued media send's file name goes with it. Capability `send`.
    pub fn queue(self, message: impl Into<QueuedMessage>) -> Outcome {
        self.queue_send(QueuedSend {
            message: message.into(),
            send_at_us: None,
        })
    }

    /// Puts `message` in the instance's send queue to go at `send_at_us` (unix
    /// microseconds, e.g. an event's `at_us` plus a delay, or [`crate::clock::now_us`]
    /// plus one) at the earliest, then at the instance's pace. A past time means as soon
    /// as may be; one more than 366 days ahead is refused (logged). Capability `send`.
    pub fn schedule(self, message: impl Into<QueuedMessage>, send_at_us: i64) -> Outcome {
        self.queue_send(QueuedSend {
            message: message.into(),
            send_at_us: Some(send_at_us),
        })
    }

    /// Puts a [`QueuedSend`] in the instance's send queue (see [`Outcome::queue`] and
    /// [`Outcome::schedule`]). Capability `send`.
    pub fn queue_send(self, send: QueuedSend) -> Outcome {
        self.action(Action::Queue(send))
    }

    /// Queues a webhook delivery; the host signs and delivers it durably.
    pub fn webhook(self, request: WebhookRequest) -> Outcome {
        self.action(Action::Webhook(request))
    }

    /// Publishes a WebSocket frame on `channel`.
    pub fn publish(self, channel: Channel, frame: impl Into<String>) -> Outcome {
        self.action(Action::Publish(Publish {
            channel,
            frame: frame.into(),
        }))
    }
}

impl SendText {
    /// A text to `to` (a phone number without `+`, or a JID), with no options.
    pub fn new(to: impl Into<String>, text: impl Into<String>) -> SendText {
        SendText {
            to: to.into(),
            text: text.into(),
            reply_to: None,
            mentions: Vec::new(),
            mention_all: false,
            link_preview: None,
        }
    }

    /// Quotes the message `message_id`, making this a reply.
    pub fn replying_to(mut self, message_id: impl Into<String>) -> SendText {
        self.reply_to = Some(message_id.into());
        self
    }

    /// Mentions these users (phone numbers or JIDs); write them as `@<number>` in the text.
    pub fn mentioning<I>(mut self, users: I) -> SendText
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.mentions.extend(users.into_iter().map(Into::into));
        self
    }

    /// In a group, mentions every participant (the host fills them in).
    pub fn mentioning_everyone(mut self) -> SendText {
        self.mention_all = true;
        self
    }

    /// Shows a preview of the first link in the text: [`LinkPreview::Fetch`] has the host
    /// fetch it, [`LinkPreview::Given`] shows the one given.
    pub fn with_link_preview(mut self, preview: LinkPreview) -> SendText {
        self.link_preview = Some(preview);
        self
    }
}

impl CardToSend {
    /// A card for `name` with the phone number `phone`; the host writes the vCard.
    pub fn phone(name: impl Into<String>, phone: impl Into<String>) -> CardToSend {
        CardToSend {
            name: name.into(),
            phone: Some(phone.into()),
            vcard: None,
        }
    }

    /// A card made of a whole vCard (`BEGIN:VCARD` ... `END:VCARD`), shown as `name`.
    pub fn vcard(name: impl Into<String>, vcard: impl Into<String>) -> CardToSend {
        CardToSend {
            name: name.into(),
            phone: None,
            vcard: Some(vcard.into()),
        }
    }
}

impl From<SendText> for QueuedMessage {
    fn from(text: SendText) -> Self {
        QueuedMessage::Text(text)
    }
}

impl From<SendMedia> for QueuedMessage {
    fn from(media: SendMedia) -> Self {
        QueuedMessage::Media(media)
    }
}

impl From<SendLocation> for QueuedMessage {
    fn from(location: SendLocation) -> Self {
        QueuedMessage::Location(location)
    }
}

impl From<SendContacts> for QueuedMessage {
    fn from(contacts: SendContacts) -> Self {
        QueuedMessage::Contacts(contacts)
    }
}

impl From<SendPoll> for QueuedMessage {
    fn from(poll: SendPoll) -> Self {
        QueuedMessage::Poll(poll)
    }
}

impl WebhookRequest {
    /// A JSON body for every webhook subscribed to `format` (signed by the host according
    /// to the format), for the event `event_id`.
    pub fn json_to_subscribers(
        format: impl Into<String>,
        event_id: impl Into<String>,
        body: Vec<u8>,
    ) -> WebhookRequest {
        WebhookRequest {
            target: WebhookTarget::Subscribers,
            format: format.into(),
            event_id: event_id.into(),
            content_type: "application/json".to_owned(),
            body,
            headers: Vec::new(),
        }
    }
}

impl From<Outcome> for w::Outcome {
    fn from(outcome: Outcome) -> Self {
        w::Outcome {
            verdict: match outcome.verdict {
                Verdict::Continue => w::Verdict::Continue,
                Verdict::Drop => w::Verdict::Drop,
                Verdict::Replace(event) => w::Verdict::Replace(event.into()),
            },
            actions: outcome.actions,
        }
    }
}

impl From<w::Outcome> for Outcome {
    fn from(outcome: w::Outcome) -> Self {
        Outcome {
            verdict: match outcome.verdict {
                w::Verdict::Continue => Verdict::Continue,
                w::Verdict::Drop => Verdict::Drop,
                w::Verdict::Replace(event) => Verdict::Replace(event.into()),
            },
            actions: outcome.actions,
        }
    }
}
