//! Sending media from a URL: `POST /api/send/{id}/media-url` and
//! `POST /api/by-number/{phone}/media-url`, JSON
//! `{"to","mediaUrl","caption"?,"mediaType"?}`.
//!
//! The instance and the recipient are checked before anything is fetched, so
//! a message that cannot be sent costs no download. The fetch follows the
//! outbound-URL policy ([`crate::outbound`]) and is capped at the given
//! kind's limit, or the largest limit when the kind is to be sniffed (then
//! the sniffed kind's limit applies). The MIME type is the response's
//! `Content-Type` unless it is missing or `application/octet-stream`.

use serde::Deserialize;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::auth::{Credentials, credentials};
use super::error::{ApiError, reject};
use super::outgoing_media::{self, MediaFile, given_kind, too_large};
use super::{AppState, body, phone, with_state};
use crate::outbound::FetchError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SendMediaUrl {
    to: String,
    media_url: String,
    caption: Option<String>,
    media_type: Option<String>,
}

type Result<T> = std::result::Result<T, warp::Rejection>;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let by_id = warp::path!("api" / "send" / String / "media-url")
        .and(warp::post())
        .and(credentials())
        .and(body::json::<SendMediaUrl>())
        .and(with_state(state.clone()))
        .and_then(send_by_id);
    let by_number = warp::path!("api" / "by-number" / String / "media-url")
        .and(warp::post())
        .and(credentials())
        .and(body::json::<SendMediaUrl>())
        .and(with_state(state))
        .and_then(send_by_number);
    by_id.or(by_number).unify()
}

async fn send_by_id(id: String, credentials: Credentials, body: SendMediaUrl, state: AppState) -> Result<Response> {
    state.require_instance(&credentials, &id).map_err(reject)?;
    send(&state, &id, body).await
}

async fn send_by_number(number: String, credentials: Credentials, body: SendMediaUrl, state: AppState) -> Result<Response> {
    state.require_admin(&credentials).map_err(reject)?;
    let number = phone::normalize(&number).map_err(reject)?;
    let id = state.instances.find_by_phone(&number).await.map_err(reject)?;
    send(&state, &id, body).await
}

async fn send(state: &AppState, id: &str, body: SendMediaUrl) -> Result<Response> {
    let kind = given_kind(body.media_type.as_deref()).map_err(reject)?;
    state.messenger.check_sendable(id, &body.to).await.map_err(reject)?;
    let max_bytes = kind.map_or(state.media_limits.largest(), |kind| state.media_limits.for_kind(kind));
    let fetched = state.fetcher.fetch(&body.media_url, max_bytes).await.map_err(|e| reject(fetch_error(e)))?;
    if fetched.data.is_empty() {
        return Err(reject(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "media_fetch_failed",
            "the media URL answered with an empty body",
        )));
    }
    let file = MediaFile {
        data: fetched.data,
        declared_type: fetched.mime_type,
        file_name: fetched.file_name,
    };
    let media = outgoing_media::build(file, kind, body.caption, &state.media_limits).map_err(reject)?;
    let sent = state.messenger.send_media(id, &body.to, media).await.map_err(reject)?;
    Ok(warp::reply::json(&super::messages::Sent::from(sent)).into_response())
}

/// A failed fetch as the API answers it. The URL is the client's own, so the
/// reason (never the URL, which may carry secrets) is told.
fn fetch_error(e: FetchError) -> ApiError {
    let message = e.to_string();
    match e {
        FetchError::NotAllowed(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "url_not_allowed", message),
        FetchError::InvalidUrl => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_url", message),
        FetchError::TooLarge { limit } => too_large(limit),
        FetchError::Status(_) | FetchError::TooManyRedirects { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "media_fetch_failed", format!("cannot fetch the media: {message}"))
        }
        FetchError::Transport(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "media_fetch_failed", format!("cannot fetch the media: {message}"))
        }
        FetchError::Timeout => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "media_fetch_timeout", message),
    }
}
