//! Instance routes: create, list, get, delete, QR (JSON or PNG), pair code,
//! logout and reconnect (API.md, "Instances").

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::auth::{Credentials, credentials};
use super::error::{ApiError, reject};
use super::{AppState, body, qr_png, with_state};
use crate::instances::InstanceInfo;
use crate::instances::Status;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    instance_id: Option<String>,
    name: Option<String>,
}

#[derive(Serialize)]
struct Created<'a> {
    instance_id: &'a str,
    name: &'a str,
    token: &'a str,
    status: Status,
}

#[derive(Serialize)]
struct InstanceList {
    instances: Vec<InstanceInfo>,
}

#[derive(Debug, Default, Deserialize)]
struct QrQuery {
    format: Option<String>,
}

#[derive(Serialize)]
struct QrAnswer<'a> {
    instance_id: &'a str,
    qr: &'a str,
    expires_at: String,
}

#[derive(Debug, Deserialize)]
struct PairCodeBody {
    phone: String,
}

#[derive(Serialize)]
struct InstanceStatus<'a> {
    instance_id: &'a str,
    status: Status,
}

type Result<T> = std::result::Result<T, warp::Rejection>;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let instances = warp::path!("api" / "instances");
    let one = warp::path!("api" / "instances" / String);

    let create = instances
        .and(warp::post())
        .and(credentials())
        .and(body::json_or_default::<CreateBody>())
        .and(with_state(state.clone()))
        .and_then(create);
    let list = instances
        .and(warp::get())
        .and(credentials())
        .and(with_state(state.clone()))
        .and_then(list);
    let get = one
        .and(warp::get())
        .and(credentials())
        .and(with_state(state.clone()))
        .and_then(get);
    let delete = one
        .and(warp::delete())
        .and(credentials())
        .and(with_state(state.clone()))
        .and_then(delete);
    let qr = warp::path!("api" / "instances" / String / "qr")
        .and(warp::get())
        .and(credentials())
        .and(warp::query::<QrQuery>())
        .and(warp::header::optional::<String>("accept"))
        .and(with_state(state.clone()))
        .and_then(qr);
    let pair_code = warp::path!("api" / "instances" / String / "pair-code")
        .and(warp::post())
        .and(credentials())
        .and(body::json::<PairCodeBody>())
        .and(with_state(state.clone()))
        .and_then(pair_code);
    let logout = warp::path!("api" / "instances" / String / "logout")
        .and(warp::post())
        .and(credentials())
        .and(with_state(state.clone()))
        .and_then(logout);
    let reconnect = warp::path!("api" / "instances" / String / "reconnect")
        .and(warp::post())
        .and(credentials())
        .and(with_state(state))
        .and_then(reconnect);

    create
        .or(list)
        .unify()
        .or(get)
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
}

async fn create(credentials: Credentials, body: CreateBody, state: AppState) -> Result<Response> {
    state.require_admin(&credentials).map_err(reject)?;
    let created = state.instances.create(body.instance_id, body.name).await.map_err(reject)?;
    let answer = Created {
        instance_id: &created.info.instance_id,
        name: &created.info.name,
        token: &created.token,
        status: created.info.status,
    };
    Ok(warp::reply::with_status(warp::reply::json(&answer), StatusCode::CREATED).into_response())
}

async fn list(credentials: Credentials, state: AppState) -> Result<Response> {
    state.require_admin(&credentials).map_err(reject)?;
    let instances = state.instances.list().await.map_err(reject)?;
    Ok(warp::reply::json(&InstanceList { instances }).into_response())
}

async fn get(id: String, credentials: Credentials, state: AppState) -> Result<Response> {
    state.require_instance(&credentials, &id).map_err(reject)?;
    let info = state.instances.get(&id).await.map_err(reject)?;
    Ok(warp::reply::json(&info).into_response())
}

async fn delete(id: String, credentials: Credentials, state: AppState) -> Result<Response> {
    state.require_admin(&credentials).map_err(reject)?;
    state.instances.delete(&id).await.map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "instance_id": id, "deleted": true })).into_response())
}

async fn qr(
    id: String,
    credentials: Credentials,
    query: QrQuery,
    accept: Option<String>,
    state: AppState,
) -> Result<Response> {
    state.require_instance(&credentials, &id).map_err(reject)?;
    let wants_png = query.format.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("png"))
        || accept.as_deref().is_some_and(|a| a.to_ascii_lowercase().contains("image/png"));
    let qr = state.instances.qr(&id).await.map_err(reject)?;
    if wants_png {
        let png = qr_png::render(&qr.code).map_err(|e| {
            tracing::error!(instance = %id, error = %e, "cannot render the QR code");
            reject(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "qr_unavailable", "the QR code could not be rendered"))
        })?;
        let reply = warp::reply::with_header(png, "content-type", "image/png");
        return Ok(warp::reply::with_header(reply, "cache-control", "no-store").into_response());
    }
    Ok(warp::reply::json(&QrAnswer {
        instance_id: &id,
        qr: &qr.code,
        expires_at: crate::instances::rfc3339_ms(qr.expires_at_ms),
    })
    .into_response())
}

async fn pair_code(id: String, credentials: Credentials, body: PairCodeBody, state: AppState) -> Result<Response> {
    state.require_instance(&credentials, &id).map_err(reject)?;
    let phone = super::phone::normalize(&body.phone).map_err(reject)?;
    let code = state.instances.pair_code(&id, phone).await.map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "instance_id": id, "code": code })).into_response())
}

async fn logout(id: String, credentials: Credentials, state: AppState) -> Result<Response> {
    state.require_instance(&credentials, &id).map_err(reject)?;
    state.instances.logout(&id).await.map_err(reject)?;
    Ok(warp::reply::json(&InstanceStatus {
        instance_id: &id,
        status: Status::LoggedOut,
    })
    .into_response())
}

async fn reconnect(id: String, credentials: Credentials, state: AppState) -> Result<Response> {
    state.require_instance(&credentials, &id).map_err(reject)?;
    state.instances.reconnect(&id).await.map_err(reject)?;
    let status = state.instances.status(&id).map_err(reject)?;
    Ok(warp::reply::json(&InstanceStatus { instance_id: &id, status }).into_response())
}
