//! Sending a poll, by instance or by the instance's own number (docs/API.md,
//! "Messages"). Its votes come back as `poll_vote` events. A poll may be
//! queued (`"queue"`, `"send_at"`) as a text is: checked now, sent when its
//! job goes.

use serde::Deserialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::messages::{SEND_ERRORS, Sent};
use super::router::Router;
use super::{AppState, body, phone, send_queue};
use crate::engine::{OutgoingPoll, SentMessage};
use crate::messaging::polls::{self, InvalidPoll, PollSendError};
use crate::send_queue::Queued;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SendPoll {
    /// A phone number in international form without `+`, or a JID
    /// (`…@s.whatsapp.net`, `…@g.us`).
    to: String,
    /// The question, 1 to 255 characters.
    name: String,
    /// 2 to 12 distinct options, each 1 to 100 characters, in the order shown.
    options: Vec<String>,
    /// How many options a voter may pick: 1 (the default, a single choice) up
    /// to the number of options (any of them).
    #[serde(rename = "selectableCount", alias = "selectable_count", default = "single_choice")]
    selectable_count: u32,
    /// Queue the send instead (202 with a job; docs/API.md, "Send queue").
    #[serde(default)]
    queue: bool,
    /// Queue the send to go at this time (RFC 3339) at the earliest; implies `queue`.
    #[serde(alias = "sendAt")]
    send_at: Option<String>,
}

fn single_choice() -> u32 {
    1
}

static BY_ID: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send a poll; its votes arrive as poll_vote events",
    access: Access::Instance,
    request: Request::Json(schema::<SendPoll>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/send/{id}/poll",
        "send_poll",
        Answer::Json(200, schema::<Sent>),
    )
};
static BY_NUMBER: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send a poll from the instance whose own number is {phone}",
    request: Request::Json(schema::<SendPoll>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/poll",
        "send_poll_by_number",
        Answer::Json(200, schema::<Sent>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let by_id = router
        .route1(&BY_ID)
        .and(body::json_and_value::<SendPoll>())
        .handle(send_by_id);
    let by_number = router
        .route1(&BY_NUMBER)
        .and(body::json_and_value::<SendPoll>())
        .handle(send_by_number);
    by_id.or(by_number).unify().boxed()
}

async fn send_by_id(state: AppState, id: String, body: SendPoll, raw: serde_json::Value) -> Result<Response, ApiError> {
    send_or_queue(&state, &id, body, raw).await
}

async fn send_by_number(
    state: AppState,
    number: String,
    body: SendPoll,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    let number = phone::normalize(&number)?;
    let id = state.instances.find_by_phone(&number).await?;
    send_or_queue(&state, &id, body, raw).await
}

/// Sends the poll now, or queues it once it is known to be sendable.
async fn send_or_queue(
    state: &AppState,
    id: &str,
    body: SendPoll,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    if let Some(send_at) = send_queue::queueing(state, body.queue, body.send_at.as_deref())? {
        polls::check(poll_of(&body)).map_err(invalid)?;
        state.messenger.check_sendable(id, &body.to).await?;
        return send_queue::enqueue(state, id, send_queue::POLL, raw, send_at).await;
    }
    let sent = send_poll(state, id, body).await?;
    Ok(warp::reply::json(&Sent::from(sent)).into_response())
}

fn poll_of(body: &SendPoll) -> OutgoingPoll {
    OutgoingPoll {
        name: body.name.clone(),
        options: body.options.clone(),
        selectable_count: body.selectable_count,
    }
}

fn invalid(why: InvalidPoll) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why.code(), why.to_string())
}

/// Sends the poll `body` asks for now (a direct send, or a queued one when it goes).
pub(super) async fn send_poll(state: &AppState, id: &str, body: SendPoll) -> Result<SentMessage, ApiError> {
    state
        .messenger
        .send_poll(id, &body.to, poll_of(&body))
        .await
        .map_err(|e| match e {
            PollSendError::Invalid(why) => invalid(why),
            PollSendError::Send(e) => e.into(),
        })
}
