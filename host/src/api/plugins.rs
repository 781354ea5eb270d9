//! Plugin management (admin token): list with stats, upload, enable,
//! disable and delete. The plugins directory stays the source of truth: an
//! upload writes `NAME.toml` + `NAME.wasm` there once they load. Built-in
//! plugins are listed with `builtin: true`; deleting or replacing one is a
//! 409 `plugin_builtin`.

use bytes::Bytes;
use futures::TryStreamExt;
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::multipart::FormData;
use warp::reply::{Reply, Response};

use super::endpoint::{Answer, Endpoint, FormField, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body};
use crate::plugins::loader::LoadError;
use crate::plugins::{PluginInfo, RegistryError};

/// The largest component an upload may carry.
const MAX_COMPONENT_BYTES: u64 = 64 * 1024 * 1024;
/// The largest manifest.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

#[derive(Serialize, schemars::JsonSchema)]
struct PluginList {
    plugins: Vec<PluginInfo>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Deleted {
    name: String,
    deleted: bool,
}

const TAG: &str = "plugins";

static LIST: Endpoint = Endpoint {
    tag: TAG,
    summary: "Installed plugins, with their stats and last error",
    ..Endpoint::new(
        Verb::Get,
        "/api/plugins",
        "list_plugins",
        Answer::Json(200, schema::<PluginList>),
    )
};
static GET: Endpoint = Endpoint {
    tag: TAG,
    summary: "One plugin",
    ..Endpoint::new(
        Verb::Get,
        "/api/plugins/{name}",
        "get_plugin",
        Answer::Json(200, schema::<PluginInfo>),
    )
};
static UPLOAD: Endpoint = Endpoint {
    tag: TAG,
    summary: "Install or replace a plugin: its manifest and component, loaded and started before they are kept (409 for a built-in plugin's name; 422 plugin_limits_too_high for limits above the server's ceilings)",
    request: Request::Multipart(&[
        FormField {
            name: "manifest",
            required: true,
            file: false,
            description: "The NAME.toml manifest",
        },
        FormField {
            name: "component",
            required: true,
            file: true,
            description: "The NAME.wasm component",
        },
    ]),
    errors: &[409, 503],
    ..Endpoint::new(
        Verb::Post,
        "/api/plugins",
        "upload_plugin",
        Answer::Json(201, schema::<PluginInfo>),
    )
};
static ENABLE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Put a plugin (back) in the chain; lifts a quarantine",
    errors: &[503],
    ..Endpoint::new(
        Verb::Post,
        "/api/plugins/{name}/enable",
        "enable_plugin",
        Answer::Json(200, schema::<PluginInfo>),
    )
};
static DISABLE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Take a plugin out of the chain (kept across restarts)",
    errors: &[503],
    ..Endpoint::new(
        Verb::Post,
        "/api/plugins/{name}/disable",
        "disable_plugin",
        Answer::Json(200, schema::<PluginInfo>),
    )
};
static DELETE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Remove a plugin, its files and its stored keys (409 for a built-in plugin: disable it instead)",
    errors: &[409, 503],
    ..Endpoint::new(
        Verb::Delete,
        "/api/plugins/{name}",
        "delete_plugin",
        Answer::Json(200, schema::<Deleted>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let list = router.route0(&LIST).handle(list);
    let get = router.route1(&GET).handle(get);
    let upload = router
        .route0(&UPLOAD)
        .and(warp::multipart::form().max_length(MAX_COMPONENT_BYTES + MAX_MANIFEST_BYTES + 64 * 1024))
        .handle(upload);
    let enable = router
        .route1(&ENABLE)
        .handle(|state: AppState, name: String| set_enabled(state, name, true));
    let disable = router
        .route1(&DISABLE)
        .handle(|state: AppState, name: String| set_enabled(state, name, false));
    let delete = router.route1(&DELETE).handle(delete);
    list.or(get)
        .unify()
        .or(upload)
        .unify()
        .or(enable)
        .unify()
        .or(disable)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}

async fn list(state: AppState) -> Result<impl Reply, ApiError> {
    Ok(warp::reply::json(&PluginList {
        plugins: state.plugins.registry().list(),
    }))
}

async fn get(state: AppState, name: String) -> Result<impl Reply, ApiError> {
    let info = state
        .plugins
        .registry()
        .info(&name)
        .ok_or(RegistryError::NotFound(name))?;
    Ok(warp::reply::json(&info))
}

async fn set_enabled(state: AppState, name: String, enabled: bool) -> Result<impl Reply, ApiError> {
    let info = state.plugins.registry().set_enabled(&name, enabled)?;
    Ok(warp::reply::json(&info))
}

async fn delete(state: AppState, name: String) -> Result<impl Reply, ApiError> {
    state.plugins.registry().delete(&name).await?;
    Ok(warp::reply::json(&Deleted { name, deleted: true }))
}

async fn upload(state: AppState, mut form: FormData) -> Result<impl Reply, ApiError> {
    let bad = |e: warp::Error| ApiError::new(StatusCode::BAD_REQUEST, "invalid_multipart", e.to_string());
    let (mut manifest, mut component): (Option<Bytes>, Option<Bytes>) = (None, None);
    while let Some(part) = form.try_next().await.map_err(bad)? {
        let limit = match part.name() {
            "manifest" => MAX_MANIFEST_BYTES,
            "component" => MAX_COMPONENT_BYTES,
            _ => 4096,
        };
        let name = part.name().to_owned();
        let too_large = move || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("at most {limit} bytes"),
            )
        };
        let data = body::read_limited(part.stream(), limit, "invalid_multipart", too_large).await?;
        match name.as_str() {
            "manifest" => manifest = Some(data),
            "component" => component = Some(data),
            _ => {}
        }
    }
    let invalid = |message: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message);
    let manifest = manifest.ok_or_else(|| invalid("the form needs a `manifest` field"))?;
    let manifest = std::str::from_utf8(&manifest).map_err(|_| invalid("the manifest must be UTF-8 TOML"))?;
    let component = component.ok_or_else(|| invalid("the form needs a `component` file"))?;
    let info = state.plugins.registry().install(manifest, component).await?;
    Ok(warp::reply::with_status(warp::reply::json(&info), StatusCode::CREATED))
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        let message = e.to_string();
        match e {
            RegistryError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "plugin_not_found", message),
            RegistryError::Builtin(_) => ApiError::new(StatusCode::CONFLICT, "plugin_builtin", message),
            RegistryError::Load(LoadError::AboveCeiling(_)) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plugin_limits_too_high", message)
            }
            RegistryError::Load(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_plugin", message),
            RegistryError::Io(e) => {
                tracing::error!(error = %e, "cannot write the plugins directory");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "plugins_dir_unavailable",
                    "the plugins directory cannot be written",
                )
            }
        }
    }
}
