//! Sending media by upload: `POST /api/send/{id}/media` and
//! `POST /api/by-number/{phone}/media-file` (multipart: `to`, `file`,
//! `caption`?, `mediaType`?).
//!
//! Before a byte of the body is read, the instance must be connected (an
//! upload it could not send would be wasted) and a media transfer slot free
//! ([`crate::media::transfers`]: 429 when the instance has too many in
//! flight, 503 when the server has). The body is refused with 413 from its
//! `Content-Length` when it cannot fit the largest media limit, and while
//! reading once the file passes it; after the kind is known (given, or
//! sniffed from the content), the kind's own limit applies.
//!
//! The file is written to a spool file as it arrives ([`crate::media::spool`]:
//! nameless, gone when dropped), so a slow or large upload costs disk, not
//! memory; it is read into memory only for the send, under the transfer slot.
//! Under the free-disk floor the upload is refused with 507.

use bytes::Buf;
use futures::{StreamExt, TryStreamExt};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::multipart::{FormData, Part};
use warp::reply::{Json, Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, FormField, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::messages::Sent;
use super::outgoing_media::{given_kind, too_large, view_once_field};
use super::router::Router;
use super::text_extras::{MAX_NAMED_MENTIONS, flag_field, mentions, split_mentions};
use super::{AppState, body, phone};
use crate::media::{Spool, SpoolError, SpoolFile};
use crate::messaging::outgoing_media::{self, MediaFile, MediaOptions};

/// Room for the form's other fields and multipart framing around the file.
const FORM_OVERHEAD: u64 = 64 * 1024;
/// The text fields (`to`, `caption`, `mediaType`) are short.
const MAX_FIELD_BYTES: usize = 4096;

/// Beyond a send's own errors (503): too many media transfers (429 for the
/// instance, 503 for the server), and a disk under its free-space floor (507).
const ERRORS: &[u16] = &[429, 503, 507];

const FORM: &[FormField] = &[
    FormField {
        name: "to",
        required: true,
        file: false,
        description: "A phone number in international form without `+`, or a JID",
    },
    FormField {
        name: "file",
        required: true,
        file: true,
        description: "The media file; its file name and content type are kept",
    },
    FormField {
        name: "caption",
        required: false,
        file: false,
        description: "Shown under the media",
    },
    FormField {
        name: "mediaType",
        required: false,
        file: false,
        description: "image, video, document, audio, sticker (WebP) or voice (a voice note: Ogg Opus); \
                      inferred from the content when absent",
    },
    FormField {
        name: "viewOnce",
        required: false,
        file: false,
        description: "`true`: the recipient can open the image or video once",
    },
    FormField {
        name: "mentions",
        required: false,
        file: false,
        description: "Users the caption mentions (at most 256): phone numbers or user JIDs, \
                      comma-separated, or one per `mentions` field",
    },
    FormField {
        name: "mentionAll",
        required: false,
        file: false,
        description: "`true`: the caption mentions every member of the group the media goes to",
    },
];

static BY_ID: Endpoint = Endpoint {
    tag: "messages",
    summary: "Send an image, video, audio or document uploaded as multipart",
    access: Access::Instance,
    request: Request::Multipart(FORM),
    errors: ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/send/{id}/media",
        "send_media",
        Answer::Json(200, schema::<Sent>),
    )
};
static BY_NUMBER: Endpoint = Endpoint {
    tag: "messages",
    summary: "Send uploaded media from the instance whose own number is {phone}",
    request: Request::Multipart(FORM),
    errors: ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/media-file",
        "send_media_by_number",
        Answer::Json(200, schema::<Sent>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let max_body = router.state().media_limits.largest() + FORM_OVERHEAD;
    let by_id = router
        .route1(&BY_ID)
        .and(warp::multipart::form().max_length(max_body))
        .handle(send_by_id);
    let by_number = router
        .route1(&BY_NUMBER)
        .and(warp::multipart::form().max_length(max_body))
        .handle(send_by_number);
    by_id.or(by_number).unify().boxed()
}

async fn send_by_id(state: AppState, id: String, form: FormData) -> Result<impl Reply, ApiError> {
    send(&state, &id, form).await
}

async fn send_by_number(state: AppState, number: String, form: FormData) -> Result<impl Reply, ApiError> {
    let number = phone::normalize(&number)?;
    let id = state.instances.find_by_phone(&number).await?;
    send(&state, &id, form).await
}

/// The fields of an upload.
#[derive(Default)]
struct Upload {
    to: Option<String>,
    caption: Option<String>,
    media_type: Option<String>,
    view_once: Option<String>,
    /// Every `mentions` field, as given.
    mentions: Vec<String>,
    mention_all: Option<String>,
    /// The spooled file, its file name and its declared type.
    file: Option<(SpoolFile, Option<String>, Option<String>)>,
}

async fn send(state: &AppState, id: &str, form: FormData) -> Result<Json, ApiError> {
    state.instances.session(id)?;
    let _slot = state.media_transfers.acquire(id).await?;
    let upload = read_form(form, &state.spool, state.media_limits.largest()).await?;
    let invalid = |message: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message);
    let to = upload.to.ok_or_else(|| invalid("the form needs a `to` field"))?;
    let (spooled, file_name, declared_type) = upload.file.ok_or_else(|| invalid("the form needs a `file` field"))?;
    if spooled.is_empty() {
        return Err(invalid("the file is empty"));
    }
    let kind = given_kind(upload.media_type.as_deref())?;
    let mention_all = flag_field("mentionAll", upload.mention_all.as_deref())?;
    let mentions = mentions(split_mentions(&upload.mentions), mention_all)?;
    let data = spooled.into_bytes().await.map_err(|e| spool_error(e.into()))?;
    let file = MediaFile {
        data,
        declared_type,
        file_name,
    };
    let options = MediaOptions {
        kind,
        caption: upload.caption,
        file_name: None,
        view_once: view_once_field(upload.view_once.as_deref())?,
    };
    let media = outgoing_media::build_with(file, options, &state.media_limits)?;
    let sent = state.messenger.send_media_mentioning(id, &to, media, &mentions).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

async fn read_form(mut form: FormData, spool: &Spool, max_file: u64) -> Result<Upload, ApiError> {
    let mut upload = Upload::default();
    while let Some(part) = form.try_next().await.map_err(bad_multipart)? {
        match part.name() {
            "file" => {
                let file_name = part.filename().map(str::to_owned);
                let content_type = part.content_type().map(str::to_owned);
                let spooled = spool_part(part, spool, max_file).await?;
                upload.file = Some((spooled, file_name, content_type));
            }
            "to" => upload.to = Some(read_text(part).await?),
            "caption" => upload.caption = Some(read_text(part).await?),
            "mediaType" => upload.media_type = Some(read_text(part).await?),
            "viewOnce" => upload.view_once = Some(read_text(part).await?),
            // Bounded: one field's worth of names past the most a message takes.
            "mentions" if upload.mentions.len() <= MAX_NAMED_MENTIONS => upload.mentions.push(read_text(part).await?),
            "mentionAll" => upload.mention_all = Some(read_text(part).await?),
            // Refused rather than ignored: the upload would go at once.
            "queue" | "send_at" | "sendAt" => return Err(super::send_queue::not_queueable()),
            // Unknown fields are drained and ignored, like most form handlers do.
            _ => {
                read_part(part, MAX_FIELD_BYTES as u64).await?;
            }
        }
    }
    Ok(upload)
}

fn bad_multipart(e: warp::Error) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_multipart", e.to_string())
}

/// Writes a file part to a spool file as it arrives, refusing it with 413
/// once it passes `limit` bytes.
async fn spool_part(part: Part, spool: &Spool, limit: u64) -> Result<SpoolFile, ApiError> {
    let mut file = spool.create().await.map_err(spool_error)?;
    let mut stream = std::pin::pin!(part.stream());
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(bad_multipart)?;
        if file.len() + chunk.remaining() as u64 > limit {
            return Err(too_large(limit));
        }
        while chunk.has_remaining() {
            let bytes = chunk.chunk();
            let n = bytes.len();
            file.write(bytes).await.map_err(|e| spool_error(e.into()))?;
            chunk.advance(n);
        }
    }
    Ok(file)
}

fn spool_error(e: SpoolError) -> ApiError {
    match e {
        SpoolError::LowDisk(_) => {
            ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage", e.to_string())
        }
        SpoolError::Io(ref io) => {
            tracing::error!(error = %io, "cannot spool an upload");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upload_failed",
                "the server could not store the upload",
            )
        }
    }
}

async fn read_part(part: Part, limit: u64) -> Result<bytes::Bytes, ApiError> {
    body::read_limited(part.stream(), limit, "invalid_multipart", || too_large(limit)).await
}

async fn read_text(part: Part) -> Result<String, ApiError> {
    let data = read_part(part, MAX_FIELD_BYTES as u64).await?;
    String::from_utf8(data.to_vec())
        .map(|s| s.trim().to_owned())
        .map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "form fields must be UTF-8 text",
            )
        })
}
