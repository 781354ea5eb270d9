//! Calls (docs/API.md, "Calls"): rejecting a call that rings on an instance,
//! named by the id and the caller of its `call_offer` event.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body};
use crate::messaging::calls::valid_call_id;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RejectCall {
    /// The call's id, as its `call_offer` event gave it.
    call_id: String,
    /// The caller: a phone number in international form without `+`, or the JID (or LID)
    /// the `call_offer` event named them by.
    from: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Rejected {
    call_id: String,
    rejected: bool,
}

/// Beyond bad input: no such call ringing (404), a disconnected instance (503).
const REJECT_ERRORS: &[u16] = &[404, 503];

static REJECT: Endpoint = Endpoint {
    tag: "calls",
    summary: "Reject a call that rings on the instance",
    access: Access::Instance,
    request: Request::Json(schema::<RejectCall>),
    errors: REJECT_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/calls/{id}/reject",
        "reject_call",
        Answer::Json(200, schema::<Rejected>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    router
        .route1(&REJECT)
        .and(body::json::<RejectCall>())
        .handle(reject)
        .boxed()
}

async fn reject(state: AppState, id: String, body: RejectCall) -> Result<impl Reply, ApiError> {
    if !valid_call_id(&body.call_id) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_call_id",
            "a call id is 1 to 128 of A-Z, a-z, 0-9, -, _ and .",
        ));
    }
    state.messenger.reject_call(&id, &body.call_id, &body.from).await?;
    Ok(warp::reply::json(&Rejected {
        call_id: body.call_id,
        rejected: true,
    }))
}
