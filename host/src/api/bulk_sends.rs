//! Bulk sends (docs/API.md, "Bulk sends"): `POST /api/queue/{id}/bulk`
//! queues one template's texts to many recipients as a batch, and
//! `DELETE /api/queue/{id}/batches/{batch}` cancels what of a batch has not
//! gone; `/api/by-number/{phone}/bulk` and `/api/by-number/{phone}/batches/{batch}`
//! do the same for the instance whose own number is `{phone}`. The work is
//! [`crate::send_queue::bulk`]'s; here are the routes and the codes of its
//! errors.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body, phone};
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
static BULK_BY_NUMBER: Endpoint = Endpoint {
    tag: "queue",
    summary: "Queue one text template to many recipients as a batch, from the instance whose own number is {phone}",
    request: Request::Json(schema::<BulkRequest>),
    errors: &[503, 507],
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/bulk",
        "queue_bulk_by_number",
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

static CANCEL_BATCH_BY_NUMBER: Endpoint = Endpoint {
    tag: "queue",
    summary: "Cancel a batch's jobs that have not started to go, of the instance whose own number is {phone}",
    // 422 `invalid_phone` for a {phone} that is not a number.
    errors: &[422],
    ..Endpoint::new(
        Verb::Delete,
        "/api/by-number/{phone}/batches/{batch}",
        "cancel_send_batch_by_number",
        Answer::Json(200, schema::<BatchCancelled>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let bulk = router
        .route1(&BULK)
        .and(body::json_up_to::<BulkRequest>(MAX_BULK_BODY))
        .handle(bulk);
    let bulk_by_number = router
        .route1(&BULK_BY_NUMBER)
        .and(body::json_up_to::<BulkRequest>(MAX_BULK_BODY))
        .handle(bulk_by_number);
    let cancel = router.route2(&CANCEL_BATCH).handle(cancel_batch);
    let cancel_by_number = router.route2(&CANCEL_BATCH_BY_NUMBER).handle(cancel_batch_by_number);
    bulk.or(bulk_by_number)
        .unify()
        .or(cancel)
        .unify()
        .or(cancel_by_number)
        .unify()
        .boxed()
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
    queue_batch(&state, &id, request).await
}

async fn bulk_by_number(state: AppState, number: String, request: BulkRequest) -> Result<Response, ApiError> {
    let id = phone::instance_by_number(&state, &number).await?;
    queue_batch(&state, &id, request).await
}

/// Queues the batch for instance `id`, which exists: 202 with what was queued.
async fn queue_batch(state: &AppState, id: &str, request: BulkRequest) -> Result<Response, ApiError> {
    let queued = state.send_queue.bulk(&state.messenger, id, request).await?;
    Ok(warp::reply::with_status(warp::reply::json(&queued), StatusCode::ACCEPTED).into_response())
}

async fn cancel_batch(state: AppState, id: String, batch: String) -> Result<impl Reply, ApiError> {
    state.instances.get(&id).await?;
    cancel_batch_of(&state, &id, &batch).await
}

async fn cancel_batch_by_number(state: AppState, number: String, batch: String) -> Result<impl Reply, ApiError> {
    let id = phone::instance_by_number(&state, &number).await?;
    cancel_batch_of(&state, &id, &batch).await
}

/// Cancels what of batch `batch` of instance `id` (which exists) has not gone.
async fn cancel_batch_of(state: &AppState, id: &str, batch: &str) -> Result<warp::reply::Json, ApiError> {
    let cancelled = state.send_queue.cancel_batch(id, batch).await?;
    Ok(warp::reply::json(&cancelled))
}
