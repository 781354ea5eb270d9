//! Per-instance webhook routes (docs/API.md, "Webhooks"): seed 000's (docs/seeds/)
//! `webhook-setconfig` (the instance's primary `sudevwa` webhook), and the
//! list, create and delete of any further webhooks. Secrets are shown once,
//! when set or created, and never listed.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body};
use wasap_events::Format;

use crate::delivery::subscriptions::canonical_kinds;
use crate::instances::InstanceError;
use crate::store::webhooks::{MAX_WEBHOOKS_PER_INSTANCE, WebhookInsert, WebhookRow};

/// Longest webhook URL accepted.
const MAX_URL_BYTES: usize = 2048;
/// Longest secret accepted.
const MAX_SECRET_BYTES: usize = 256;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct SetConfigBody {
    /// Where the instance's events are posted.
    url: String,
    /// The HMAC key; a 64-hex-character one is generated when absent.
    secret: Option<String>,
}

/// The seed document's answer, field for field.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SetConfigAnswer {
    instance_id: String,
    webhook_url: String,
    secret: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    url: String,
    /// The HMAC key; a 64-hex-character one is generated when absent.
    secret: Option<String>,
    /// `sudevwa` (the default) or `gowa`.
    format: Option<String>,
    /// Event kinds (`message`, `message_undecryptable`, `receipt`, `group_participants`, ...; the
    /// formats' names such as `incoming_message` work too); absent or empty: every kind but
    /// `queue_job` (the send queue's job status events), which must be named.
    events: Option<Vec<String>>,
}

/// A webhook as listed.
#[derive(Serialize, schemars::JsonSchema)]
struct Webhook {
    id: String,
    url: String,
    format: String,
    /// Event kinds; empty means every kind.
    events: Vec<String>,
    enabled: bool,
    /// Whether this is the instance's `webhook-setconfig` webhook.
    primary: bool,
    /// Only in the answer that creates the webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Webhook {
        Webhook {
            id: row.id,
            url: row.url,
            format: row.format,
            events: row.events,
            enabled: row.enabled,
            primary: row.is_primary,
            secret: None,
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct WebhookList {
    webhooks: Vec<Webhook>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Deleted {
    id: String,
    deleted: bool,
}

const TAG: &str = "webhooks";

static SET_CONFIG: Endpoint = Endpoint {
    tag: TAG,
    summary: "Set the instance's primary webhook (sudevwa format); generates the secret when none is given",
    access: Access::Instance,
    request: Request::Json(schema::<SetConfigBody>),
    ..Endpoint::new(
        Verb::Post,
        "/api/instances/{id}/webhook-setconfig",
        "webhook_setconfig",
        Answer::Json(200, schema::<SetConfigAnswer>),
    )
};
static LIST: Endpoint = Endpoint {
    tag: TAG,
    summary: "The instance's webhooks (secrets are not shown)",
    access: Access::Instance,
    ..Endpoint::new(
        Verb::Get,
        "/api/instances/{id}/webhooks",
        "list_webhooks",
        Answer::Json(200, schema::<WebhookList>),
    )
};
static CREATE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Add a webhook with a format and an event filter; its secret is shown this once",
    access: Access::Instance,
    request: Request::Json(schema::<CreateBody>),
    errors: &[409],
    ..Endpoint::new(
        Verb::Post,
        "/api/instances/{id}/webhooks",
        "create_webhook",
        Answer::Json(201, schema::<Webhook>),
    )
};
static DELETE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Remove a webhook; its queued deliveries fail",
    access: Access::Instance,
    ..Endpoint::new(
        Verb::Delete,
        "/api/instances/{id}/webhooks/{webhook_id}",
        "delete_webhook",
        Answer::Json(200, schema::<Deleted>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let set_config = router
        .route1(&SET_CONFIG)
        .and(body::json::<SetConfigBody>())
        .handle(set_config);
    let list = router.route1(&LIST).handle(list);
    let create = router.route1(&CREATE).and(body::json::<CreateBody>()).handle(create);
    let delete = router.route2(&DELETE).handle(delete);
    set_config
        .or(list)
        .unify()
        .or(create)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}

fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// 404 unless the instance exists.
async fn require_instance(state: &AppState, id: &str) -> Result<(), ApiError> {
    match state.store.get_instance(id).await? {
        Some(_) => Ok(()),
        None => Err(InstanceError::NotFound.into()),
    }
}

/// A URL the outbound-URL policy lets deliveries reach.
fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    if url.len() > MAX_URL_BYTES {
        return Err(unprocessable(
            "invalid_url",
            format!("the URL is longer than {MAX_URL_BYTES} bytes"),
        ));
    }
    let parsed =
        reqwest::Url::parse(url).map_err(|_| unprocessable("invalid_url", "the URL is not a valid absolute URL"))?;
    state
        .media_from_url
        .fetcher
        .policy()
        .check_url(&parsed)
        .map_err(|e| unprocessable("url_not_allowed", format!("the URL is not allowed: {e}")))?;
    Ok(url.to_owned())
}

/// The given secret, or a new 64-hex-character one.
fn secret_or_generated(secret: Option<String>) -> Result<String, ApiError> {
    match secret.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(secret) if secret.len() > MAX_SECRET_BYTES => Err(unprocessable(
            "invalid_secret",
            format!("the secret is longer than {MAX_SECRET_BYTES} bytes"),
        )),
        Some(secret) => Ok(secret),
        None => Ok(crate::random::hex(32)),
    }
}

async fn set_config(state: AppState, id: String, body: SetConfigBody) -> Result<impl Reply, ApiError> {
    require_instance(&state, &id).await?;
    let url = check_url(&state, &body.url)?;
    let secret = secret_or_generated(body.secret)?;
    state
        .store
        .set_primary_webhook(&id, &url, &secret, &crate::random::hex(16))
        .await?;
    Ok(warp::reply::json(&SetConfigAnswer {
        instance_id: id,
        webhook_url: url,
        secret,
    }))
}

async fn list(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    require_instance(&state, &id).await?;
    let rows = state.store.list_webhooks(&id).await?;
    Ok(warp::reply::json(&WebhookList {
        webhooks: rows.into_iter().map(Webhook::from).collect(),
    }))
}

async fn create(state: AppState, id: String, body: CreateBody) -> Result<impl Reply, ApiError> {
    require_instance(&state, &id).await?;
    let url = check_url(&state, &body.url)?;
    let format = match body.format {
        Some(name) => name
            .parse::<Format>()
            .map_err(|unknown| unprocessable("invalid_format", unknown.to_string()))?,
        None => Format::Sudevwa,
    };
    let events = canonical_kinds(&body.events.unwrap_or_default())
        .map_err(|name| unprocessable("invalid_event", format!("unknown event kind {name:?}")))?;
    let secret = secret_or_generated(body.secret)?;
    let row = WebhookRow {
        id: crate::random::hex(16),
        instance_id: id,
        url,
        secret: secret.clone(),
        format: format.to_string(),
        events,
        enabled: true,
        is_primary: false,
    };
    match state.store.insert_webhook(&row).await? {
        WebhookInsert::Inserted => {}
        WebhookInsert::TooMany => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "too_many_webhooks",
                format!("an instance has at most {MAX_WEBHOOKS_PER_INSTANCE} webhooks"),
            ));
        }
    }
    let mut created = Webhook::from(row);
    created.secret = Some(secret);
    Ok(warp::reply::with_status(
        warp::reply::json(&created),
        StatusCode::CREATED,
    ))
}

async fn delete(state: AppState, id: String, webhook_id: String) -> Result<impl Reply, ApiError> {
    if !state.store.delete_webhook(&id, &webhook_id).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "webhook_not_found",
            "no such webhook for this instance",
        ));
    }
    Ok(warp::reply::json(&Deleted {
        id: webhook_id,
        deleted: true,
    }))
}
