//! Bulk sends (docs/API.md, "Bulk sends"): `POST /api/queue/{id}/bulk`
//! queues one template's texts to many recipients as a batch, and
//! `DELETE /api/queue/{id}/batches/{batch}` cancels what of a batch has not
//! gone. The work is [`crate::send_queue::bulk`]'s; here are the routes and
//! the codes of its errors.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::AppState;
use super::body;
use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use crate::send_queue::bulk::{BatchCancelled, BatchQueued, BulkError, BulkRequest};

/// The largest bulk request body: room for 10,000 recipients with their
/// variables (the 256 KiB of other JSON bodies would hold a few hundred).
pub const MAX_BULK_BODY: u64 = 16 * 1024 * 1024;

static BULK: Endpoint = Endpoint {
    tag: "queue",
    summary: "Queue one text template to many recipients as a batch (bad recipients are reported, the rest queued)",
    access: Access::Instance,
    request: Request::Json(schema::<BulkRequest>),
    errors: &[503, 507],
    ..Endpoint::new(
        Verb::Post,
        "/api/queue/{id}/bulk",
        "queue_bulk",
        Answer::Json(202, schema::<BatchQueued>),
    )
};
static CANCEL_BATCH: Endpoint = Endpoint {
    tag: "queue",
    summary: "Cancel a batch's jobs that have not started to go",
    access: Access::Instance,
    ..Endpoint::new(
        Verb::Delete,
        "/api/queue/{id}/batches/{batch}",
        "cancel_send_batch",
        Answer::Json(200, schema::<BatchCancelled>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let bulk = router
        .route1(&BULK)
        .and(body::json_up_to::<BulkRequest>(MAX_BULK_BODY))
        .handle(bulk);
    let cancel = router.route2(&CANCEL_BATCH).handle(cancel_batch);
    bulk.or(cancel).unify().boxed()
}

impl From<BulkError> for ApiError {
    fn from(e: BulkError) -> ApiError {
        let e = match e {
            BulkError::Queue(e) => return e.into(),
            BulkError::Send(e) => return e.into(),
            other => other,
        };
        let (status, code) = match &e {
            BulkError::NoRecipients => (StatusCode::UNPROCESSABLE_ENTITY, "no_recipients"),
            BulkError::TooManyRecipients => (StatusCode::UNPROCESSABLE_ENTITY, "too_many_recipients"),
            BulkError::EmptyTemplate | BulkError::EmptyText { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "empty_message")
            }
            BulkError::TemplateTooLong | BulkError::TextTooLong { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "message_too_long")
            }
            BulkError::Template(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_template"),
            BulkError::MissingVariable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "missing_variable"),
            BulkError::InvalidVariable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_variable"),
            BulkError::BatchTooLarge => (StatusCode::UNPROCESSABLE_ENTITY, "batch_too_large"),
            BulkError::UnknownBatch(_) => (StatusCode::NOT_FOUND, "batch_not_found"),
            BulkError::Queue(_) | BulkError::Send(_) => unreachable!("answered above"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

async fn bulk(state: AppState, id: String, request: BulkRequest) -> Result<Response, ApiError> {
    state.instances.get(&id).await?;
    let queued = state.send_queue.bulk(&state.messenger, &id, request).await?;
    Ok(warp::reply::with_status(warp::reply::json(&queued), StatusCode::ACCEPTED).into_response())
}

async fn cancel_batch(state: AppState, id: String, batch: String) -> Result<impl Reply, ApiError> {
    state.instances.get(&id).await?;
    let cancelled = state.send_queue.cancel_batch(&id, &batch).await?;
    Ok(warp::reply::json(&cancelled))
}
