//! The API's side of sending files: the `mediaType` and `fileName` a client
//! gave, the 413
//! for a file over its kind's limit, and the 429/503 for a transfer over the
//! bound on media transfers in flight. Building the message itself is
//! [`crate::messaging::outgoing_media`]'s, shared with plugins' sends.

use warp::http::StatusCode;

use super::error::ApiError;
use crate::engine::MediaKind;
use crate::media::Busy;
use crate::messaging::outgoing_media::{MAX_FILE_NAME_BYTES, TooLarge, Unsendable, file_name_ok};

/// The `mediaType` a client gave: `None` when absent or empty (infer it from
/// the content), a 422 `invalid_body` when it is not a kind.
pub(super) fn given_kind(given: Option<&str>) -> Result<Option<MediaKind>, ApiError> {
    match given.map(str::trim) {
        None | Some("") => Ok(None),
        Some(given) => given.parse::<MediaKind>().map(Some).map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "mediaType is one of image, video, document, audio, sticker, voice",
            )
        }),
    }
}

/// A body's `fileName`: a 422 `invalid_body` unless it may name a sent file
/// (at most 255 bytes, on one line).
pub(super) fn checked_file_name(name: Option<&str>) -> Result<(), ApiError> {
    if name.is_some_and(|name| !file_name_ok(name)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("fileName is at most {MAX_FILE_NAME_BYTES} bytes on one line"),
        ));
    }
    Ok(())
}

/// The form's `viewOnce` field: `true` or `false` (absent or empty: false).
pub(super) fn view_once_field(given: Option<&str>) -> Result<bool, ApiError> {
    match given.map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "viewOnce is true or false",
        )),
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

impl From<Unsendable> for ApiError {
    fn from(e: Unsendable) -> ApiError {
        let code = match e {
            Unsendable::TooLarge(TooLarge { limit }) => return too_large(limit),
            Unsendable::StickerNotWebp => "sticker_not_webp",
            Unsendable::VoiceNote(_) => "voice_note_not_opus",
            Unsendable::ViewOnce => "view_once_not_allowed",
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
    }
}

/// Too many media transfers in flight: 429 when the instance has its share
/// (its client should slow down), 503 when the whole server is busy.
impl From<Busy> for ApiError {
    fn from(e: Busy) -> ApiError {
        let status = match e {
            Busy::Instance { .. } => StatusCode::TOO_MANY_REQUESTS,
            Busy::Server { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, "too_many_media_transfers", e.to_string())
    }
}
