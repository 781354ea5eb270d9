//! The API's error type and the single JSON error shape of docs/API.md:
//! `{"error": {"code": "<snake_case>", "message": "<human text>"}}`.
//!
//! Handlers return [`ApiError`], answered as a reply (see [`super::handler`]);
//! filters that refuse a request before its handler runs (the access check, a
//! bad body) reject with one, and [`recover`] answers it along with warp's own
//! rejections (unknown route, wrong method). Internal details are logged,
//! never sent to the client.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::engine::EngineError;
use crate::instances::InstanceError;
use crate::store::StoreError;

/// An error a handler answers with: a status, a stable code and a message.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Status {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("database error")]
    Store(#[from] StoreError),
    /// 429 with `Retry-After`: a direct send over its instance's pace
    /// (`direct_sends: refuse`, docs/API.md "Send queue").
    #[error("{message}")]
    Paced { retry_after_secs: u64, message: String },
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Status {
            status,
            code,
            message: message.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Status { status, code, message } => (*status, code, message.clone()),
            ApiError::Paced { message, .. } => (StatusCode::TOO_MANY_REQUESTS, "paced", message.clone()),
            ApiError::Store(e) => {
                tracing::error!(error = %e, "request failed on the database");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the database could not complete the request".to_owned(),
                )
            }
        }
    }
}

impl warp::reject::Reject for ApiError {}

impl From<InstanceError> for ApiError {
    fn from(e: InstanceError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match e {
            InstanceError::NotFound => (StatusCode::NOT_FOUND, "instance_not_found"),
            InstanceError::AlreadyExists => (StatusCode::CONFLICT, "instance_exists"),
            InstanceError::InvalidId => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_instance_id"),
            InstanceError::AlreadyOnline => (StatusCode::CONFLICT, "instance_online"),
            InstanceError::Linked => (StatusCode::CONFLICT, "instance_linked"),
            InstanceError::NotLinked => (StatusCode::CONFLICT, "instance_not_linked"),
            InstanceError::NotConnected => (StatusCode::SERVICE_UNAVAILABLE, "instance_not_connected"),
            InstanceError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "whatsapp_timeout"),
            InstanceError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "instance_unavailable"),
            InstanceError::Store(e) => return ApiError::Store(e),
            InstanceError::Engine(e) => return ApiError::from(e),
        };
        ApiError::new(status, code, message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match e {
            EngineError::NotConnected => (StatusCode::SERVICE_UNAVAILABLE, "instance_not_connected"),
            EngineError::InvalidRecipient(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_recipient"),
            EngineError::InvalidPhone(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"),
            EngineError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "whatsapp_timeout"),
            EngineError::MediaTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "media_too_large"),
            EngineError::GroupNotFound(_) => (StatusCode::NOT_FOUND, "group_not_found"),
            EngineError::NotGroupAdmin(_) => (StatusCode::FORBIDDEN, "not_group_admin"),
            EngineError::InvalidInvite(_) => (StatusCode::GONE, "invalid_invite"),
            EngineError::CallNotFound(_) => (StatusCode::NOT_FOUND, "call_not_found"),
            EngineError::Store(e) => return ApiError::Store(e),
            EngineError::Protocol(_) => {
                tracing::warn!(error = %message, "WhatsApp refused a request");
                (StatusCode::SERVICE_UNAVAILABLE, "whatsapp_error")
            }
        };
        ApiError::new(status, code, message)
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let mut response = error_response(status, code, &message);
        if let ApiError::Paced { retry_after_secs, .. } = self {
            response.headers_mut().insert("retry-after", retry_after_secs.into());
        }
        response
    }
}

/// The body of every error answer.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ErrorDetail<'a> {
    /// A stable snake_case code, e.g. `recipient_not_on_whatsapp`.
    code: &'a str,
    /// A human-readable explanation.
    message: &'a str,
}

/// An error found before the handler runs, as a warp rejection answered by
/// [`recover`].
pub fn reject(e: impl Into<ApiError>) -> warp::Rejection {
    warp::reject::custom(e.into())
}

/// The JSON error shape with `status`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail { code, message },
    };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

/// Turns every rejection into the JSON error shape.
pub async fn recover(rejection: warp::Rejection) -> Result<Response, Infallible> {
    if let Some(limited) = rejection.find::<super::rate_limit::RateLimited>() {
        return Ok(limited.response());
    }
    if let Some(e) = rejection.find::<ApiError>() {
        let (status, code, message) = e.parts();
        return Ok(error_response(status, code, &message));
    }
    let (status, code, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "not_found", "no such route".to_owned())
    } else if let Some(e) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        (StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
    } else if rejection.find::<warp::reject::UnsupportedMediaType>().is_some() {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "unsupported content type".to_owned(),
        )
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body too large".to_owned(),
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        (
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a Content-Length is required".to_owned(),
        )
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        (StatusCode::BAD_REQUEST, "invalid_query", e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::MissingHeader>() {
        (StatusCode::BAD_REQUEST, "missing_header", e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        (StatusCode::BAD_REQUEST, "invalid_header", e.to_string())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        // Last of the known ones: a sibling route's "wrong method" must not
        // hide what the route with the right method found wrong.
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this route".to_owned(),
        )
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        (
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request could not be handled".to_owned(),
        )
    };
    Ok(error_response(status, code, &message))
}
