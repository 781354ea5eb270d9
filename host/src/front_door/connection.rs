//! One accepted connection: hyper serving it, beside the watchdog of its
//! time limits and the server's stop signal.
//!
//! The task ends when hyper is done with the connection (closed, or handed
//! over to a WebSocket), when the watchdog fires (the socket is dropped:
//! a client that sends nothing in time gets nothing back), and, once the
//! server stops, after the request in progress. Its [`Permit`] goes with it.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::activity::{Activity, Expired, Timeouts};
use super::io::WatchedIo;
use super::limits::Permit;
use super::service::Tracked;
use super::stats::Stats;

type BoxError = Box<dyn StdError + Send + Sync>;

/// An accepted connection and what serving it needs.
pub(super) struct Connection {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub permit: Permit,
    pub http: Arc<http1::Builder>,
    pub timeouts: Timeouts,
    pub stats: Arc<Stats>,
    /// Turns true when the server stops.
    pub stop: watch::Receiver<bool>,
}

impl Connection {
    /// Serves the connection until it ends.
    pub async fn serve<S, B>(mut self, service: S)
    where
        S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Unpin + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let activity = Activity::new();
        let io = TokioIo::new(WatchedIo::new(self.stream, activity.clone()));
        let served = self
            .http
            .serve_connection(io, Tracked::new(service, activity.clone(), self.peer.ip()))
            .with_upgrades();
        tokio::pin!(served);
        let mut stopping = false;
        let ended = loop {
            tokio::select! {
                ended = served.as_mut() => break Ok(ended),
                expired = activity.expired(self.timeouts) => break Err(expired),
                _ = self.stop.changed(), if !stopping => {
                    stopping = true;
                    served.as_mut().graceful_shutdown();
                }
            }
        };
        drop(self.permit);
        let peer = self.peer;
        match ended {
            Ok(Ok(())) => {}
            Ok(Err(error)) if is_the_clients_doing(&error) => {
                tracing::debug!(%peer, %error, "HTTP connection ended by the client");
            }
            Ok(Err(error)) => tracing::warn!(%peer, %error, "HTTP connection failed"),
            Err(expired) => {
                self.stats.timed_out(expired);
                let limit = match expired {
                    Expired::Header => "no complete request head within the header timeout",
                    Expired::Idle => "idle past the keep-alive timeout",
                };
                tracing::debug!(%peer, limit, "HTTP connection closed");
            }
        }
    }
}

/// Whether a connection ended because of what its client did (went away
/// mid-request, reset the connection, sent something that is not HTTP or
/// too large a head): nothing the server can act on, so not worth more than
/// a debug line. hyper has already answered what it could (400, 431).
fn is_the_clients_doing(error: &hyper::Error) -> bool {
    if error.is_parse()
        || error.is_parse_status()
        || error.is_incomplete_message()
        || error.is_canceled()
        || error.is_closed()
        || error.is_body_write_aborted()
        || error.is_timeout()
        || error.is_shutdown()
    {
        return true;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | TimedOut | NotConnected
            );
        }
        source = cause.source();
    }
    false
}
