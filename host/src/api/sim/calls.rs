//! The simulated network's calls and silences: a contact calls an instance
//! (`POST /sim/instances/{id}/call`), the call stops ringing
//! (`POST /sim/instances/{id}/hang-up`), and WhatsApp's side of a connection
//! goes silent (`POST /sim/instances/{id}/silence`) so that the instance's
//! watchdog has a deaf connection to find.

use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::super::endpoint::{Answer, Endpoint, Request, Verb, schema};
use super::super::error::ApiError;
use super::super::handler::Handle;
use super::super::router::Router;
use super::super::{AppState, body};
use super::{CONFLICT, TAG, check, contact_jid, group_jid};
use crate::engine::sim::{CallEnd, SimNetwork};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CallBody {
    /// The caller: a phone number, or a JID (`…@s.whatsapp.net`, or `…@lid`).
    from: String,
    /// A video call (default: a voice call).
    #[serde(default)]
    video: bool,
    /// The group (`…@g.us`) of a group call.
    group: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Ringing {
    call_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct HangUpBody {
    call_id: String,
    /// How it stops: `hung_up` (default) or `timeout` make a `call_missed`,
    /// `accepted_elsewhere` or `rejected_elsewhere` a `call_ended`.
    reason: Option<CallEnd>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Stopped {
    call_id: String,
    stopped: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Silenced {
    instance_id: String,
    silent: bool,
}

static CALL: Endpoint = Endpoint {
    tag: TAG,
    summary: "A contact calls the instance: a call_offer, ringing until hung up or rejected",
    request: Request::Json(schema::<CallBody>),
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/call",
        "sim_call",
        Answer::Json(200, schema::<Ringing>),
    )
};
static HANG_UP: Endpoint = Endpoint {
    tag: TAG,
    summary: "A ringing call stops: the caller hangs up, it rings out, or the phone answers or declines it",
    request: Request::Json(schema::<HangUpBody>),
    errors: &[404, 409],
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/hang-up",
        "sim_hang_up",
        Answer::Json(200, schema::<Stopped>),
    )
};
static SILENCE: Endpoint = Endpoint {
    tag: TAG,
    summary: "WhatsApp's side of the connection goes silent (open but deaf) until the instance reconnects",
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/silence",
        "sim_silence",
        Answer::Json(200, schema::<Silenced>),
    )
};

/// The routes, given the filter that hands out the network (`sim::routes`'s).
pub(super) fn routes<N>(router: &mut Router, net: N) -> BoxedFilter<(Response,)>
where
    N: Filter<Extract = (SimNetwork,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let call = router
        .route1(&CALL)
        .and(body::json::<CallBody>())
        .and(net.clone())
        .handle(call);
    let hang_up = router
        .route1(&HANG_UP)
        .and(body::json::<HangUpBody>())
        .and(net.clone())
        .handle(hang_up);
    let silence = router.route1(&SILENCE).and(net).handle(silence);
    call.or(hang_up).unify().or(silence).unify().boxed()
}

async fn call(state: AppState, id: String, body: CallBody, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let from = contact_jid(&body.from)?;
    let group = body.group.as_deref().map(group_jid).transpose()?;
    let call_id = network.call(&id, from, body.video, group).await?;
    Ok(warp::reply::json(&Ringing { call_id }))
}

async fn hang_up(state: AppState, id: String, body: HangUpBody, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let how = body.reason.unwrap_or(CallEnd::HungUp);
    match network.hang_up(&id, &body.call_id, how).await? {
        Some(()) => Ok(warp::reply::json(&Stopped {
            call_id: body.call_id,
            stopped: true,
        })),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "call_not_found",
            format!("no call {} is ringing", body.call_id),
        )),
    }
}

async fn silence(state: AppState, id: String, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    network.silence(&id)?;
    Ok(warp::reply::json(&Silenced {
        instance_id: id,
        silent: true,
    }))
}
