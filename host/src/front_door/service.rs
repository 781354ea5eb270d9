//! The warp filter as hyper's service, telling the connection's [`Activity`]
//! when a request begins and when its answer has been sent, and handing each
//! request its client's address ([`ClientAddr`]).
//!
//! hyper calls the service once a request head is complete, and drops the
//! answer's body once its last byte is written (or the connection ends): the
//! [`RequestGuard`] travels from the one to the other.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response};

use super::activity::{Activity, RequestGuard};

/// The address of the client that sent a request, in the request's
/// extensions (`warp::ext::optional::<ClientAddr>()`): warp's own
/// `addr::remote` knows nothing of connections it did not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// `inner`, with each request's life reported to `activity`.
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    peer: IpAddr,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, activity: Arc<Activity>, peer: IpAddr) -> Tracked<S> {
        Tracked { inner, activity, peer }
    }
}

type Answer<B, E> = Pin<Box<dyn Future<Output = Result<Response<TrackedBody<B>>, E>> + Send>>;

impl<S, B> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: Body + Unpin,
{
    type Response = Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = Answer<B, S::Error>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ClientAddr(self.peer));
        let guard = self.activity.request_started();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| TrackedBody { body, _guard: guard }))
        })
    }
}

/// An answer's body, holding its request's [`RequestGuard`] until hyper drops it.
pub struct TrackedBody<B> {
    body: B,
    _guard: RequestGuard,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
