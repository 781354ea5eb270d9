//! The API rate limit in front of the routes ([`crate::rate_limit`] keeps the
//! buckets): which requests count, who they count against, and the 429.
//!
//! What counts: every request under `/api/` (an unknown route there too) and
//! `/ws`, a WebSocket upgrade once, when it is asked for; what happens on the
//! WebSocket afterwards does not. Not counted: `/health` and `/metrics` (probes
//! and scrapers poll them), `/openapi.json`, the dashboard's files and
//! `/statics/media/` (static bytes), and `/sim/` (the simulated network's
//! controls, a test harness).
//!
//! Who: the token the route would read (the `Authorization` header, or on a
//! WebSocket upgrade `?token=` too) when it is the admin token or an instance
//! token, by its SHA-256; otherwise, with no token or a wrong one, the
//! client's address, so that guessing tokens is limited too and a flood of
//! made-up tokens cannot make new buckets.

use std::future::ready;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::path::FullPath;
use warp::reply::Response;

use super::AppState;
use super::auth::{Credentials, credentials, credentials_or_query};
use super::error::error_response;
use crate::front_door::{ClientAddr, client_key};
use crate::instances::token;
use crate::rate_limit::{Client, Limited};

/// Whether requests to `path` count against the rate limit.
pub fn covers(path: &str) -> bool {
    path.starts_with("/api/") || path == "/ws"
}

/// A request refused by the rate limit, answered by [`super::error::recover`].
#[derive(Debug)]
pub struct RateLimited(Limited);

impl warp::reject::Reject for RateLimited {}

impl RateLimited {
    /// 429 `rate_limited` in the API's error shape, with `Retry-After`.
    pub fn response(&self) -> Response {
        let secs = self.0.retry_after_secs;
        let message = format!("too many requests from this client; retry after {secs} s");
        let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, "rate_limited", &message);
        response.headers_mut().insert("retry-after", secs.into());
        response
    }
}

/// Passes a request that is not limited, or that its client's bucket allows;
/// rejects the others with [`RateLimited`].
pub fn guard(state: &AppState) -> BoxedFilter<()> {
    let limiter = state.rate_limit.clone();
    if !limiter.is_on() {
        return warp::any().boxed();
    }
    let admin = token::digest(&state.admin_token);
    let instances = state.instances.clone();
    // The token as the route will read it: `?token=` only on a WebSocket upgrade.
    let presented = warp::header::exact_ignore_case("upgrade", "websocket")
        .and(credentials_or_query())
        .or(credentials())
        .unify();
    // Tried only when `uncovered` below turned the request down.
    let limited = presented
        .and(warp::ext::optional::<ClientAddr>())
        .and_then(move |credentials: Credentials, peer: Option<ClientAddr>| {
            let client = match credentials.token() {
                Some(presented) => {
                    let digest = token::digest(presented);
                    let valid = token::digest_eq(&digest, &admin) || instances.instance_for_token(presented).is_some();
                    valid.then_some(Client::Token(digest))
                }
                None => None,
            }
            .unwrap_or_else(|| Client::Address(address(peer)));
            ready(
                limiter
                    .check(client, Instant::now())
                    .map_err(|limited| warp::reject::custom(RateLimited(limited))),
            )
        })
        .untuple_one();
    // A request the limit does not cover passes untouched.
    let uncovered = warp::path::full()
        .and_then(|path: FullPath| {
            ready(if covers(path.as_str()) {
                Err(warp::reject::not_found())
            } else {
                Ok(())
            })
        })
        .untuple_one();
    uncovered.or(limited).unify().boxed()
}

/// The address a request without a valid token counts under; requests that
/// did not come through the front door (none in the server) share one.
fn address(peer: Option<ClientAddr>) -> IpAddr {
    peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ClientAddr(ip)| client_key(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_and_the_websockets_count_and_nothing_else() {
        for path in [
            "/api/send/a",
            "/api/instances",
            "/api/listen/a",
            "/api/no-such-route",
            "/ws",
        ] {
            assert!(covers(path), "{path}");
        }
        for path in [
            "/health",
            "/metrics",
            "/openapi.json",
            "/",
            "/dashboard/app.js",
            "/statics/media/x.jpg",
            "/sim/instances/a/scan",
            "/api",
            "/wss",
        ] {
            assert!(!covers(path), "{path}");
        }
    }

    #[test]
    fn the_refusal_is_a_429_in_the_error_shape_with_retry_after() {
        let response = RateLimited(Limited { retry_after_secs: 3 }).response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "3");
        assert_eq!(response.headers()["content-type"], "application/json");
    }
}
