//! The last step of every route: calling its handler and answering.
//!
//! A handler is an `async fn(AppState, inputs...) -> Result<impl Reply,
//! ApiError>`, where the inputs are the route's path parameters and then
//! whatever the filters added after them extract (a body, a query...). The
//! [`Router`](super::router::Router) ends each route's filter in a
//! [`Matched`], which carries the state; [`Handle::handle`] hands the state
//! to the handler and turns its error into a rejection for
//! [`super::error::recover`], so handlers do neither themselves.

use std::future::Future;

use warp::Filter;
use warp::reply::{Reply, Response};

use super::AppState;
use super::error::{ApiError, reject};

/// A request that matched an endpoint's path and method and passed its
/// access rule: what its handler runs with.
pub struct Matched {
    state: AppState,
}

impl Matched {
    pub(super) fn new(state: AppState) -> Matched {
        Matched { state }
    }
}

/// A handler taking the state and then `Inputs`.
pub trait Handler<Inputs>: Clone + Send + Sync + 'static {
    type Reply: Reply;
    type Future: Future<Output = Result<Self::Reply, ApiError>> + Send + 'static;

    fn call(&self, state: AppState, inputs: Inputs) -> Self::Future;
}

/// Ends a route's filter, extracting a [`Matched`] and then `Inputs`, in its
/// handler.
pub trait Handle<Inputs> {
    fn handle<H: Handler<Inputs>>(
        self,
        handler: H,
    ) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static;
}

/// Both traits for handlers of one number of inputs (warp hands a filter's
/// extracts to a function as separate arguments, so each count is its own
/// impl).
macro_rules! handlers_of_arity {
    ($($input:ident: $Input:ident),*) => {
        impl<F, Fut, R, $($Input),*> Handler<($($Input,)*)> for F
        where
            F: Fn(AppState, $($Input),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
            R: Reply,
        {
            type Reply = R;
            type Future = Fut;

            fn call(&self, state: AppState, ($($input,)*): ($($Input,)*)) -> Fut {
                self(state, $($input),*)
            }
        }

        impl<Route, $($Input),*> Handle<($($Input,)*)> for Route
        where
            Route: Filter<Extract = (Matched, $($Input,)*), Error = warp::Rejection> + Clone + Send + Sync + 'static,
        {
            fn handle<H: Handler<($($Input,)*)>>(
                self,
                handler: H,
            ) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
                self.and_then(move |matched: Matched, $($input: $Input),*| {
                    let answer = handler.call(matched.state, ($($input,)*));
                    async move { answer.await.map(Reply::into_response).map_err(reject) }
                })
            }
        }
    };
}

handlers_of_arity!();
handlers_of_arity!(a: A);
handlers_of_arity!(a: A, b: B);
handlers_of_arity!(a: A, b: B, c: C);
handlers_of_arity!(a: A, b: B, c: C, d: D);
