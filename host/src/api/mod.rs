//! The HTTP API: warp routes, one module per resource, combined here.
//!
//! Every answer that is not a success goes through [`error`], so clients see
//! one JSON error shape whatever went wrong, including unknown routes.

pub mod auth;
mod body;
pub mod error;
mod health;
mod instances;
mod media_upload;
mod media_url;
mod messages;
mod outgoing_media;
mod phone;
mod qr_png;
mod sim;
mod statics;

use std::sync::Arc;

use warp::Filter;

use crate::engine::sim::SimNetwork;
use crate::instances::{InstanceManager, MediaLimits};
use crate::media::MediaStore;
use crate::messaging::Messenger;
use crate::outbound::Fetcher;
use crate::store::Store;

/// What every handler may need, shared by all routes.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub instances: InstanceManager,
    pub media: MediaStore,
    pub messenger: Messenger,
    /// Size limits of media files, by kind.
    pub media_limits: MediaLimits,
    /// Outbound HTTP under the outbound-URL policy (`mediaUrl`).
    pub fetcher: Fetcher,
    /// The admin token; compared in constant time, never logged.
    pub admin_token: Arc<str>,
}

/// All routes of the server, with errors turned into the JSON error shape.
/// The `/sim/` routes exist only when the simulated network runs.
pub fn routes(
    state: AppState,
    sim: Option<SimNetwork>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    let api = health::routes(state.clone())
        .or(instances::routes(state.clone()))
        .unify()
        .or(statics::routes(state.clone()))
        .unify()
        .or(messages::routes(state.clone()))
        .unify()
        .or(media_upload::routes(state.clone()))
        .unify()
        .or(media_url::routes(state.clone()))
        .unify();
    let all = match sim {
        Some(network) => api.or(sim::routes(state, network)).unify().boxed(),
        None => api.boxed(),
    };
    all.recover(error::recover)
}

/// Hands a clone of the state to each request.
pub(crate) fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}
