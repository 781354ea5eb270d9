//! The WebSocket routes (API.md, "WebSockets"): `GET /ws` (admin token) and
//! `GET /api/listen/{id}` (the admin or that instance's token), both taking
//! the token from the header or `?token=`. They exist only while WebSockets
//! are switched on; what they carry is published to the [`Hub`].

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::filters::ws::Ws;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, QueryParam, Verb};
use super::error::{ApiError, reject};
use super::router::Router;
use super::{AppState, with_state};
use crate::websocket::{Channel, Hub, RegisterError, connection};

/// The largest message a client may send: clients only answer pings (and
/// may send anything as a sign of life), they never send data.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

const TAG: &str = "websockets";

const TOKEN: &[QueryParam] = &[QueryParam {
    name: "token",
    description: "The token, for clients that cannot send an Authorization header (browsers)",
    values: &[],
}];

static GLOBAL: Endpoint = Endpoint {
    tag: TAG,
    summary: "Events of every instance except messages: qr, instance.status, instance.paired, instance.logged_out, plugin.error, system",
    query: TOKEN,
    errors: &[426, 503],
    ..Endpoint::new(Verb::Get, "/ws", "websocket_global", Answer::WebSocket)
};
static LISTEN: Endpoint = Endpoint {
    tag: TAG,
    summary: "One instance's incoming_message (sudevwa shape), message.receipt and group.participants events",
    access: Access::Instance,
    query: TOKEN,
    errors: &[426, 503],
    ..Endpoint::new(Verb::Get, "/api/listen/{id}", "websocket_listen", Answer::WebSocket)
};

pub fn routes(router: &mut Router, state: AppState, hub: Hub) -> BoxedFilter<(Response,)> {
    let global_hub = hub.clone();
    let global = router
        .route0(&GLOBAL)
        .and(upgrade())
        .and_then(move |ws: Option<Ws>| {
            let result = accept(ws, &global_hub, Channel::Global);
            async move { result }
        });
    let listen = router
        .route1(&LISTEN)
        .and(upgrade())
        .and(with_state(state))
        .and_then(move |id: String, ws: Option<Ws>, state: AppState| {
            let result = state
                .instances
                .status(&id)
                .map_err(reject)
                .and_then(|_| accept(ws, &hub, Channel::Instance(id)));
            async move { result }
        });
    global.or(listen).unify().boxed()
}

/// The upgrade, or `None` for a plain request (answered 426 once the token
/// has been checked).
fn upgrade() -> impl Filter<Extract = (Option<Ws>,), Error = std::convert::Infallible> + Clone {
    warp::ws().map(Some).or(warp::any().map(|| None)).unify()
}

/// Registers the connection on `channel` before answering, so it gets every
/// frame published once the client has its 101, and so a full hub is a
/// clear 503 rather than a socket closed right after opening.
fn accept(ws: Option<Ws>, hub: &Hub, channel: Channel) -> Result<Response, warp::Rejection> {
    let ws = ws.ok_or_else(|| {
        reject(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "this route is a WebSocket: send a WebSocket upgrade request",
        ))
    })?;
    let subscription = hub.register(channel).map_err(|e| {
        let code = match e {
            RegisterError::Full(_) => "too_many_connections",
            RegisterError::ShuttingDown => "shutting_down",
        };
        reject(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string()))
    })?;
    let settings = hub.settings().clone();
    Ok(ws
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| connection::serve(socket, subscription, settings))
        .into_response())
}
