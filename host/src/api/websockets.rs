//! The WebSocket routes (docs/API.md, "WebSockets"): `GET /ws` (admin token) and
//! `GET /api/listen/{id}` (the admin or that instance's token), both taking
//! the token from the header or `?token=`. They exist only while WebSockets
//! are switched on; what they carry is published to the [`Hub`]. Both take
//! `?after=<cursor>`: the journal's frames after it come first ([`Replay`]).

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::filters::ws::Ws;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::AppState;
use super::auth::{Credentials, credentials_or_query};
use super::endpoint::{Access, Answer, Endpoint, QueryParam, Verb};
use super::error::ApiError;
use super::events::{check_cursor, parse_cursor};
use super::handler::Handle;
use super::router::Router;
use crate::store::Store;
use crate::websocket::{Channel, Hub, Opener, RegisterError, Replay, Subscription, connection};

/// The largest message a client may send: clients only answer pings (and
/// may send anything as a sign of life), they never send data.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

const TAG: &str = "websockets";

const QUERY: &[QueryParam] = &[
    QueryParam {
        name: "after",
        description: "A cursor (a frame's `cursor`): first the journalled events after it that this route carries, \
                      then the live frames; 410 cursor_expired when the journal's retention removed events after it",
        values: &[],
    },
    QueryParam {
        name: "token",
        description: "The token, for clients that cannot send an Authorization header (browsers)",
        values: &[],
    },
];

static GLOBAL: Endpoint = Endpoint {
    tag: TAG,
    summary: "Events of every instance except messages: qr, instance.status, instance.paired, instance.logged_out, instance.offline, plugin.error, system, queue.job",
    query: QUERY,
    errors: &[410, 426, 503],
    ..Endpoint::new(Verb::Get, "/ws", "websocket_global", Answer::WebSocket)
};
static LISTEN: Endpoint = Endpoint {
    tag: TAG,
    summary: "One instance's incoming_message (sudevwa shape), message.undecryptable, message.receipt and \
              group.participants events",
    access: Access::Instance,
    query: QUERY,
    errors: &[410, 426, 429, 503],
    ..Endpoint::new(Verb::Get, "/api/listen/{id}", "websocket_listen", Answer::WebSocket)
};

pub fn routes(router: &mut Router, hub: Hub) -> BoxedFilter<(Response,)> {
    let global_hub = hub.clone();
    let global = router.route0(&GLOBAL).and(after_query()).and(upgrade()).handle(
        move |state: AppState, after: Option<String>, ws: Option<Ws>| {
            let hub = global_hub.clone();
            async move {
                let replay = replay(&state.store, Channel::Global, after.as_deref()).await?;
                accept(ws, &hub, Channel::Global, Opener::Admin, replay, || Ok(()))
            }
        },
    );
    let listen = router
        .route1(&LISTEN)
        .and(credentials_or_query())
        .and(after_query())
        .and(upgrade())
        .handle(
            move |state: AppState, id: String, credentials: Credentials, after: Option<String>, ws: Option<Ws>| {
                let hub = hub.clone();
                async move {
                    // The router let the token in: it is the admin's or this instance's.
                    let opener = match state.require_admin(&credentials) {
                        Ok(()) => Opener::Admin,
                        Err(_) => Opener::Tenant,
                    };
                    let exists = || state.instances.status(&id).map(|_| ()).map_err(ApiError::from);
                    exists()?;
                    let channel = Channel::Instance(id.clone());
                    let replay = replay(&state.store, channel.clone(), after.as_deref()).await?;
                    accept(ws, &hub, channel, opener, replay, exists)
                }
            },
        );
    global.or(listen).unify().boxed()
}

/// The raw value of `after=` in the query, if any and not empty (a cursor is
/// digits: no decoding needed; anything else is refused by [`parse_cursor`]).
fn after_query() -> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    warp::query::raw()
        .map(|query: String| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("after="))
                .filter(|after| !after.is_empty())
                .map(str::to_owned)
        })
        .or(warp::any().map(|| None))
        .unify()
}

/// The replay of what `channel` carried after the cursor `after`, if one is
/// given: 400 for a malformed cursor, 410 for an expired one.
async fn replay(store: &Store, channel: Channel, after: Option<&str>) -> Result<Option<Replay>, ApiError> {
    let Some(after) = after else {
        return Ok(None);
    };
    let after = parse_cursor(after)?;
    let instance = match &channel {
        Channel::Global => None,
        Channel::Instance(id) => Some(id.as_str()),
    };
    check_cursor(store, instance, after).await?;
    Ok(Some(Replay::new(store.clone(), channel, after)))
}

/// The upgrade, or `None` for a plain request (answered 426 once the token
/// has been checked).
fn upgrade() -> impl Filter<Extract = (Option<Ws>,), Error = std::convert::Infallible> + Clone {
    warp::ws().map(Some).or(warp::any().map(|| None)).unify()
}

/// Registers the connection on `channel` before answering, so it gets every
/// frame published once the client has its 101 (and, with a `replay`, every
/// frame published while the replay reads the journal), and so a full hub is a
/// clear 503 (429 for an instance at its own cap) rather than a socket
/// closed right after opening; then asks `still_wanted` (see [`register`]).
fn accept(
    ws: Option<Ws>,
    hub: &Hub,
    channel: Channel,
    opener: Opener,
    replay: Option<Replay>,
    still_wanted: impl FnOnce() -> Result<(), ApiError>,
) -> Result<Response, ApiError> {
    let ws = ws.ok_or_else(|| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "this route is a WebSocket: send a WebSocket upgrade request",
        )
    })?;
    let subscription = register(hub, channel, opener, still_wanted)?;
    let settings = hub.settings().clone();
    Ok(ws
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| connection::serve(socket, subscription, settings, replay))
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
    opener: Opener,
    still_wanted: impl FnOnce() -> Result<(), ApiError>,
) -> Result<Subscription, ApiError> {
    let subscription = hub.register_as(channel, opener).map_err(|e| {
        let (status, code) = match e {
            RegisterError::Full(_) => (StatusCode::SERVICE_UNAVAILABLE, "too_many_connections"),
            // This instance's own cap: the client holds too many, the server is not out of room.
            RegisterError::InstanceFull(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_connections"),
            RegisterError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        };
        ApiError::new(status, code, e.to_string())
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
        assert!(register(&hub, shop.clone(), Opener::Tenant, checked_after_registering).is_err());
        assert_eq!(hub.open_connections(), 0);
        // The delete closes the channel after the second check: the listener is closed.
        let listener = register(&hub, shop.clone(), Opener::Tenant, || Ok(())).expect("registered");
        hub.close_channel(&shop, Close::InstanceDeleted);
        assert_eq!(listener.stop.wait().await, Close::InstanceDeleted);
    }
}
