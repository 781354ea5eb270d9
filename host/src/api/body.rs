//! Reading JSON request bodies with the API's limits and error codes.
//!
//! warp's own `body::json` answers a bad body with a plain-text rejection; here
//! a malformed body is a 400 `invalid_json`, well-formed JSON of the wrong
//! shape a 422 `invalid_body`, another content type a 415, and anything over
//! the limit a 413 before it is read.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use warp::Filter;
use warp::http::StatusCode;

use super::error::ApiError;

/// The largest JSON body any route accepts.
pub const MAX_JSON_BODY: u64 = 256 * 1024;

/// A JSON body of type `T`.
pub fn json<T: DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    raw().and_then(|content_type: Option<String>, body: Bytes| async move {
        parse(content_type.as_deref(), &body).map_err(warp::reject::custom)
    })
}

/// A JSON body of type `T`, and the same body as a JSON value (what the
/// send queue stores, to run the request later as it came).
pub fn json_and_value<T: DeserializeOwned + Send>()
-> impl Filter<Extract = (T, serde_json::Value), Error = warp::Rejection> + Clone {
    raw()
        .and_then(|content_type: Option<String>, body: Bytes| async move {
            let typed: T = parse(content_type.as_deref(), &body).map_err(warp::reject::custom)?;
            let value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(json_error)
                .map_err(warp::reject::custom)?;
            Ok::<_, warp::Rejection>((typed, value))
        })
        .untuple_one()
}

/// A JSON body of type `T` of at most `limit` bytes, for the few routes
/// whose bodies are lists that may be long (a bulk send's recipients).
pub fn json_up_to<T: DeserializeOwned + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    raw_up_to(limit).and_then(|content_type: Option<String>, body: Bytes| async move {
        parse(content_type.as_deref(), &body).map_err(warp::reject::custom)
    })
}

/// A JSON body of type `T`, or `T::default()` when the body is empty.
pub fn json_or_default<T: DeserializeOwned + Default + Send>()
-> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    raw().and_then(|content_type: Option<String>, body: Bytes| async move {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        parse(content_type.as_deref(), &body).map_err(warp::reject::custom)
    })
}

/// The content type and the whole body, refused with 413 as soon as it is
/// known to exceed the limit: at once from `Content-Length`, or while reading
/// a body sent without one. (warp's `content_length_limit` would refuse a
/// body-less POST without `Content-Length` with 411.)
fn raw() -> impl Filter<Extract = (Option<String>, Bytes), Error = warp::Rejection> + Clone {
    raw_up_to(MAX_JSON_BODY)
}

/// [`raw`] with another limit.
fn raw_up_to(limit: u64) -> impl Filter<Extract = (Option<String>, Bytes), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .and_then(
            move |content_type: Option<String>, length: Option<u64>, stream| async move {
                let refuse = || too_large(limit);
                if length.is_some_and(|length| length > limit) {
                    return Err(warp::reject::custom(refuse()));
                }
                read_limited(stream, limit, "invalid_body", refuse)
                    .await
                    .map(|body| (content_type, body))
                    .map_err(warp::reject::custom)
            },
        )
        .untuple_one()
}

/// Reads a body stream whole, refusing it with `too_large()` as soon as it
/// passes `limit` bytes; a broken stream is a 400 with `error_code`.
pub(super) async fn read_limited<S, B>(
    stream: S,
    limit: u64,
    error_code: &'static str,
    too_large: impl Fn() -> ApiError,
) -> Result<Bytes, ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>>,
    B: bytes::Buf,
{
    use futures::StreamExt;
    let mut stream = std::pin::pin!(stream);
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, error_code, e.to_string()))?;
        if body.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(too_large());
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body is larger than {limit} bytes"),
    )
}

fn parse<T: DeserializeOwned>(content_type: Option<&str>, body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "a JSON body is required",
        ));
    }
    json_type(content_type)?;
    serde_json::from_slice(body).map_err(json_error)
}

/// A 415 unless the content type, when given, is JSON.
pub(super) fn json_type(content_type: Option<&str>) -> Result<(), ApiError> {
    if let Some(content_type) = content_type {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("expected application/json, got {essence}"),
            ));
        }
    }
    Ok(())
}

/// A body that is not JSON (400 `invalid_json`), or JSON of the wrong
/// shape (422 `invalid_body`).
pub(super) fn json_error(e: serde_json::Error) -> ApiError {
    if e.is_data() {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.to_string())
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
    }
}
