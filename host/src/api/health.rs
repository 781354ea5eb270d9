//! `GET /health`: liveness plus instance counts by status; no token needed.

use std::collections::BTreeMap;

use serde::Serialize;
use warp::Filter;
use warp::reply::{Reply, Response};

use super::error::reject;
use super::{AppState, with_state};

#[derive(Serialize)]
struct Health {
    status: &'static str,
    instances: BTreeMap<String, i64>,
}

pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("health")
        .and(warp::get())
        .and(with_state(state))
        .and_then(|state: AppState| async move {
            let instances = state
                .store
                .count_instances_by_status()
                .await
                .map_err(reject)?;
            Ok::<_, warp::Rejection>(
                warp::reply::json(&Health {
                    status: "ok",
                    instances,
                })
                .into_response(),
            )
        })
}
