//! The send queue's routes (docs/API.md, "Send queue"): list an instance's
//! jobs (by its id, or by its own number), read and cancel one; the `queue`
//! / `send_at` fields the queueable send routes share; and [`QueuedSends`],
//! which runs a stored request through its route's own code when the queue
//! sends it.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, QueryParam, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, phone};
use crate::engine::{ChatState, SentMessage};
use crate::send_queue::{Dispatch, Job, JobStatus, QueueError, Queued, Undelivered};
use crate::store::send_jobs::JobFilter;

/// The send kinds the queue carries, by the route they come from.
pub(super) use crate::send_queue::kinds::{CONTACT, LOCATION, MEDIA_URL, POLL, TEXT};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    batch: Option<String>,
    limit: Option<i64>,
    after: Option<i64>,
}

/// A page of jobs.
#[derive(Serialize, schemars::JsonSchema)]
struct JobPage {
    jobs: Vec<Job>,
    /// The `after` of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<i64>,
}

/// The listing's query, by instance id or by number.
const LIST_QUERY: &[QueryParam] = &[
    QueryParam {
        name: "status",
        description: "Only jobs in this status",
        values: &["queued", "sending", "sent", "delivered", "read", "failed", "cancelled"],
    },
    QueryParam {
        name: "batch",
        description: "Only jobs of this batch",
        values: &[],
    },
    QueryParam {
        name: "limit",
        description: "How many at most (1 to 500, default 100)",
        values: &[],
    },
    QueryParam {
        name: "after",
        description: "Only jobs after this job id (the previous page's next_after)",
        values: &[],
    },
];

static LIST: Endpoint = Endpoint {
    tag: "queue",
    summary: "An instance's send jobs, oldest first (paged)",
    access: Access::Instance,
    query: LIST_QUERY,
    ..Endpoint::new(
        Verb::Get,
        "/api/queue/{id}",
        "list_send_jobs",
        Answer::Json(200, schema::<JobPage>),
    )
};
static LIST_BY_NUMBER: Endpoint = Endpoint {
    tag: "queue",
    summary: "The send jobs of the instance whose own number is {phone}, oldest first (paged)",
    query: LIST_QUERY,
    // 422 `invalid_phone` for a {phone} that is not a number.
    errors: &[422],
    ..Endpoint::new(
        Verb::Get,
        "/api/by-number/{phone}/queue",
        "list_send_jobs_by_number",
        Answer::Json(200, schema::<JobPage>),
    )
};
static GET: Endpoint = Endpoint {
    tag: "queue",
    summary: "One send job",
    access: Access::Instance,
    ..Endpoint::new(
        Verb::Get,
        "/api/queue/{id}/{job}",
        "get_send_job",
        Answer::Json(200, schema::<Job>),
    )
};
static CANCEL: Endpoint = Endpoint {
    tag: "queue",
    summary: "Cancel a queued or scheduled send job (409 once it is sending or sent)",
    access: Access::Instance,
    errors: &[409],
    ..Endpoint::new(
        Verb::Delete,
        "/api/queue/{id}/{job}",
        "cancel_send_job",
        Answer::Json(200, schema::<Job>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let list = router.route1(&LIST).and(warp::query::<ListQuery>()).handle(list);
    let list_by_number = router
        .route1(&LIST_BY_NUMBER)
        .and(warp::query::<ListQuery>())
        .handle(list_by_number);
    let get = router.route2(&GET).handle(get);
    let cancel = router.route2(&CANCEL).handle(cancel);
    list.or(list_by_number)
        .unify()
        .or(get)
        .unify()
        .or(cancel)
        .unify()
        .boxed()
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match e {
            QueueError::Full(_) => (StatusCode::INSUFFICIENT_STORAGE, "queue_full"),
            QueueError::UnknownJob(_) => (StatusCode::NOT_FOUND, "job_not_found"),
            QueueError::NotCancellable(..) => (StatusCode::CONFLICT, "job_not_cancellable"),
            QueueError::SendAt(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_send_at"),
            QueueError::Pacing(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_pacing"),
            QueueError::Paced(retry_after_secs) => {
                return ApiError::Paced {
                    retry_after_secs,
                    message,
                };
            }
            QueueError::Store(e) => return ApiError::Store(e),
            QueueError::Instance(e) => return e.into(),
        };
        ApiError::new(status, code, message)
    }
}

fn job_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "job_not_found",
            format!("there is no job {text}"),
        )
    })
}

async fn list(state: AppState, id: String, query: ListQuery) -> Result<impl Reply, ApiError> {
    state.instances.get(&id).await?;
    list_of(&state, &id, query).await
}

async fn list_by_number(state: AppState, number: String, query: ListQuery) -> Result<impl Reply, ApiError> {
    let id = phone::instance_by_number(&state, &number).await?;
    list_of(&state, &id, query).await
}

/// A page of the jobs of instance `id`, which exists.
async fn list_of(state: &AppState, id: &str, query: ListQuery) -> Result<warp::reply::Json, ApiError> {
    if let Some(status) = &query.status
        && JobStatus::parse(status).is_none()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("status {status} is not one of queued, sending, sent, delivered, read, failed, cancelled"),
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=crate::send_queue::MAX_PAGE).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit is from 1 to 500",
        ));
    }
    let filter = JobFilter {
        status: query.status,
        batch_id: query.batch,
        after: query.after.unwrap_or(0),
        limit,
    };
    let jobs = state.send_queue.jobs(id, filter).await?;
    let next_after = (jobs.len() as i64 == limit)
        .then(|| jobs.last().map(|j| j.job_id))
        .flatten();
    Ok(warp::reply::json(&JobPage { jobs, next_after }))
}

async fn get(state: AppState, id: String, job: String) -> Result<impl Reply, ApiError> {
    state.instances.get(&id).await?;
    let job = state.send_queue.job(&id, job_id(&job)?).await?;
    Ok(warp::reply::json(&job))
}

async fn cancel(state: AppState, id: String, job: String) -> Result<impl Reply, ApiError> {
    state.instances.get(&id).await?;
    let job = state.send_queue.cancel(&id, job_id(&job)?).await?;
    Ok(warp::reply::json(&job))
}

/// When a send asked to be queued: `None` for a direct send, else the
/// `send_at` it gave (unix ms), if any.
pub(super) fn queueing(state: &AppState, queue: bool, send_at: Option<&str>) -> Result<Option<Option<i64>>, ApiError> {
    match send_at {
        Some(text) => Ok(Some(Some(state.send_queue.send_at(text)?))),
        None if queue => Ok(Some(None)),
        None => Ok(None),
    }
}

/// The refusal of `queue` / `send_at` on a send of media given as bytes (an
/// upload, base64): the queue would have to store the file with the job.
pub(super) fn not_queueable() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_queueable",
        "media given as bytes cannot be queued (the queue does not store files): put the file at a URL \
         and queue a media-url send",
    )
}

/// Stores a checked send as a job and answers 202. `body` is the request as
/// it came; its queueing fields are dropped, so that when it goes it is a
/// direct send of its route.
pub(super) async fn enqueue(
    state: &AppState,
    id: &str,
    kind: &str,
    mut body: serde_json::Value,
    send_at: Option<i64>,
) -> Result<Response, ApiError> {
    if let Some(fields) = body.as_object_mut() {
        fields.remove("queue");
        fields.remove("send_at");
        fields.remove("sendAt");
    }
    let queued: Queued = state.send_queue.enqueue(id, kind, &body, send_at, None).await?;
    Ok(warp::reply::with_status(warp::reply::json(&queued), StatusCode::ACCEPTED).into_response())
}

/// Runs stored requests through their routes' code.
pub struct QueuedSends {
    state: AppState,
}

impl QueuedSends {
    pub fn new(state: AppState) -> QueuedSends {
        QueuedSends { state }
    }
}

/// A refusal of the route's: for now (not connected, WhatsApp slow, over a
/// pace, all media transfer slots taken, a media URL's host unreachable or
/// slow) or for good (anything a client would have to change).
fn undelivered(e: ApiError) -> Undelivered {
    const FOR_NOW: [StatusCode; 4] = [
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::BAD_GATEWAY,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::GATEWAY_TIMEOUT,
    ];
    match &e {
        ApiError::Store(_) | ApiError::Paced { .. } => Undelivered::Later(e.to_string()),
        ApiError::Status { status, code, .. } if FOR_NOW.contains(status) => Undelivered::Later(format!("{code}: {e}")),
        ApiError::Status { code, .. } => Undelivered::Never(format!("{code}: {e}")),
    }
}

fn stored<T: serde::de::DeserializeOwned>(request: &serde_json::Value) -> Result<T, Undelivered> {
    serde_json::from_value(request.clone())
        .map_err(|e| Undelivered::Never(format!("the stored request is unreadable: {e}")))
}

#[async_trait::async_trait]
impl Dispatch for QueuedSends {
    async fn send(&self, id: &str, kind: &str, request: &serde_json::Value) -> Result<SentMessage, Undelivered> {
        let state = &self.state;
        let sent = match kind {
            TEXT => super::messages::send_text(state, id, stored(request)?).await,
            LOCATION => super::places_and_cards::location(state, id, stored(request)?).await,
            CONTACT => super::places_and_cards::contacts(state, id, stored(request)?).await,
            MEDIA_URL => super::media_url::send_media_url(state, id, stored(request)?).await,
            POLL => super::polls::send_poll(state, id, stored(request)?).await,
            other => return Err(Undelivered::Never(format!("the queue cannot send a {other}"))),
        };
        sent.map_err(undelivered)
    }

    async fn typing(&self, id: &str, request: &serde_json::Value) -> Result<(), Undelivered> {
        let to = request.get("to").and_then(|to| to.as_str()).unwrap_or_default();
        self.state
            .messenger
            .chat_state(id, to, ChatState::Typing)
            .await
            .map(drop)
            .map_err(|e| Undelivered::Later(e.to_string()))
    }
}
