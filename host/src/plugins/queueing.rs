//! The `queue` action (capability `send`): a plugin's send put in the
//! instance's send queue instead of its send lane. The message becomes the
//! body its send route queues (`POST /api/send/{id}`, `/media-url`,
//! `/location`, `/contact`, `/poll` with `"queue": true`), checked first as
//! that route checks it, so the queue's scheduler sends it exactly as a job
//! the API queued: at the instance's pace, with its statuses and job status
//! events. A send the host refuses is logged, as a failed send is.
//!
//! An instance's queued sends are stored by a lane of their own, not the
//! send lane. Storing a job emits its `queued` event into the plugin chain,
//! and that waits while the instance's plugin worker is behind; the worker
//! waits on its send lane when that is full. So the worker never waits on
//! this lane: it hands a queued send over or, with [`WAITING`] already
//! waiting, refuses it (logged, like a full queue).

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::actions::{ActionOutputs, media_kind};
use super::bindings::types;
use crate::engine::OutgoingPoll;
use crate::messaging::outgoing_media::{MAX_FILE_NAME_BYTES, MediaFromUrl, file_name_ok};
use crate::messaging::places_and_cards::{self, CardRequest};
use crate::messaging::polls::{self, InvalidPoll};
use crate::messaging::{MAX_TEXT_BYTES, Messenger, SendError};
use crate::outbound::FetchError;
use crate::send_queue::jobs::{MAX_SCHEDULE_DAYS, SendAtError};
use crate::send_queue::{QueueError, SendQueue};

/// Queued sends an instance's lane holds before the next is refused.
const WAITING: usize = 1024;

use crate::send_queue::kinds as kind;

/// Why a plugin's queued send was not queued (logged: the plugin has answered).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("the message is empty")]
    EmptyText,
    #[error("a text message holds at most {MAX_TEXT_BYTES} bytes")]
    TextTooLong,
    #[error("a media file name is at most {MAX_FILE_NAME_BYTES} bytes on one line")]
    FileName,
    #[error(transparent)]
    Url(#[from] FetchError),
    #[error(transparent)]
    PlaceOrCards(#[from] places_and_cards::Unsendable),
    #[error(transparent)]
    Poll(#[from] InvalidPoll),
    #[error(transparent)]
    Recipient(#[from] SendError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// A send as its route's queued job: the kind, and the body the route
/// would store.
#[derive(Debug, PartialEq)]
struct Job {
    kind: &'static str,
    request: Value,
}

/// One instance's queued sends, stored in the order they were asked for.
pub(super) struct QueueLane {
    sends: mpsc::Sender<(String, types::QueuedSend)>,
}

impl QueueLane {
    /// The lane of `instance_id`, started; it ends after its last send once
    /// this is dropped. Called in the instance's plugin worker, whose span
    /// the lane runs in too.
    pub(super) fn start(instance_id: &str, outputs: &ActionOutputs) -> QueueLane {
        let (sends, receiver) = mpsc::channel(WAITING);
        let storer = Storer {
            instance_id: instance_id.to_owned(),
            messenger: outputs.messenger.clone(),
            media: outputs.media.clone(),
            queue: outputs.queue.clone(),
        };
        tokio::spawn(storer.run(receiver).in_current_span());
        QueueLane { sends }
    }

    /// Hands `send`, asked for by `plugin`, to the lane without waiting.
    pub(super) fn plan(&self, plugin: String, send: types::QueuedSend) {
        if let Err(e) = self.sends.try_send((plugin, send)) {
            let (plugin, why) = match e {
                mpsc::error::TrySendError::Full((plugin, _)) => {
                    (plugin, format!("{WAITING} queued sends are waiting to be stored"))
                }
                mpsc::error::TrySendError::Closed((plugin, _)) => (plugin, "the lane stopped".to_owned()),
            };
            tracing::warn!(%plugin, action = "queue", error = %why, "a plugin's send was not queued");
        }
    }
}

/// What stores one instance's queued sends.
struct Storer {
    instance_id: String,
    messenger: Messenger,
    media: MediaFromUrl,
    queue: SendQueue,
}

impl Storer {
    async fn run(self, mut sends: mpsc::Receiver<(String, types::QueuedSend)>) {
        while let Some((plugin, send)) = sends.recv().await {
            match self.store(send).await {
                Ok(job_id) => tracing::debug!(%plugin, job = job_id, "a plugin's send was queued"),
                Err(e) => tracing::warn!(%plugin, action = "queue", error = %e, "a plugin's send was not queued"),
            }
        }
    }

    /// Checks `send` as its route checks a send asked to queue, and stores it.
    async fn store(&self, send: types::QueuedSend) -> Result<i64, Refused> {
        let now_ms = self.queue.clock().now_ms();
        let send_at = send.send_at_us.map(|at_us| send_at_ms(at_us, now_ms)).transpose()?;
        let (to, job) = self.checked(send.message)?;
        self.messenger.check_sendable(&self.instance_id, &to).await?;
        let queued = self
            .queue
            .enqueue(&self.instance_id, job.kind, &job.request, send_at, None)
            .await?;
        Ok(queued.job_id)
    }

    /// The recipient and the job of `message`, once what its route checks
    /// without WhatsApp passes.
    fn checked(&self, message: types::QueuedMessage) -> Result<(String, Job), Refused> {
        match &message {
            types::QueuedMessage::Text(text) => {
                if text.text.trim().is_empty() {
                    return Err(Refused::EmptyText);
                }
                if text.text.len() > MAX_TEXT_BYTES {
                    return Err(Refused::TextTooLong);
                }
            }
            types::QueuedMessage::Media(media) => {
                if media.file_name.as_deref().is_some_and(|name| !file_name_ok(name)) {
                    return Err(Refused::FileName);
                }
                // The URL as written; its host is resolved and checked when the job goes.
                let url = reqwest::Url::parse(media.url.trim()).map_err(|_| FetchError::InvalidUrl)?;
                self.media.fetcher.policy().check_url(&url).map_err(FetchError::from)?;
            }
            types::QueuedMessage::Location(place) => {
                places_and_cards::location(
                    place.latitude,
                    place.longitude,
                    place.name.clone(),
                    place.address.clone(),
                )?;
            }
            types::QueuedMessage::Contacts(contacts) => {
                places_and_cards::cards(contacts.cards.iter().map(card_request).collect())?;
            }
            types::QueuedMessage::Poll(poll) => {
                polls::check(OutgoingPoll {
                    name: poll.name.clone(),
                    options: poll.options.clone(),
                    selectable_count: poll.selectable_count,
                })?;
            }
        }
        Ok(job(message))
    }
}

/// `send-at-us` as the queue's `send_at` (unix ms, rounded up so that it
/// never goes early), refused as the routes refuse one too far ahead.
fn send_at_ms(at_us: i64, now_ms: i64) -> Result<i64, QueueError> {
    let at_ms = at_us.div_euclid(1000) + i64::from(at_us.rem_euclid(1000) != 0);
    if at_ms.saturating_sub(now_ms) > MAX_SCHEDULE_DAYS * 24 * 3600 * 1000 {
        return Err(SendAtError::TooFar(MAX_SCHEDULE_DAYS).into());
    }
    Ok(at_ms)
}

fn card_request(card: &types::CardToSend) -> CardRequest {
    CardRequest {
        name: card.name.clone(),
        phone: card.phone.clone(),
        vcard: card.vcard.clone(),
    }
}

/// The recipient, and the job its route would queue for `message`: the
/// body a client would post, without the fields left at their defaults.
fn job(message: types::QueuedMessage) -> (String, Job) {
    let mut body = Map::new();
    let mut put = |field: &str, value: Value| {
        body.insert(field.to_owned(), value);
    };
    let (to, kind) = match message {
        types::QueuedMessage::Text(text) => {
            put("message", json!(text.text));
            if let Some(reply_to) = text.reply_to {
                put("reply_to", json!(reply_to));
            }
            if !text.mentions.is_empty() {
                put("mentions", json!(text.mentions));
            }
            if text.mention_all {
                put("mention_all", json!(true));
            }
            match text.link_preview {
                None => {}
                Some(types::LinkPreview::Fetch) => put("link_preview", json!(true)),
                Some(types::LinkPreview::Given(given)) => {
                    let mut card = json!({ "url": given.url, "title": given.title });
                    if let Some(description) = given.description {
                        card["description"] = json!(description);
                    }
                    if let Some(thumbnail) = given.thumbnail {
                        card["thumbnail"] = json!(base64::engine::general_purpose::STANDARD.encode(thumbnail));
                    }
                    put("link_preview", card);
                }
            }
            (text.to, kind::TEXT)
        }
        types::QueuedMessage::Media(media) => {
            put("mediaUrl", json!(media.url));
            put("mediaType", json!(media_kind(media.media_type).as_str()));
            if let Some(caption) = media.caption {
                put("caption", json!(caption));
            }
            if let Some(file_name) = media.file_name {
                put("fileName", json!(file_name));
            }
            if media.view_once {
                put("viewOnce", json!(true));
            }
            if !media.mentions.is_empty() {
                put("mentions", json!(media.mentions));
            }
            (media.to, kind::MEDIA_URL)
        }
        types::QueuedMessage::Location(place) => {
            put("latitude", json!(place.latitude));
            put("longitude", json!(place.longitude));
            if let Some(name) = place.name {
                put("name", json!(name));
            }
            if let Some(address) = place.address {
                put("address", json!(address));
            }
            (place.to, kind::LOCATION)
        }
        types::QueuedMessage::Contacts(contacts) => {
            let cards: Vec<Value> = contacts
                .cards
                .into_iter()
                .map(|card| {
                    let mut entry = json!({ "name": card.name });
                    if let Some(phone) = card.phone {
                        entry["phone"] = json!(phone);
                    }
                    if let Some(vcard) = card.vcard {
                        entry["vcard"] = json!(vcard);
                    }
                    entry
                })
                .collect();
            put("contacts", json!(cards));
            (contacts.to, kind::CONTACT)
        }
        types::QueuedMessage::Poll(poll) => {
            put("name", json!(poll.name));
            put("options", json!(poll.options));
            put("selectableCount", json!(poll.selectable_count));
            (poll.to, kind::POLL)
        }
    };
    body.insert("to".to_owned(), json!(to));
    (
        to,
        Job {
            kind,
            request: Value::Object(body),
        },
    )
}

#[cfg(test)]
mod tests;
