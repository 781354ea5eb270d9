//! The webhook outbox as the admin sees it (docs/API.md, "Webhooks"): deliveries
//! by status and instance, and a retry of a failed one.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::AppState;
use super::endpoint::{Answer, Endpoint, QueryParam, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use crate::clock::{rfc3339, rfc3339_ms};
use crate::store::deliveries::{DeliveryFilter, DeliveryRow, DeliveryStatus};

/// Deliveries listed when the query does not say.
const DEFAULT_LIMIT: u32 = 100;
/// Deliveries listed at most.
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    instance_id: Option<String>,
    limit: Option<u32>,
}

/// One delivery of one event to one receiver.
#[derive(Serialize, schemars::JsonSchema)]
struct Delivery {
    id: String,
    event_id: String,
    webhook_id: String,
    /// The event's instance; null for server-wide events.
    instance_id: Option<String>,
    /// The canonical kind of the event (`message`, `receipt`, ...).
    event_kind: String,
    format: String,
    /// `pending`, `delivered` or `failed`.
    status: String,
    attempts: i64,
    last_error: Option<String>,
    /// When the next attempt is due; null unless `pending`.
    next_attempt_at: Option<String>,
    created_at: String,
}

impl From<DeliveryRow> for Delivery {
    fn from(row: DeliveryRow) -> Delivery {
        let pending = row.status == DeliveryStatus::Pending.as_str();
        Delivery {
            next_attempt_at: pending.then(|| rfc3339_ms(row.next_attempt_ms)),
            created_at: rfc3339(row.created_at),
            id: row.id,
            event_id: row.event_id,
            webhook_id: row.webhook_id,
            instance_id: row.instance_id,
            event_kind: row.event_kind,
            format: row.format,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct DeliveryList {
    deliveries: Vec<Delivery>,
}

const TAG: &str = "webhooks";

static LIST: Endpoint = Endpoint {
    tag: TAG,
    summary: "Webhook deliveries, newest first (at most `limit`, default 100, up to 1000)",
    query: &[
        QueryParam {
            name: "status",
            description: "Only deliveries in this status",
            values: &["pending", "delivered", "failed"],
        },
        QueryParam {
            name: "instance_id",
            description: "Only deliveries of this instance's events",
            values: &[],
        },
        QueryParam {
            name: "limit",
            description: "How many at most (1 to 1000, default 100)",
            values: &[],
        },
    ],
    ..Endpoint::new(
        Verb::Get,
        "/api/deliveries",
        "list_deliveries",
        Answer::Json(200, schema::<DeliveryList>),
    )
};
static RETRY: Endpoint = Endpoint {
    tag: TAG,
    summary: "Send a failed delivery again, with a fresh round of attempts",
    errors: &[409],
    ..Endpoint::new(
        Verb::Post,
        "/api/deliveries/{id}/retry",
        "retry_delivery",
        Answer::Json(200, schema::<Delivery>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let list = router.route0(&LIST).and(warp::query::<ListQuery>()).handle(list);
    let retry = router.route1(&RETRY).handle(retry);
    list.or(retry).unify().boxed()
}

fn bad_query(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

async fn list(state: AppState, query: ListQuery) -> Result<impl Reply, ApiError> {
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| bad_query(format!("unknown status {s:?}")))?),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad_query(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let filter = DeliveryFilter {
        status,
        instance_id: query.instance_id.filter(|id| !id.is_empty()),
        limit,
    };
    let rows = state.store.list_deliveries(&filter).await?;
    Ok(warp::reply::json(&DeliveryList {
        deliveries: rows.into_iter().map(Delivery::from).collect(),
    }))
}

async fn retry(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "delivery_not_found", "no such delivery");
    let row = state.store.get_delivery(&id).await?.ok_or_else(not_found)?;
    if !state.store.retry_delivery(&id).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "delivery_not_failed",
            format!("only failed deliveries can be retried; this one is {}", row.status),
        ));
    }
    state.webhooks.wake();
    let row = state.store.get_delivery(&id).await?.ok_or_else(not_found)?;
    Ok(warp::reply::json(&Delivery::from(row)))
}
