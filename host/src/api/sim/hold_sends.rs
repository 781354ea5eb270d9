//! `POST /sim/instances/{id}/hold-sends` and its `GET`: the simulated network
//! takes the instance's messages but holds back its answers to them, so a
//! test can stop the server between WhatsApp taking a message and wasap
//! hearing that it did (see `engine/sim/held_sends.rs`).

use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

use super::super::endpoint::{Answer, Endpoint, QueryParam, Request, Verb, schema};
use super::super::error::ApiError;
use super::super::handler::Handle;
use super::super::router::Router;
use super::super::{AppState, body};
use super::{TAG, WAIT_MS, WaitQuery, check};
use crate::engine::sim::{HoldState, SimNetwork};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    /// `true` holds back the answers to the instance's sends from now on;
    /// `false` releases the held ones and stops holding.
    hold: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Hold {
    instance_id: String,
    /// Whether the answers to the instance's sends are held back.
    hold: bool,
    /// Answers held: for `POST`, when the request came (released now when
    /// `hold` is false); for `GET`, now.
    held: usize,
}

static SET: Endpoint = Endpoint {
    tag: TAG,
    summary: "Hold back (or release) the network's answers to the instance's sends; held messages are taken all the same",
    request: Request::Json(schema::<HoldBody>),
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/hold-sends",
        "sim_hold_sends",
        Answer::Json(200, schema::<Hold>),
    )
};
static SHOW: Endpoint = Endpoint {
    tag: TAG,
    summary: "Whether the instance's sends are held and how many answers are; with ?min=N&wait_ms=T, waits for N held",
    query: &[
        QueryParam {
            name: "min",
            description: "Wait until at least this many answers are held",
            values: &[],
        },
        WAIT_MS,
    ],
    ..Endpoint::new(
        Verb::Get,
        "/sim/instances/{id}/hold-sends",
        "sim_held_sends",
        Answer::Json(200, schema::<Hold>),
    )
};

/// The routes, given the filter that hands out the network (`sim::routes`'s).
pub(super) fn routes<N>(router: &mut Router, net: N) -> BoxedFilter<(Response,)>
where
    N: Filter<Extract = (SimNetwork,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let set = router
        .route1(&SET)
        .and(body::json::<HoldBody>())
        .and(net.clone())
        .handle(set);
    let show = router
        .route1(&SHOW)
        .and(warp::query::<WaitQuery>())
        .and(net)
        .handle(show);
    set.or(show).unify().boxed()
}

fn answer(instance_id: String, hold: bool, state: HoldState) -> impl Reply {
    warp::reply::json(&Hold {
        instance_id,
        hold,
        held: state.held,
    })
}

async fn set(state: AppState, id: String, body: HoldBody, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let before = network.hold_sends(&id, body.hold);
    Ok(answer(id, body.hold, before))
}

async fn show(state: AppState, id: String, query: WaitQuery, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let now = network.held_sends(&id, query.min.unwrap_or(0), query.wait()).await;
    Ok(answer(id, now.on, now))
}
