//! Turning a file's bytes into the media message to send, the same way for
//! every route that sends a file (uploaded or fetched from a URL): the kind
//! is the one the client gave (`mediaType`) or the one the content shows, the
//! kind's size limit applies, and the MIME type is the declared one unless it
//! is missing or the generic `application/octet-stream`, then the sniffed one.

use bytes::Bytes;
use warp::http::StatusCode;

use super::error::ApiError;
use crate::engine::{MediaKind, OutgoingMedia};
use crate::instances::MediaLimits;
use crate::messaging::media_kind::sniff;

/// A file to send, as received.
pub(super) struct MediaFile {
    pub data: Bytes,
    /// The type the sender declared (form part or response `Content-Type`).
    pub declared_type: Option<String>,
    pub file_name: Option<String>,
}

/// The `mediaType` a client gave: `None` when absent or empty (infer it from
/// the content), a 422 `invalid_body` when it is not a kind.
pub(super) fn given_kind(given: Option<&str>) -> Result<Option<MediaKind>, ApiError> {
    match given.map(str::trim) {
        None | Some("") => Ok(None),
        Some(given) => parse_kind(given).map(Some).ok_or_else(|| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "mediaType is one of image, video, document, audio")
        }),
    }
}

fn parse_kind(given: &str) -> Option<MediaKind> {
    match given.trim().to_ascii_lowercase().as_str() {
        "image" => Some(MediaKind::Image),
        "video" => Some(MediaKind::Video),
        "audio" => Some(MediaKind::Audio),
        "document" => Some(MediaKind::Document),
        _ => None,
    }
}

/// The 413 for a file over `limit`.
pub(super) fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the file is larger than the {limit} bytes allowed for its kind"),
    )
}

/// The media message for `file`, sent as `kind` (or the sniffed kind), or a
/// 413 when the file is over that kind's limit.
pub(super) fn build(
    file: MediaFile,
    kind: Option<MediaKind>,
    caption: Option<String>,
    limits: &MediaLimits,
) -> Result<OutgoingMedia, ApiError> {
    let (sniffed_kind, sniffed_mime) = sniff(&file.data);
    let kind = kind.unwrap_or(sniffed_kind);
    let limit = limits.for_kind(kind);
    if file.data.len() as u64 > limit {
        return Err(too_large(limit));
    }
    let mime_type = file
        .declared_type
        .filter(|t| !t.is_empty() && t != "application/octet-stream")
        .unwrap_or_else(|| sniffed_mime.to_owned());
    Ok(OutgoingMedia {
        kind,
        data: file.data,
        mime_type,
        file_name: file.file_name,
        caption: caption.filter(|c| !c.is_empty()),
    })
}
