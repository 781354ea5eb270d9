//! The simulated engine's clock (`POST /sim/clock`, admin token, `--engine
//! sim` only; docs/API.md, "Simulated WhatsApp"): moves the server's clock
//! forward, so a test sees scheduled and paced sends go without waiting. The
//! answer comes once every send queue scheduler has looked at the new time
//! (and sent what became due).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body};

/// The longest one move: a year.
const MAX_ADVANCE_MS: i64 = 366 * 24 * 3600 * 1000;
/// How long the answer waits for the schedulers at most.
const SETTLE: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    /// Seconds to move the clock forward.
    #[serde(default)]
    advance_secs: u64,
    /// Milliseconds to move it forward (added to `advance_secs`).
    #[serde(default)]
    advance_ms: u64,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Now {
    /// The server's time after the move (RFC 3339, milliseconds).
    now: String,
    /// The same, as unix milliseconds.
    now_ms: i64,
}

static ADVANCE: Endpoint = Endpoint {
    tag: "simulator",
    summary: "Move the server's clock forward (the send queue's schedule and pacing follow it)",
    request: Request::Json(schema::<AdvanceBody>),
    ..Endpoint::new(Verb::Post, "/sim/clock", "sim_clock", Answer::Json(200, schema::<Now>))
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    router
        .route0(&ADVANCE)
        .and(body::json::<AdvanceBody>())
        .handle(advance)
        .boxed()
}

async fn advance(state: AppState, body: AdvanceBody) -> Result<impl Reply, ApiError> {
    let ms = i64::try_from(body.advance_secs.saturating_mul(1000).saturating_add(body.advance_ms))
        .ok()
        .filter(|ms| *ms <= MAX_ADVANCE_MS)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_advance",
                "the clock moves forward by a year at most",
            )
        })?;
    state.send_queue.advance_clock(ms, SETTLE).await;
    let now_ms = state.send_queue.clock().now_ms();
    Ok(warp::reply::json(&Now {
        now: crate::clock::rfc3339_ms(now_ms),
        now_ms,
    }))
}
