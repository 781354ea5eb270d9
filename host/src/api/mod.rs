//! The HTTP API: warp routes, one module per resource, combined here.
//!
//! Every route is declared as an [`endpoint::Endpoint`] and built by the
//! [`router::Router`], which is where `/openapi.json` and the request metrics
//! learn the routes from; its handler is an async function that [`handler`]
//! runs. Every answer that is not a success goes through [`error`], so
//! clients see one JSON error shape whatever went wrong, including unknown
//! routes.

pub mod auth;
mod base64_data;
mod body;
mod bulk_sends;
mod calls;
mod contacts;
mod dashboard;
mod deliveries;
pub mod endpoint;
pub mod error;
mod events;
mod forward;
mod groups;
mod handler;
mod health;
mod instances;
mod lids;
mod media_base64;
mod media_upload;
mod media_url;
mod message_actions;
mod messages;
mod metrics;
mod openapi;
mod outgoing_media;
mod pacing;
mod path_param;
mod phone;
mod places_and_cards;
mod plugins;
mod polls;
mod profile;
mod qr_png;
mod rate_limit;
pub mod router;
mod send_queue;
mod sim;
mod sim_clock;
mod sim_polls;
mod statics;
mod text_extras;
mod webhooks;
mod websockets;

use std::sync::{Arc, OnceLock};

use warp::Filter;

use crate::delivery::Webhooks;
use crate::engine::sim::SimNetwork;
use crate::instances::InstanceManager;
use crate::media::{MediaLimits, MediaStore, Spool, Transfers};
use crate::messaging::Messenger;
use crate::messaging::outgoing_media::MediaFromUrl;
use crate::metrics::Metrics;
use crate::plugins::PluginHost;
use crate::rate_limit::RateLimiter;
use crate::store::Store;
use crate::websocket::Hub;

pub use send_queue::QueuedSends;

/// What every handler may need, shared by all routes.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub instances: InstanceManager,
    pub media: MediaStore,
    /// Where uploads are written while they arrive.
    pub spool: Spool,
    /// The bound on uploads and `mediaUrl` fetches in flight.
    pub media_transfers: Transfers,
    pub messenger: Messenger,
    /// Size limits of media files, by kind.
    pub media_limits: MediaLimits,
    /// Outbound HTTP under the outbound-URL policy (`mediaUrl`).
    pub media_from_url: MediaFromUrl,
    /// The admin token; compared in constant time, never logged.
    pub admin_token: Arc<str>,
    pub metrics: Arc<Metrics>,
    pub plugins: PluginHost,
    /// The WebSocket hub; `None` when the WebSocket routes are switched off.
    pub websockets: Option<Hub>,
    /// The webhook outbox.
    pub webhooks: Webhooks,
    /// The durable send queue (`queue`/`send_at` on the send routes, `/api/queue`).
    pub send_queue: crate::send_queue::SendQueue,
    /// The per-client request buckets (docs/API.md, "Rate limits").
    pub rate_limit: Arc<RateLimiter>,
}

/// All routes of the server, with errors turned into the JSON error shape and
/// every request counted. The `/sim/` routes exist only when the simulated
/// network runs.
pub fn routes(
    state: AppState,
    sim: Option<SimNetwork>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    let mut router = router::Router::new(state.clone());
    let document: openapi::Document = Arc::new(OnceLock::new());
    let mut api = router
        .group(health::routes)
        .or(router.group(instances::routes))
        .unify()
        .or(router.group(messages::routes))
        .unify()
        .or(router.group(message_actions::routes))
        .unify()
        .or(router.group(calls::routes))
        .unify()
        .or(router.group(forward::routes))
        .unify()
        .or(router.group(places_and_cards::routes))
        .unify()
        .or(router.group(send_queue::routes))
        .unify()
        .or(router.group(pacing::routes))
        .unify()
        .or(router.group(bulk_sends::routes))
        .unify()
        .or(router.group(lids::routes))
        .unify()
        .or(router.group(polls::routes))
        .unify()
        .or(router.group(contacts::routes))
        .unify()
        .or(router.group(profile::routes))
        .unify()
        .or(router.group(groups::routes))
        .unify()
        .or(router.group(media_upload::routes))
        .unify()
        .or(router.group(media_url::routes))
        .unify()
        .or(router.group(media_base64::routes))
        .unify()
        .or(router.group(statics::routes))
        .unify()
        .or(router.group(plugins::routes))
        .unify()
        .or(router.group(webhooks::routes))
        .unify()
        .or(router.group(deliveries::routes))
        .unify()
        .or(router.group(events::routes))
        .unify()
        .or(router.group(metrics::route))
        .unify()
        .or(router.group(|r| openapi::route(r, document.clone())))
        .unify()
        .or(router.group(dashboard::routes))
        .unify()
        .boxed();
    if let Some(hub) = state.websockets.clone() {
        api = api.or(router.group(|r| websockets::routes(r, hub))).unify().boxed();
    }
    if let Some(network) = sim {
        api = api
            .or(router.group(|r| sim::routes(r, network.clone())))
            .unify()
            .boxed();
        api = api.or(router.group(|r| sim_polls::routes(r, network))).unify().boxed();
        api = api.or(router.group(sim_clock::routes)).unify().boxed();
    }
    let doc = openapi::document(router.endpoints());
    let _ = document.set(serde_json::to_vec(&doc).unwrap_or_default().into());
    let labels = metrics::RouteLabels::new(router.endpoints());
    // Before any route, so that a refused request costs no routing, no body
    // and no handler.
    rate_limit::guard(&state)
        .and(api)
        .recover(error::recover)
        .with(metrics::observe(state.metrics, labels))
}
