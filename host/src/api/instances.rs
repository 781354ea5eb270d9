//! Instance routes: create, list, get, change settings, delete, QR (JSON or
//! PNG), pair code, logout, reconnect and token rotation (docs/API.md,
//! "Instances").

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, QueryParam, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body, qr_png};
use crate::instances::InstanceInfo;
use crate::instances::RejectCalls;
use crate::instances::Status;
use crate::websocket::Channel;
use crate::websocket::connection::Close;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// `[A-Za-z0-9_-]{1,64}`; generated when absent.
    instance_id: Option<String>,
    name: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Created<'a> {
    instance_id: &'a str,
    name: &'a str,
    /// The instance token, shown this once.
    token: &'a str,
    status: Status,
}

#[derive(Serialize, schemars::JsonSchema)]
struct InstanceList {
    instances: Vec<InstanceInfo>,
}

#[derive(Debug, Default, Deserialize)]
struct QrQuery {
    format: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct QrAnswer<'a> {
    instance_id: &'a str,
    /// The raw QR payload, to be rendered as a QR code.
    qr: &'a str,
    expires_at: String,
}

/// The settings to change; those absent stay as they are.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    /// Mark every incoming message read once received.
    auto_read: Option<bool>,
    /// Reject every call once it rings.
    reject_calls: Option<bool>,
    /// The text sent to a caller after an automatic reject (at most 65,536 bytes, not
    /// blank); `null` sends none.
    #[serde(default, deserialize_with = "present")]
    reject_calls_message: Option<Option<String>>,
    /// The instance's send pacing (docs/API.md, "Send queue"), replacing the
    /// one it had; fields left out take the server's defaults; `null` goes
    /// back to the defaults.
    #[serde(default, deserialize_with = "present_pacing")]
    pacing: Option<Option<crate::send_queue::Pacing>>,
}

/// `pacing` present, `null` included.
fn present_pacing<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<crate::send_queue::Pacing>>, D::Error> {
    Option::<crate::send_queue::Pacing>::deserialize(deserializer).map(Some)
}

/// A field that is present, `null` included (`Some(None)`), as opposed to absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct PairCodeBody {
    /// The phone number to link, international form without `+`.
    phone: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct PairCode {
    instance_id: String,
    /// To be typed on the phone, `XXXX-XXXX`.
    code: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Deleted {
    instance_id: String,
    deleted: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
struct RotatedToken<'a> {
    instance_id: &'a str,
    /// The new instance token, shown this once; the old one no longer works.
    token: &'a str,
}

#[derive(Serialize, schemars::JsonSchema)]
struct StatusAnswer<'a> {
    instance_id: &'a str,
    status: Status,
}

const TAG: &str = "instances";

static CREATE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Create an instance (a WhatsApp number to link)",
    request: Request::OptionalJson(schema::<CreateBody>),
    errors: &[409],
    ..Endpoint::new(
        Verb::Post,
        "/api/instances",
        "create_instance",
        Answer::Json(201, schema::<Created<'_>>),
    )
};
static LIST: Endpoint = Endpoint {
    tag: TAG,
    summary: "List instances",
    ..Endpoint::new(
        Verb::Get,
        "/api/instances",
        "list_instances",
        Answer::Json(200, schema::<InstanceList>),
    )
};
static GET: Endpoint = Endpoint {
    tag: TAG,
    summary: "One instance",
    access: Access::Instance,
    ..Endpoint::new(
        Verb::Get,
        "/api/instances/{id}",
        "get_instance",
        Answer::Json(200, schema::<InstanceInfo>),
    )
};
static SETTINGS: Endpoint = Endpoint {
    tag: TAG,
    summary: "Change an instance's settings (auto_read, reject_calls, reject_calls_message, pacing)",
    access: Access::Instance,
    request: Request::Json(schema::<SettingsBody>),
    ..Endpoint::new(
        Verb::Patch,
        "/api/instances/{id}",
        "update_instance",
        Answer::Json(200, schema::<InstanceInfo>),
    )
};
static DELETE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Delete an instance: logs out if paired, wipes its device keys",
    errors: &[503],
    ..Endpoint::new(
        Verb::Delete,
        "/api/instances/{id}",
        "delete_instance",
        Answer::Json(200, schema::<Deleted>),
    )
};
static QR: Endpoint = Endpoint {
    tag: TAG,
    summary: "The current QR code (JSON, or PNG with Accept: image/png or ?format=png); starts pairing",
    access: Access::Instance,
    query: &[QueryParam {
        name: "format",
        description: "`png` for the QR as an image",
        values: &["png", "json"],
    }],
    errors: &[409, 503],
    ..Endpoint::new(
        Verb::Get,
        "/api/instances/{id}/qr",
        "instance_qr",
        Answer::JsonOrPng(schema::<QrAnswer<'_>>),
    )
};
static PAIR_CODE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Link by phone number: a code to type on the phone",
    access: Access::Instance,
    request: Request::Json(schema::<PairCodeBody>),
    errors: &[409, 503],
    ..Endpoint::new(
        Verb::Post,
        "/api/instances/{id}/pair-code",
        "instance_pair_code",
        Answer::Json(200, schema::<PairCode>),
    )
};
static LOGOUT: Endpoint = Endpoint {
    tag: TAG,
    summary: "Log out: device keys wiped, the instance can pair again",
    access: Access::Instance,
    errors: &[409, 503],
    ..Endpoint::new(
        Verb::Post,
        "/api/instances/{id}/logout",
        "instance_logout",
        Answer::Json(200, schema::<StatusAnswer<'_>>),
    )
};
static RECONNECT: Endpoint = Endpoint {
    tag: TAG,
    summary: "Reconnect a linked instance now",
    access: Access::Instance,
    errors: &[409, 503],
    ..Endpoint::new(
        Verb::Post,
        "/api/instances/{id}/reconnect",
        "instance_reconnect",
        Answer::Json(200, schema::<StatusAnswer<'_>>),
    )
};

static ROTATE_TOKEN: Endpoint = Endpoint {
    tag: TAG,
    summary: "Replace the instance token (the old one stops working; its listeners are closed)",
    access: Access::Instance,
    ..Endpoint::new(
        Verb::Post,
        "/api/instances/{id}/token",
        "rotate_instance_token",
        Answer::Json(200, schema::<RotatedToken<'_>>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let create = router
        .route0(&CREATE)
        .and(body::json_or_default::<CreateBody>())
        .handle(create);
    let list = router.route0(&LIST).handle(list);
    let get = router.route1(&GET).handle(get);
    let settings = router
        .route1(&SETTINGS)
        .and(body::json::<SettingsBody>())
        .handle(settings);
    let delete = router.route1(&DELETE).handle(delete);
    let qr = router
        .route1(&QR)
        .and(warp::query::<QrQuery>())
        .and(warp::header::optional::<String>("accept"))
        .handle(qr);
    let pair_code = router
        .route1(&PAIR_CODE)
        .and(body::json::<PairCodeBody>())
        .handle(pair_code);
    let logout = router.route1(&LOGOUT).handle(logout);
    let reconnect = router.route1(&RECONNECT).handle(reconnect);
    let rotate_token = router.route1(&ROTATE_TOKEN).handle(rotate_token);

    create
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(settings)
        .unify()
        .or(delete)
        .unify()
        .or(qr)
        .unify()
        .or(pair_code)
        .unify()
        .or(logout)
        .unify()
        .or(reconnect)
        .unify()
        .or(rotate_token)
        .unify()
        .boxed()
}

async fn create(state: AppState, body: CreateBody) -> Result<impl Reply, ApiError> {
    let created = state.instances.create(body.instance_id, body.name).await?;
    let answer = Created {
        instance_id: &created.info.instance_id,
        name: &created.info.name,
        token: &created.token,
        status: created.info.status,
    };
    Ok(warp::reply::with_status(
        warp::reply::json(&answer),
        StatusCode::CREATED,
    ))
}

async fn list(state: AppState) -> Result<impl Reply, ApiError> {
    let instances = state.instances.list().await?;
    Ok(warp::reply::json(&InstanceList { instances }))
}

async fn get(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    let info = state.instances.get(&id).await?;
    Ok(warp::reply::json(&info))
}

async fn settings(state: AppState, id: String, body: SettingsBody) -> Result<impl Reply, ApiError> {
    // Every value is checked before anything is changed.
    if let Some(Some(message)) = &body.reject_calls_message {
        super::messages::check_text(message)?;
    }
    if let Some(Some(pacing)) = &body.pacing {
        state.send_queue.check_pacing(pacing)?;
    }
    let mut info = match body.auto_read {
        Some(on) => state.instances.set_auto_read(&id, on).await?,
        None => state.instances.get(&id).await?,
    };
    if body.reject_calls.is_some() || body.reject_calls_message.is_some() {
        let current = state.instances.reject_calls(&id)?;
        let setting = RejectCalls {
            on: body.reject_calls.unwrap_or(current.on),
            message: body.reject_calls_message.unwrap_or(current.message),
        };
        info = state.instances.set_reject_calls(&id, setting).await?;
    }
    if let Some(pacing) = body.pacing {
        state.send_queue.set_pacing(&id, pacing.unwrap_or_default()).await?;
    }
    Ok(warp::reply::json(&info))
}

async fn delete(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    state.instances.delete(&id).await?;
    // Its listeners have nothing left to hear, and their token is gone.
    if let Some(hub) = &state.websockets {
        hub.close_channel(&Channel::Instance(id.clone()), Close::InstanceDeleted);
    }
    Ok(warp::reply::json(&Deleted {
        instance_id: id,
        deleted: true,
    }))
}

async fn qr(state: AppState, id: String, query: QrQuery, accept: Option<String>) -> Result<Response, ApiError> {
    let wants_png = query.format.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("png"))
        || accept
            .as_deref()
            .is_some_and(|a| a.to_ascii_lowercase().contains("image/png"));
    let qr = state.instances.qr(&id).await?;
    if wants_png {
        let png = qr_png::render(&qr.code).map_err(|e| {
            tracing::error!(instance = %id, error = %e, "cannot render the QR code");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "qr_unavailable",
                "the QR code could not be rendered",
            )
        })?;
        let reply = warp::reply::with_header(png, "content-type", "image/png");
        return Ok(warp::reply::with_header(reply, "cache-control", "no-store").into_response());
    }
    Ok(warp::reply::json(&QrAnswer {
        instance_id: &id,
        qr: &qr.code,
        expires_at: crate::clock::rfc3339_ms(qr.expires_at_ms),
    })
    .into_response())
}

async fn pair_code(state: AppState, id: String, body: PairCodeBody) -> Result<impl Reply, ApiError> {
    let phone = super::phone::normalize(&body.phone)?;
    let code = state.instances.pair_code(&id, phone).await?;
    Ok(warp::reply::json(&PairCode { instance_id: id, code }))
}

async fn logout(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    state.instances.logout(&id).await?;
    Ok(warp::reply::json(&StatusAnswer {
        instance_id: &id,
        status: Status::LoggedOut,
    }))
}

async fn reconnect(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    state.instances.reconnect(&id).await?;
    let status = state.instances.status(&id)?;
    Ok(warp::reply::json(&StatusAnswer {
        instance_id: &id,
        status,
    }))
}

async fn rotate_token(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    let token = state.instances.rotate_token(&id).await?;
    // A leaked token may be listening: every listener authenticates again.
    if let Some(hub) = &state.websockets {
        hub.close_channel(&Channel::Instance(id.clone()), Close::TokenRotated);
    }
    Ok(warp::reply::json(&RotatedToken {
        instance_id: &id,
        token: &token,
    }))
}
