//! Sending media from a URL: `POST /api/send/{id}/media-url` and
//! `POST /api/by-number/{phone}/media-url`, JSON
//! `{"to","mediaUrl","caption"?,"mediaType"?,"viewOnce"?}`.
//!
//! The instance and the recipient are checked before anything is fetched, so
//! a message that cannot be sent costs no download; then a media transfer
//! slot is taken ([`crate::media::transfers`], shared with uploads: 429 when
//! the instance has too many in flight, 503 when the server has) and held
//! until the message is sent. The fetch follows the
//! outbound-URL policy ([`crate::outbound`]) and is capped at the given
//! kind's limit, or the largest limit when the kind is to be sniffed (then
//! the sniffed kind's limit applies). The MIME type is the response's
//! `Content-Type` unless it is missing or `application/octet-stream`.
//!
//! A send asked to queue (`"queue"`, `"send_at"`) is checked as far as it
//! can be without the file (the kind, the mentions, the URL's form and
//! policy, the recipient) and stored; the file is fetched when the job goes,
//! so the queue never holds media bytes.

use serde::Deserialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::messages::Sent;
use super::outgoing_media::{checked_file_name, given_kind, too_large};
use super::router::Router;
use super::text_extras::mentions;
use super::{AppState, body, phone, send_queue};
use crate::engine::SentMessage;
use crate::messaging::outgoing_media::{MediaOptions, MediaUrlError};
use crate::outbound::FetchError;
use crate::send_queue::Queued;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct SendMediaUrl {
    /// A phone number in international form without `+`, or a JID.
    to: String,
    /// An http(s) URL the server fetches (outbound-URL policy applies).
    media_url: String,
    /// Shown under the media.
    caption: Option<String>,
    /// image, video, document, audio, sticker (WebP) or voice (a voice
    /// note: Ogg Opus); inferred from the content when absent.
    media_type: Option<String>,
    /// The file's name, shown with a document (at most 255 bytes, one line);
    /// when absent, the name the server sent it under, or the URL's last
    /// path segment.
    file_name: Option<String>,
    /// The recipient can open the image or video once.
    #[serde(default)]
    view_once: bool,
    /// Users the caption mentions (at most 256), as phone numbers or user JIDs.
    #[serde(default)]
    mentions: Vec<String>,
    /// Mention every member of the group the media goes to (`to` must be a
    /// group JID), besides `mentions`.
    #[serde(default)]
    mention_all: bool,
    /// Queue the send instead (202 with a job; docs/API.md, "Send queue"):
    /// the file is fetched when the job goes.
    #[serde(default)]
    queue: bool,
    /// Queue the send to go at this time (RFC 3339) at the earliest; implies `queue`.
    #[serde(rename = "send_at", alias = "sendAt")]
    send_at: Option<String>,
}

/// Beyond a send's own errors: too many media transfers (429, or 503 for the
/// server), the fetch failed (502) or timed out (504).
const ERRORS: &[u16] = &[429, 502, 503, 504];

static BY_ID: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send an image, video, audio or document fetched from a URL",
    access: Access::Instance,
    request: Request::Json(schema::<SendMediaUrl>),
    errors: ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/send/{id}/media-url",
        "send_media_url",
        Answer::Json(200, schema::<Sent>),
    )
};
static BY_NUMBER: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send media fetched from a URL, from the instance whose own number is {phone}",
    request: Request::Json(schema::<SendMediaUrl>),
    errors: ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/media-url",
        "send_media_url_by_number",
        Answer::Json(200, schema::<Sent>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let by_id = router
        .route1(&BY_ID)
        .and(body::json_and_value::<SendMediaUrl>())
        .handle(send_by_id);
    let by_number = router
        .route1(&BY_NUMBER)
        .and(body::json_and_value::<SendMediaUrl>())
        .handle(send_by_number);
    by_id.or(by_number).unify().boxed()
}

async fn send_by_id(
    state: AppState,
    id: String,
    body: SendMediaUrl,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    send_or_queue(&state, &id, body, raw).await
}

async fn send_by_number(
    state: AppState,
    number: String,
    body: SendMediaUrl,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    let number = phone::normalize(&number)?;
    let id = state.instances.find_by_phone(&number).await?;
    send_or_queue(&state, &id, body, raw).await
}

/// Sends the media now, or queues it once all but the file is known to be sendable.
async fn send_or_queue(
    state: &AppState,
    id: &str,
    body: SendMediaUrl,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    checked_file_name(body.file_name.as_deref())?;
    if let Some(send_at) = send_queue::queueing(state, body.queue, body.send_at.as_deref())? {
        given_kind(body.media_type.as_deref())?;
        mentions(body.mentions, body.mention_all)?;
        let url = reqwest::Url::parse(body.media_url.trim()).map_err(|_| fetch_error(FetchError::InvalidUrl))?;
        state
            .media_from_url
            .fetcher
            .policy()
            .check_url(&url)
            .map_err(|refused| fetch_error(refused.into()))?;
        state.messenger.check_sendable(id, &body.to).await?;
        return send_queue::enqueue(state, id, send_queue::MEDIA_URL, raw, send_at).await;
    }
    let sent = send_media_url(state, id, body).await?;
    Ok(warp::reply::json(&Sent::from(sent)).into_response())
}

/// Fetches and sends the media `body` asks for now (a direct send, or a
/// queued one when it goes).
pub(super) async fn send_media_url(state: &AppState, id: &str, body: SendMediaUrl) -> Result<SentMessage, ApiError> {
    let kind = given_kind(body.media_type.as_deref())?;
    let mentions = mentions(body.mentions, body.mention_all)?;
    state.messenger.check_sendable(id, &body.to).await?;
    let _slot = state.media_transfers.acquire(id).await?;
    let options = MediaOptions {
        kind,
        caption: body.caption,
        file_name: body.file_name,
        view_once: body.view_once,
    };
    let media = state
        .media_from_url
        .fetch_with(&body.media_url, options)
        .await
        .map_err(media_url_error)?;
    Ok(state
        .messenger
        .send_media_mentioning(id, &body.to, media, &mentions)
        .await?)
}

fn media_url_error(e: MediaUrlError) -> ApiError {
    match e {
        MediaUrlError::Fetch(e) => fetch_error(e),
        MediaUrlError::Empty => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "media_fetch_failed", e.to_string()),
        MediaUrlError::Unsendable(e) => e.into(),
    }
}

/// A failed fetch as the API answers it. The URL is the client's own, so the
/// reason (never the URL, which may carry secrets) is told.
fn fetch_error(e: FetchError) -> ApiError {
    let message = e.to_string();
    match e {
        FetchError::NotAllowed(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "url_not_allowed", message),
        FetchError::InvalidUrl => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_url", message),
        FetchError::TooLarge { limit } => too_large(limit),
        // `InvalidHeader` cannot happen: a fetch sends no headers of the user's.
        FetchError::Status(_) | FetchError::TooManyRedirects { .. } | FetchError::InvalidHeader(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "media_fetch_failed",
            format!("cannot fetch the media: {message}"),
        ),
        FetchError::Transport(_) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "media_fetch_failed",
            format!("cannot fetch the media: {message}"),
        ),
        FetchError::Timeout => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "media_fetch_timeout", message),
    }
}
