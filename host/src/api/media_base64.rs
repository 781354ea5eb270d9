//! Sending media given as base64 in JSON (what n8n and similar tools send):
//! `POST /api/send/{id}/media-base64` and
//! `POST /api/by-number/{phone}/media-base64`,
//! `{"to","data","mediaType"?,"mimeType"?,"fileName"?,"caption"?,"viewOnce"?,"mentions"?,"mentionAll"?}`.
//!
//! As for an upload, the instance must be connected and a media transfer
//! slot free ([`crate::media::transfers`]) before a byte of the body is
//! read. The body may be as large as the largest media limit written in
//! base64, plus room for line breaks and the other fields; past that it is
//! refused with 413, from its `Content-Length` or while reading. The `data`
//! field is read in place from the body (not copied), its decoded size
//! worked out and checked against the kind's limit (the given kind's, or
//! the largest when the kind is to be sniffed) before it is decoded
//! ([`super::base64_data`]); then the file goes through the same checks as
//! an upload's ([`outgoing_media::build_with`]).

use std::borrow::Cow;

use bytes::{Buf, BytesMut};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Json, Reply, Response};

use super::base64_data::{self, Base64Error};
use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::messages::Sent;
use super::outgoing_media::{checked_file_name, given_kind, too_large};
use super::router::Router;
use super::{AppState, body, phone};
use crate::messaging::Mentions;
use crate::messaging::outgoing_media::{self, MediaFile, MediaOptions};

/// Room for the other fields around the data.
const FIELDS_OVERHEAD: u64 = 64 * 1024;
/// Users a caption may mention.
const MAX_MENTIONS: usize = 256;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SendMediaBase64<'a> {
    /// A phone number in international form without `+`, or a JID.
    to: String,
    /// The file, base64 (standard or URL-safe, padded or not, line breaks
    /// allowed), or a `data:` URL (`data:image/png;base64,...`).
    #[serde(borrow)]
    data: Cow<'a, str>,
    /// image, video, document, audio, sticker (WebP) or voice (a voice
    /// note: Ogg Opus); inferred from the content when absent.
    media_type: Option<String>,
    /// The file's MIME type (a `data:` URL's own when absent); inferred
    /// from the content when neither is given.
    mime_type: Option<String>,
    /// The file's name, shown with a document.
    file_name: Option<String>,
    /// Shown under the media.
    caption: Option<String>,
    /// The recipient can open the image or video once.
    #[serde(default)]
    view_once: bool,
    /// Users the caption mentions (at most 256), as phone numbers or user JIDs.
    #[serde(default)]
    mentions: Vec<String>,
    /// In a group: the caption mentions every member.
    #[serde(default)]
    mention_all: bool,
    /// Refused (422 `not_queueable`): media given as bytes cannot be queued.
    #[serde(default)]
    #[schemars(skip)]
    queue: bool,
    /// Refused as `queue` is.
    #[serde(rename = "send_at", alias = "sendAt")]
    #[schemars(skip)]
    send_at: Option<serde::de::IgnoredAny>,
}

/// Beyond a send's own errors (503): too many media transfers (429 for the
/// instance, 503 for the server).
const ERRORS: &[u16] = &[429, 503];

static BY_ID: Endpoint = Endpoint {
    tag: "messages",
    summary: "Send an image, video, audio, voice note, sticker or document given as base64 in JSON",
    access: Access::Instance,
    request: Request::Json(schema::<SendMediaBase64<'static>>),
    errors: ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/send/{id}/media-base64",
        "send_media_base64",
        Answer::Json(200, schema::<Sent>),
    )
};
static BY_NUMBER: Endpoint = Endpoint {
    tag: "messages",
    summary: "Send media given as base64, from the instance whose own number is {phone}",
    request: Request::Json(schema::<SendMediaBase64<'static>>),
    errors: ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/media-base64",
        "send_media_base64_by_number",
        Answer::Json(200, schema::<Sent>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let limits = router.state().media_limits;
    let largest = base64_data::encoded_len(limits.largest());
    // Line breaks every 76 characters add under 3%.
    let max_body = largest + largest / 32 + FIELDS_OVERHEAD;
    let body = move || {
        warp::header::optional::<String>("content-type")
            .and(warp::header::optional::<u64>("content-length"))
            .and(warp::body::stream())
            .map(move |content_type, length, stream| {
                let body = BodyStream {
                    length,
                    max: max_body,
                    chunks: chunks_of(stream),
                };
                (content_type, body)
            })
            .untuple_one()
    };
    let by_id = router.route1(&BY_ID).and(body()).handle(send_by_id);
    let by_number = router.route1(&BY_NUMBER).and(body()).handle(send_by_number);
    by_id.or(by_number).unify().boxed()
}

type Chunks = std::pin::Pin<Box<dyn Stream<Item = Result<bytes::Bytes, warp::Error>> + Send>>;

/// warp's body stream as a stream of `Bytes` of a type that can be named.
fn chunks_of<S, B>(stream: S) -> Chunks
where
    S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf,
{
    Box::pin(stream.map(|chunk| chunk.map(|mut buf| buf.copy_to_bytes(buf.remaining()))))
}

/// The request's body, not read yet, with its declared length and limit.
struct BodyStream {
    length: Option<u64>,
    max: u64,
    chunks: Chunks,
}

impl BodyStream {
    /// The whole body, in one buffer of its declared size when it has one;
    /// 413 past the limit.
    async fn read(mut self) -> Result<bytes::Bytes, ApiError> {
        let refuse = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than the {} bytes allowed", self.max),
            )
        };
        if self.length.is_some_and(|length| length > self.max) {
            return Err(refuse());
        }
        let mut body = BytesMut::with_capacity(self.length.unwrap_or(0) as usize);
        while let Some(chunk) = self.chunks.next().await {
            let chunk = chunk.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.to_string()))?;
            if body.len() as u64 + chunk.len() as u64 > self.max {
                return Err(refuse());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

async fn send_by_id(
    state: AppState,
    id: String,
    content_type: Option<String>,
    body: BodyStream,
) -> Result<impl Reply, ApiError> {
    send(&state, &id, content_type, body).await
}

async fn send_by_number(
    state: AppState,
    number: String,
    content_type: Option<String>,
    body: BodyStream,
) -> Result<impl Reply, ApiError> {
    let number = phone::normalize(&number)?;
    let id = state.instances.find_by_phone(&number).await?;
    send(&state, &id, content_type, body).await
}

async fn send(state: &AppState, id: &str, content_type: Option<String>, body: BodyStream) -> Result<Json, ApiError> {
    state.instances.session(id)?;
    body::json_type(content_type.as_deref())?;
    let _slot = state.media_transfers.acquire(id).await?;
    let raw = body.read().await?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "a JSON body is required",
        ));
    }
    let SendMediaBase64 {
        to,
        data: text,
        media_type,
        mime_type,
        file_name,
        caption,
        view_once,
        mentions,
        mention_all,
        queue,
        send_at,
    } = serde_json::from_slice(&raw).map_err(body::json_error)?;
    if queue || send_at.is_some() {
        return Err(super::send_queue::not_queueable());
    }
    if mentions.len() > MAX_MENTIONS {
        return Err(invalid(
            "too_many_mentions",
            format!("a caption mentions at most {MAX_MENTIONS} users"),
        ));
    }
    checked_file_name(file_name.as_deref())?;
    let kind = given_kind(media_type.as_deref())?;
    let limit = kind.map_or(state.media_limits.largest(), |kind| state.media_limits.for_kind(kind));
    let (base64, url_type) = base64_data::split_data_url(&text).map_err(base64_error)?;
    let declared_type = mime_type.or(url_type.map(str::to_owned));
    let data = base64_data::decode(base64, limit).map_err(base64_error)?;
    // Only the decoded file is kept from here on, not the body.
    drop(text);
    drop(raw);
    let file = MediaFile {
        data: data.into(),
        declared_type,
        file_name,
    };
    let options = MediaOptions {
        kind,
        caption,
        file_name: None,
        view_once,
    };
    let mentions = Mentions {
        users: mentions,
        everyone: mention_all,
    };
    let media = outgoing_media::build_with(file, options, &state.media_limits)?;
    let sent = state.messenger.send_media_mentioning(id, &to, media, &mentions).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

fn base64_error(e: Base64Error) -> ApiError {
    match e {
        Base64Error::TooLarge { limit, .. } => too_large(limit),
        Base64Error::Invalid => invalid("invalid_base64", e.to_string()),
        Base64Error::Empty => invalid("invalid_body", "the file is empty"),
    }
}
