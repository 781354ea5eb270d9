//! `GET /api/instances/{id}/pacing` (docs/API.md, "Send queue"): an
//! instance's pacing as it was set (`PATCH /api/instances/{id}`, field
//! `pacing`) and the rules in force, that override laid over the server's
//! defaults field by field.

use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use crate::send_queue::{DirectSends, Pacing, QuietHours};

/// An instance's pacing.
#[derive(Serialize, schemars::JsonSchema)]
struct PacingAnswer {
    instance_id: String,
    /// The instance's own rules, as set: only the fields it overrides (`{}`
    /// when it has none and takes every default).
    pacing: Pacing,
    /// The rules in force: each field the instance's own, else the server's
    /// default; a limit or gap of 0 means none.
    effective: EffectivePacing,
}

/// Every pacing rule with its value in force.
#[derive(Serialize, schemars::JsonSchema)]
struct EffectivePacing {
    per_minute: u32,
    per_hour: u32,
    per_day: u32,
    /// The shortest gap between two queued messages, ms.
    min_gap_ms: u64,
    /// The longest gap, ms (never under `min_gap_ms`).
    max_gap_ms: u64,
    /// A typing state before each queued text.
    typing: bool,
    /// `null` when there are none.
    quiet_hours: Option<QuietHours>,
    direct_sends: DirectSends,
}

static GET: Endpoint = Endpoint {
    tag: "queue",
    summary: "An instance's pacing: its own rules and the rules in force over the server's defaults",
    access: Access::Instance,
    ..Endpoint::new(
        Verb::Get,
        "/api/instances/{id}/pacing",
        "get_instance_pacing",
        Answer::Json(200, schema::<PacingAnswer>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    router.route1(&GET).handle(get).boxed()
}

async fn get(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    state.instances.get(&id).await?;
    let queue = &state.send_queue;
    let pacing = queue.pacing(&id).await?;
    // The numbers as the scheduler reads them; quiet hours as they were
    // written (the rules keep them parsed).
    let rules = queue.rules(&id).await?;
    let quiet_hours = pacing
        .quiet_hours
        .clone()
        .or_else(|| queue.default_pacing().quiet_hours.clone());
    let effective = EffectivePacing {
        per_minute: rules.per_minute,
        per_hour: rules.per_hour,
        per_day: rules.per_day,
        min_gap_ms: rules.min_gap_ms,
        max_gap_ms: rules.max_gap_ms,
        typing: rules.typing,
        quiet_hours,
        direct_sends: rules.direct_sends,
    };
    Ok(warp::reply::json(&PacingAnswer {
        instance_id: id,
        pacing,
        effective,
    }))
}
