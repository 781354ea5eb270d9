//! Forwarding a message by its id: `POST /api/messages/{id}/forward`
//! (`{"message_id","to"}`, `{id}` the instance, as the other message
//! actions name it) and `POST /api/by-number/{phone}/forward`
//! (docs/API.md, "Forward a message").

use serde::Deserialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Json, Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::messages::{SEND_ERRORS, Sent};
use super::router::Router;
use super::{AppState, body, phone};
use crate::messaging::forward::ForwardError;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Forward {
    /// The id of the message to forward: one the instance received (a text,
    /// location, contact card, or media whose file was stored), or a text,
    /// location or contact message it sent.
    message_id: String,
    /// Where to forward it: a phone number in international form without
    /// `+`, or a JID.
    to: String,
}

static BY_ID: Endpoint = Endpoint {
    tag: "messages",
    summary: "Forward a message the instance sent or received to another chat",
    access: Access::Instance,
    request: Request::Json(schema::<Forward>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/messages/{id}/forward",
        "forward_message",
        Answer::Json(200, schema::<Sent>),
    )
};
static BY_NUMBER: Endpoint = Endpoint {
    tag: "messages",
    summary: "Forward a message, from the instance whose own number is {phone}",
    request: Request::Json(schema::<Forward>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/forward",
        "forward_message_by_number",
        Answer::Json(200, schema::<Sent>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let by_id = router.route1(&BY_ID).and(body::json::<Forward>()).handle(by_id);
    let by_number = router.route1(&BY_NUMBER).and(body::json::<Forward>()).handle(by_number);
    by_id.or(by_number).unify().boxed()
}

async fn by_id(state: AppState, id: String, body: Forward) -> Result<impl Reply, ApiError> {
    forward(&state, &id, body).await
}

async fn by_number(state: AppState, number: String, body: Forward) -> Result<impl Reply, ApiError> {
    let number = phone::normalize(&number)?;
    let id = state.instances.find_by_phone(&number).await?;
    forward(&state, &id, body).await
}

async fn forward(state: &AppState, id: &str, body: Forward) -> Result<Json, ApiError> {
    let sent = state.messenger.forward(id, &body.message_id, &body.to).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

impl From<ForwardError> for ApiError {
    fn from(e: ForwardError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match e {
            ForwardError::UnknownMessage(_) => (StatusCode::NOT_FOUND, "message_not_found"),
            ForwardError::NotForwardable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "not_forwardable"),
            ForwardError::ContentNotKept(_) => (StatusCode::UNPROCESSABLE_ENTITY, "content_not_kept"),
            ForwardError::MediaNotStored(_) => (StatusCode::UNPROCESSABLE_ENTITY, "media_not_stored"),
            ForwardError::Send(e) => return e.into(),
            ForwardError::Store(e) => return ApiError::Store(e),
        };
        ApiError::new(status, code, message)
    }
}
