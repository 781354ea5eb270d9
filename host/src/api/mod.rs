//! The HTTP API: warp routes, one module per resource, combined here.
//!
//! Every answer that is not a success goes through [`error`], so clients see
//! one JSON error shape whatever went wrong, including unknown routes.

pub mod error;
mod health;

use std::sync::Arc;

use warp::Filter;

use crate::store::Store;

/// What every handler may need, shared by all routes.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The admin token; compared in constant time, never logged.
    pub admin_token: Arc<str>,
}

/// All routes of the server, with errors turned into the JSON error shape.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    health::routes(state).recover(error::recover)
}

/// Hands a clone of the state to each request.
pub(crate) fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}
