//! The WebSocket routes (docs/API.md, "WebSockets"): `GET /ws` (admin token) and
//! `GET /api/listen/{id}` (the admin or that instance's token), both taking
//! the token from the header or `?token=`. They exist only while WebSockets
//! are switched on; what they carry is published to the [`Hub`].

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::filters::ws::Ws;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, QueryParam, Verb};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use crate::websocket::{Channel, Hub, RegisterError, Subscription, connection};

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

pub fn routes(router: &mut Router, hub: Hub) -> BoxedFilter<(Response,)> {
    let global_hub = hub.clone();
    let global = router
        .route0(&GLOBAL)
        .and(upgrade())
        .handle(move |_: AppState, ws: Option<Ws>| {
            let result = accept(ws, &global_hub, Channel::Global, || Ok(()));
            async move { result }
        });
    let listen = router
        .route1(&LISTEN)
        .and(upgrade())
        .handle(move |state: AppState, id: String, ws: Option<Ws>| {
            let exists = || state.instances.status(&id).map(|_| ()).map_err(ApiError::from);
            let result = exists().and_then(|()| accept(ws, &hub, Channel::Instance(id.clone()), exists));
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
/// clear 503 rather than a socket closed right after opening; then asks
/// `still_wanted` (see [`register`]).
fn accept(
    ws: Option<Ws>,
    hub: &Hub,
    channel: Channel,
    still_wanted: impl FnOnce() -> Result<(), ApiError>,
) -> Result<Response, ApiError> {
    let ws = ws.ok_or_else(|| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "this route is a WebSocket: send a WebSocket upgrade request",
        )
    })?;
    let subscription = register(hub, channel, still_wanted)?;
    let settings = hub.settings().clone();
    Ok(ws
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| connection::serve(socket, subscription, settings))
        .into_response())
}

/// Registers a connection on `channel`, then asks `still_wanted` whether its
/// channel still has a reason to exist; if not, the registration is undone.
///
/// The instance a listener asks for is checked before registering (a cheap
/// 404) and again after: deleting an instance removes it and then closes its
/// channel, so a listener that passed the first check just before the delete
/// is either refused by the second or registered in time to be closed.
fn register(
    hub: &Hub,
    channel: Channel,
    still_wanted: impl FnOnce() -> Result<(), ApiError>,
) -> Result<Subscription, ApiError> {
    let subscription = hub.register(channel).map_err(|e| {
        let code = match e {
            RegisterError::Full(_) => "too_many_connections",
            RegisterError::ShuttingDown => "shutting_down",
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string())
    })?;
    // Dropping the subscription takes it out of the hub.
    still_wanted()?;
    Ok(subscription)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::HubSettings;
    use crate::websocket::connection::Close;

    fn gone() -> Result<(), ApiError> {
        Err(ApiError::new(StatusCode::NOT_FOUND, "instance_not_found", "gone"))
    }

    #[tokio::test]
    async fn a_listener_whose_instance_went_while_it_registered_is_not_left_behind() {
        let hub = Hub::new(HubSettings::default());
        let shop = Channel::Instance("shop".into());
        // The delete finished before the second check: refused, and unregistered.
        let checked_after_registering = || {
            assert_eq!(
                hub.open_connections(),
                1,
                "the second check comes after the registration"
            );
            gone()
        };
        assert!(register(&hub, shop.clone(), checked_after_registering).is_err());
        assert_eq!(hub.open_connections(), 0);
        // The delete closes the channel after the second check: the listener is closed.
        let listener = register(&hub, shop.clone(), || Ok(())).expect("registered");
        hub.close_channel(&shop, Close::InstanceDeleted);
        assert_eq!(listener.stop.wait().await, Close::InstanceDeleted);
    }
}
