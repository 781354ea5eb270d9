//! The actions plugins ask for, carried out for one instance: messages (text,
//! media, locations, contact cards, polls, forwards), the actions on earlier
//! messages and chats (react, edit, revoke, delete for me, mark read, chat
//! state) and the moderation actions (group participants, blocking, rejecting
//! a call: [`super::moderation`]) go to the instance's send lane (one at a
//! time, in order, under a server-wide limit), sends to queue to the
//! instance's queue lane ([`super::queueing`]), frames to the WebSocket hub,
//! and webhook requests back to the worker, which queues those of a whole
//! batch together.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;

use super::bindings::types;
use super::chain::PluginAction;
use super::moderation::{Moderation, ModerationError};
use super::queueing::QueueLane;
use crate::delivery::{Outgoing, PluginRequest, Target, Webhooks};
use crate::engine::{ChatState, LinkPreview, MediaKind, OutgoingPoll};
use crate::messaging::forward::ForwardError;
use crate::messaging::outgoing_media::{MediaFromUrl, MediaOptions, MediaUrlError};
use crate::messaging::places_and_cards::{self, CardRequest};
use crate::messaging::polls::PollSendError;
use crate::messaging::{ActionError, Mentions, Messenger, PreviewRequest, SendError, TextSend};
use crate::send_queue::SendQueue;
use crate::websocket::{Channel, Hub};

/// Sends waiting per instance before its worker has to wait.
const SENDS: usize = 256;
/// Plugin actions (sends) carried out at the same time, server-wide.
const CONCURRENT_SENDS: usize = 64;

/// What plugins' actions reach.
#[derive(Clone)]
pub struct ActionOutputs {
    /// `send-text`, `send-media`, and the actions on messages and chats.
    pub messenger: Messenger,
    /// The media of `send-media`, fetched by URL.
    pub media: MediaFromUrl,
    /// `publish`.
    pub hub: Hub,
    /// `webhook`.
    pub webhooks: Webhooks,
    /// `queue`: the sends plugins queue.
    pub queue: SendQueue,
}

/// The permits every instance's send lane takes one of per send, so that
/// plugins cannot start more than [`CONCURRENT_SENDS`] sends at once.
pub(super) fn send_permits() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(CONCURRENT_SENDS))
}

/// Carries out the actions of one instance's events.
pub(super) struct InstanceActions {
    instance_id: String,
    hub: Hub,
    sends: mpsc::Sender<PlannedSend>,
    queued: QueueLane,
}

impl InstanceActions {
    /// The actions of `instance_id`, with its send lane and its queue lane
    /// started; each ends after its last send once this is dropped. Called
    /// in the instance's plugin worker, whose span the lanes run in too.
    pub(super) fn start(instance_id: &str, outputs: &ActionOutputs, permits: Arc<Semaphore>) -> InstanceActions {
        let (sends, receiver) = mpsc::channel(SENDS);
        let lane = SendLane {
            instance_id: instance_id.to_owned(),
            messenger: outputs.messenger.clone(),
            media: outputs.media.clone(),
            permits,
        };
        tokio::spawn(lane.run(receiver).in_current_span());
        InstanceActions {
            instance_id: instance_id.to_owned(),
            hub: outputs.hub.clone(),
            sends,
            queued: QueueLane::start(instance_id, outputs),
        }
    }

    /// Carries out the actions of an event of kind `event_kind`. Sends go to
    /// the send lane, so replies leave in the order of the events that caused
    /// them, while the next event already runs through the chain. Webhook
    /// requests are collected in `webhooks`, for the worker to queue together
    /// with those of the other events of its batch.
    /// `seq` is the event's place in the inbound journal, when it has one:
    /// the frames it publishes carry it as their replay cursor.
    pub(super) async fn carry_out(
        &self,
        event_kind: &str,
        seq: Option<i64>,
        actions: Vec<PluginAction>,
        webhooks: &mut Vec<PluginRequest>,
    ) {
        for planned in actions {
            let plugin = planned.plugin.name().to_owned();
            let send = match planned.action {
                types::Action::SendText(send) => Message::Text(send),
                types::Action::SendMedia(send) => Message::Media(send),
                types::Action::React(react) => Message::React(react),
                types::Action::Edit(edit) => Message::Edit(edit),
                types::Action::Revoke(revoke) => Message::Revoke(revoke),
                types::Action::MarkRead(read) => Message::MarkRead(read),
                types::Action::ChatState(state) => Message::ChatState(state),
                types::Action::SendLocation(location) => Message::Location(location),
                types::Action::SendContacts(contacts) => Message::Contacts(contacts),
                types::Action::SendPoll(poll) => Message::Poll(poll),
                types::Action::Forward(forward) => Message::Forward(forward),
                types::Action::DeleteForMe(delete) => Message::DeleteForMe(delete),
                types::Action::GroupParticipants(change) => Message::Moderation(Moderation::Participants(change)),
                types::Action::BlockContact(block) => Message::Moderation(Moderation::Block(block)),
                types::Action::RejectCall(call) => Message::Moderation(Moderation::RejectCall(call)),
                // Stored by the queue lane, which the worker never waits on.
                types::Action::Queue(send) => {
                    self.queued.plan(plugin, send);
                    continue;
                }
                // The chain has checked the grant and that an instance channel
                // is the event's own; the hub never waits on a listener.
                types::Action::Publish(publish) => {
                    let channel = match publish.channel {
                        types::Channel::Global => Channel::Global,
                        types::Channel::Instance(id) => Channel::Instance(id),
                    };
                    match seq {
                        Some(seq) => self.hub.publish_at(&channel, &publish.frame, seq),
                        None => self.hub.publish(&channel, Arc::from(publish.frame)),
                    };
                    continue;
                }
                types::Action::Webhook(request) => {
                    let request = Outgoing {
                        target: match request.target {
                            types::WebhookTarget::Subscribers => Target::Subscribers,
                            types::WebhookTarget::Url(url) => Target::Url(url),
                        },
                        format: request.format,
                        event_id: request.event_id,
                        content_type: request.content_type,
                        body: request.body,
                        headers: request.headers,
                    };
                    webhooks.push(PluginRequest {
                        instance_id: self.instance_id.clone(),
                        event_kind: event_kind.to_owned(),
                        plugin,
                        request,
                    });
                    continue;
                }
            };
            self.plan(PlannedSend { plugin, send }).await;
        }
    }

    async fn plan(&self, send: PlannedSend) {
        if self.sends.send(send).await.is_err() {
            tracing::error!("the send lane of an instance stopped; a plugin's message was not sent");
        }
    }
}

/// A message a plugin asked for.
struct PlannedSend {
    plugin: String,
    send: Message,
}

/// What goes out through the send lane: a message, an action on an earlier
/// message or a chat (WhatsApp sees each as a message of its own), or a
/// moderation action (in order with the messages the same plugins asked for).
enum Message {
    Text(types::SendText),
    Media(types::SendMedia),
    React(types::React),
    Edit(types::Edit),
    Revoke(types::Revoke),
    MarkRead(types::MarkRead),
    ChatState(types::SetChatState),
    Location(types::SendLocation),
    Contacts(types::SendContacts),
    Poll(types::SendPoll),
    Forward(types::Forward),
    DeleteForMe(types::DeleteForMe),
    Moderation(Moderation),
}

impl Message {
    /// The action's name in the WIT, for the log.
    fn action(&self) -> &'static str {
        match self {
            Message::Text(_) => "send-text",
            Message::Media(_) => "send-media",
            Message::React(_) => "react",
            Message::Edit(_) => "edit",
            Message::Revoke(_) => "revoke",
            Message::MarkRead(_) => "mark-read",
            Message::ChatState(_) => "chat-state",
            Message::Location(_) => "send-location",
            Message::Contacts(_) => "send-contacts",
            Message::Poll(_) => "send-poll",
            Message::Forward(_) => "forward",
            Message::DeleteForMe(_) => "delete-for-me",
            Message::Moderation(moderation) => moderation.action(),
        }
    }
}

/// Why a plugin's message was not sent (logged: the plugin has already answered).
#[derive(Debug, thiserror::Error)]
enum LaneError {
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Media(#[from] MediaUrlError),
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    PlaceOrCards(#[from] places_and_cards::Unsendable),
    #[error(transparent)]
    Poll(#[from] PollSendError),
    #[error(transparent)]
    Forward(#[from] ForwardError),
    #[error(transparent)]
    Moderation(#[from] ModerationError),
}

/// One instance's send lane: its plugins' messages, one at a time, in the
/// order they were planned (under the server-wide limit on concurrent sends).
/// It ends when the worker that feeds it does, after the last queued send.
struct SendLane {
    instance_id: String,
    messenger: Messenger,
    media: MediaFromUrl,
    permits: Arc<Semaphore>,
}

impl SendLane {
    async fn run(self, mut sends: mpsc::Receiver<PlannedSend>) {
        while let Some(PlannedSend { plugin, send }) = sends.recv().await {
            let Ok(_permit) = self.permits.acquire().await else {
                return;
            };
            let action = send.action();
            if let Err(e) = self.send(&plugin, send).await {
                tracing::warn!(%plugin, action, error = %e, "a plugin's message was not sent");
            }
        }
    }

    async fn send(&self, plugin: &str, send: Message) -> Result<(), LaneError> {
        match send {
            Message::Text(text) => {
                let send = TextSend {
                    text: text.text,
                    reply_to: text.reply_to,
                    mentions: Mentions {
                        users: text.mentions,
                        everyone: text.mention_all,
                    },
                    preview: text.link_preview.map(preview_request),
                };
                self.messenger.send_rich_text(&self.instance_id, &text.to, send).await?;
            }
            Message::Media(media) => {
                // As the media-url route does: the recipient first, so a
                // message that cannot be sent costs no download.
                self.messenger.check_sendable(&self.instance_id, &media.to).await?;
                let options = MediaOptions {
                    kind: Some(media_kind(media.media_type)),
                    caption: media.caption,
                    file_name: media.file_name,
                    view_once: media.view_once,
                };
                let outgoing = self.media.fetch_with(&media.url, options).await?;
                self.messenger
                    .send_media_mentioning(
                        &self.instance_id,
                        &media.to,
                        outgoing,
                        &Mentions::users(&media.mentions),
                    )
                    .await?;
            }
            Message::React(react) => {
                self.messenger
                    .react(&self.instance_id, &react.message_id, &react.emoji)
                    .await?;
            }
            Message::Edit(edit) => {
                self.messenger
                    .edit(&self.instance_id, &edit.message_id, &edit.text)
                    .await?;
            }
            Message::Revoke(revoke) => {
                self.messenger.revoke(&self.instance_id, &revoke.message_id).await?;
            }
            Message::MarkRead(read) => {
                self.messenger.mark_read(&self.instance_id, &read.message_ids).await?;
            }
            Message::ChatState(state) => {
                let chat_state = match state.state {
                    types::ChatState::Typing => ChatState::Typing,
                    types::ChatState::Recording => ChatState::Recording,
                    types::ChatState::Paused => ChatState::Paused,
                };
                self.messenger
                    .chat_state(&self.instance_id, &state.to, chat_state)
                    .await?;
            }
            Message::Location(place) => {
                let location = places_and_cards::location(place.latitude, place.longitude, place.name, place.address)?;
                self.messenger
                    .send_location(&self.instance_id, &place.to, location)
                    .await?;
            }
            Message::Contacts(contacts) => {
                let requests = contacts
                    .cards
                    .into_iter()
                    .map(|card| CardRequest {
                        name: card.name,
                        phone: card.phone,
                        vcard: card.vcard,
                    })
                    .collect();
                let cards = places_and_cards::cards(requests)?;
                self.messenger
                    .send_contacts(&self.instance_id, &contacts.to, cards)
                    .await?;
            }
            Message::Poll(poll) => {
                let outgoing = OutgoingPoll {
                    name: poll.name,
                    options: poll.options,
                    selectable_count: poll.selectable_count,
                };
                self.messenger.send_poll(&self.instance_id, &poll.to, outgoing).await?;
            }
            Message::Forward(forward) => {
                self.messenger
                    .forward(&self.instance_id, &forward.message_id, &forward.to)
                    .await?;
            }
            Message::DeleteForMe(delete) => {
                self.messenger
                    .delete_for_me(&self.instance_id, &delete.message_id)
                    .await?;
            }
            Message::Moderation(moderation) => {
                moderation.carry_out(&self.messenger, &self.instance_id, plugin).await?;
            }
        }
        Ok(())
    }
}

/// The kind of media a plugin asked for, in the engine's terms.
pub(super) fn media_kind(media_type: types::MediaType) -> MediaKind {
    match media_type {
        types::MediaType::Image => MediaKind::Image,
        types::MediaType::Video => MediaKind::Video,
        types::MediaType::Audio => MediaKind::Audio,
        types::MediaType::Document => MediaKind::Document,
        types::MediaType::Sticker => MediaKind::Sticker,
        types::MediaType::Voice => MediaKind::Voice,
    }
}

/// The preview a plugin asked for, in the messenger's terms (which check a
/// given one as they check one given over the API).
fn preview_request(preview: types::LinkPreview) -> PreviewRequest {
    match preview {
        types::LinkPreview::Fetch => PreviewRequest::Fetch,
        types::LinkPreview::Given(given) => PreviewRequest::Given(LinkPreview {
            url: given.url,
            title: Some(given.title),
            description: given.description,
            thumbnail: given.thumbnail.map(bytes::Bytes::from),
        }),
    }
}
