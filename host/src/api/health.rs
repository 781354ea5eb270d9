//! `GET /health`: liveness plus instance counts by status; no token needed.

use std::collections::BTreeMap;

use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;

#[derive(Serialize, schemars::JsonSchema)]
struct Health {
    /// Always `ok` when the server answers.
    status: &'static str,
    /// How many instances are in each status.
    instances: BTreeMap<String, i64>,
}

static HEALTH: Endpoint = Endpoint {
    tag: "operations",
    summary: "Liveness, with instance counts by status",
    access: Access::Public,
    errors: &[503],
    ..Endpoint::new(Verb::Get, "/health", "health", Answer::Json(200, schema::<Health>))
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    router.route0(&HEALTH).handle(health).boxed()
}

async fn health(state: AppState) -> Result<impl Reply, ApiError> {
    let instances = state.store.count_instances_by_status().await?;
    Ok(warp::reply::json(&Health {
        status: "ok",
        instances,
    }))
}
