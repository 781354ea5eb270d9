//! The HTTP front door: our own accept loop in front of the API's warp
//! filter, so that no client can hold the server's connections or memory.
//!
//! warp's `serve` runs hyper without a timer, so hyper's header-read
//! timeout is off; it has no idle timeout and no connection cap. Here:
//! - [`limits`]: at most `max_connections` open connections, and
//!   `max_connections_per_ip` per client address; past a cap a connection
//!   is answered 503 (server full) or 429 (that client holds too many) and
//!   closed at once, counted in `/metrics` and warned about at most every
//!   few seconds ([`stats`]).
//! - [`activity`]: a request head must arrive within `header_timeout` (from
//!   the accept, or from a keep-alive connection's first byte after an idle
//!   spell), and a keep-alive connection is closed after `idle_timeout`
//!   without a request. A request being answered has no limit here.
//! - hyper's `max_header_size`: a request head over `max_header_bytes` gets
//!   431 and the connection is closed, so a connection's read buffer stays
//!   small whatever the client sends.
//! - HTTP/1.1 only (no h2c), with upgrades: once a connection is upgraded to
//!   a WebSocket its permit is given back and no timeout applies any more;
//!   the WebSocket hub's own caps, ping and idle timeout govern it from then
//!   on. Connections on their HTTP phase and WebSockets are thus capped
//!   separately, so tenants' WebSockets can never lock the admin out at the
//!   door (the hub keeps places for the admin).
//! - Graceful shutdown as warp's: once the shutdown future resolves, stop
//!   accepting, ask every connection to close after its current request
//!   (idle ones close at once), and wait until they have.
//! - [`connection`]: one connection's task; a client that goes away
//!   mid-request is logged at debug, never as an error.
//!
//! [`io`] and [`service`] feed each connection's [`activity::Activity`].

pub mod activity;
mod connection;
mod io;
pub mod limits;
mod service;
pub mod stats;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use warp::{Filter, Reply};

use self::activity::Timeouts;
pub use self::limits::client_key;
use self::limits::{Limits, Refused};
pub use self::service::ClientAddr;
pub use self::stats::Stats;

/// The front door's limits (`--http-*` flags).
#[derive(Debug, Clone)]
pub struct FrontDoorSettings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_header_bytes: usize,
}

/// Serves `filter` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for the open connections to finish their requests.
pub async fn serve<F, R>(
    listener: TcpListener,
    filter: F,
    settings: FrontDoorSettings,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()>,
) where
    F: Filter<Extract = (R,), Error = Infallible> + Clone + Send + Sync + 'static,
    R: Reply,
{
    let service = TowerToHyperService::new(warp::service(filter));
    let limits = Limits::new(settings.max_connections, settings.max_connections_per_ip, stats.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_header_size(settings.max_header_bytes)
        // The limits of `activity` replace hyper's (which would also end idle
        // keep-alive connections at the header timeout).
        .header_read_timeout(None);
    let http = Arc::new(http);
    let timeouts = Timeouts {
        header: settings.header_timeout,
        idle: settings.idle_timeout,
    };
    // Turns true once: every connection then closes after its current request.
    let (stopping, stop) = watch::channel(false);
    // Each connection's task holds a sender; the channel closes when the last one ends.
    let (alive, mut all_ended) = mpsc::channel::<Infallible>(1);

    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let permit = match limits.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(refused) => {
                stats.refused(refused, peer.ip());
                turn_away(stream, refused);
                continue;
            }
        };
        let task = connection::Connection {
            stream,
            peer,
            permit,
            http: http.clone(),
            timeouts,
            stats: stats.clone(),
            stop: stop.clone(),
        };
        let service = service.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            task.serve(service).await;
            drop(alive);
        });
    }
    drop(listener);
    stopping.send_replace(true);
    drop(alive);
    // `None` once every connection's task has ended.
    let _ = all_ended.recv().await;
}

/// Answers a refused connection in one write, if the socket takes it
/// without waiting, and closes it.
fn turn_away(stream: TcpStream, refused: Refused) {
    let _ = stream.try_write(canned(refused).as_bytes());
}

/// The answer to a refused connection, in the API's error shape.
fn canned(refused: Refused) -> String {
    let (status, message) = match refused {
        Refused::Full(_) => (
            "503 Service Unavailable",
            "the server is at its connection limit; try again later",
        ),
        Refused::ClientFull(_) => ("429 Too Many Requests", "too many connections from this address"),
    };
    let body = format!(r#"{{"error":{{"code":"too_many_connections","message":"{message}"}}}}"#);
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// An accept that failed: a connection that went away before it was
/// accepted is nothing; anything else (out of file descriptors, say) is
/// logged and waited out, so a lasting failure is neither a busy loop nor a
/// flood of lines.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::debug!(%error, "a connection went away before it was accepted");
        return;
    }
    tracing::error!(%error, "cannot accept connections; retrying in 1s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canned_answers_are_whole_http_answers() {
        for (refused, status) in [(Refused::Full(1), "503"), (Refused::ClientFull(1), "429")] {
            let answer = canned(refused);
            let (head, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
            let length = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap();
            assert_eq!(length.parse::<usize>().unwrap(), body.len(), "{answer}");
            let json: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(json["error"]["code"], "too_many_connections");
        }
    }
}
