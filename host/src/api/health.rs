//! `GET /health`: liveness, instance counts by status, and whether the
//! database still takes writes and the inbound path's writes (journal,
//! outbox, done marks) are going through (`degraded` and why when not); no
//! token needed.

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
    /// `ok`, or `degraded` when the server answers but something it needs
    /// fails (see `problems`).
    status: &'static str,
    /// How many instances are in each status.
    instances: BTreeMap<String, i64>,
    /// Why the status is `degraded`, one sentence each; empty when `ok`.
    problems: Vec<String>,
}

static HEALTH: Endpoint = Endpoint {
    tag: "operations",
    summary: "Liveness, with instance counts by status; `degraded` and why when the database cannot write or inbound writes are being retried",
    access: Access::Public,
    errors: &[503],
    ..Endpoint::new(Verb::Get, "/health", "health", Answer::Json(200, schema::<Health>))
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    router.route0(&HEALTH).handle(health).boxed()
}

async fn health(state: AppState) -> Result<impl Reply, ApiError> {
    let instances = state.store.count_instances_by_status().await?;
    // A database that reads but cannot write holds back events and sends: say so.
    let mut problems: Vec<String> = state.store.check_writable().await.err().into_iter().collect();
    // Inbound writes being retried right now (the disk is full, the database
    // is down): nothing is lost, but nothing moves until they succeed.
    problems.extend(state.instances.inbound().retry().problems());
    Ok(warp::reply::json(&Health {
        status: if problems.is_empty() { "ok" } else { "degraded" },
        instances,
        problems,
    }))
}
