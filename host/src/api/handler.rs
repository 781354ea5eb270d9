//! The last step of every route: calling its handler and answering.
//!
//! A handler is an `async fn(AppState, inputs...) -> Result<impl Reply,
//! ApiError>`, where the inputs are the route's path parameters and then
//! whatever the filters added after them extract (a body, a query...). The
//! [`Router`](super::router::Router) ends each route's filter in a
//! [`Matched`], which carries the state and the request's span;
//! [`Handle::handle`] hands the state to the handler, runs it inside the span
//! and turns its error into the JSON error shape, so handlers do none of that
//! themselves.

use std::future::Future;

use tracing::{Instrument, Span};
use warp::Filter;
use warp::reply::{Reply, Response};

use super::AppState;
use super::error::ApiError;

/// A request that matched an endpoint's path and method and passed its
/// access rule: what its handler runs with.
pub struct Matched {
    state: AppState,
    /// Carries the endpoint's path template and method (see
    /// [`Router`](super::router::Router)); never the raw path, which may
    /// carry ids and tokens.
    span: Span,
}

impl Matched {
    pub(super) fn new(state: AppState, span: Span) -> Matched {
        Matched { state, span }
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
                self.then(move |matched: Matched, $($input: $Input),*| {
                    let Matched { state, span } = matched;
                    // Some handlers do their work before they return a future.
                    let answer = span.in_scope(|| handler.call(state, ($($input,)*)));
                    answer_with(answer).instrument(span)
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

/// The handler's reply, or its error in the JSON error shape.
///
/// The error is answered here rather than rejected to [`super::error::recover`],
/// so that what answering it logs (a database error's cause) is logged in the
/// request's span. The answer is the one `recover` would give: it looks for an
/// [`ApiError`] first, and the routes warp would try after this one could only
/// add not-found or wrong-method rejections, as no two endpoints share a path
/// and a method.
async fn answer_with<R: Reply>(answer: impl Future<Output = Result<R, ApiError>>) -> Response {
    match answer.await {
        Ok(reply) => reply.into_response(),
        Err(e) => e.into_response(),
    }
}
