//! Sending a poll, by instance or by the instance's own number (docs/API.md,
//! "Messages"). Its votes come back as `poll_vote` events.

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
use crate::engine::OutgoingPoll;
use crate::messaging::polls::PollSendError;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendPoll {
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
}

fn single_choice() -> u32 {
    1
}

static BY_ID: Endpoint = Endpoint {
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
    let by_id = router.route1(&BY_ID).and(body::json::<SendPoll>()).handle(send_by_id);
    let by_number = router
        .route1(&BY_NUMBER)
        .and(body::json::<SendPoll>())
        .handle(send_by_number);
    by_id.or(by_number).unify().boxed()
}

async fn send_by_id(state: AppState, id: String, body: SendPoll) -> Result<impl Reply, ApiError> {
    send(&state, &id, body).await
}

async fn send_by_number(state: AppState, number: String, body: SendPoll) -> Result<impl Reply, ApiError> {
    let number = phone::normalize(&number)?;
    let id = state.instances.find_by_phone(&number).await?;
    send(&state, &id, body).await
}

async fn send(state: &AppState, id: &str, body: SendPoll) -> Result<Json, ApiError> {
    let poll = OutgoingPoll {
        name: body.name,
        options: body.options,
        selectable_count: body.selectable_count,
    };
    let sent = state
        .messenger
        .send_poll(id, &body.to, poll)
        .await
        .map_err(|e| match e {
            PollSendError::Invalid(why) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why.code(), why.to_string()),
            PollSendError::Send(e) => e.into(),
        })?;
    Ok(warp::reply::json(&Sent::from(sent)))
}
