//! The one way an outbound HTTP client is built, shared by [`super::Fetcher`]
//! and [`super::Requester`], so every outbound request gets the same policy
//! enforcement: the policy resolver, no system proxy, and a redirect policy
//! that re-checks every hop.
//!
//! A redirect hop is also checked against the per-call host filter of the
//! request being sent, if it has one ([`super::Requester::send_allowed`]).
//! reqwest's redirect policy belongs to the client, not to a request, so the
//! filter travels in a task-local scope around the request future: reqwest
//! consults the redirect policy while that future is polled, on the caller's
//! task. Every request is sent inside a scope (with or without a filter), so
//! a hop checked outside of one means that assumption broke, and the hop is
//! refused rather than followed unchecked.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::fetch::{FetchError, check_redirect, describe};
use super::policy::{Refused, UrlPolicy};
use super::resolver::PolicyResolver;

/// A per-call predicate on host names (`Url::host_str`, lowercase, IPv6 in
/// brackets): `true` when a request may go there.
pub(super) type HostFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

tokio::task_local! {
    /// The host filter of the request being sent on this task (`None`: none).
    static HOP_FILTER: Option<HostFilter>;
}

/// A client applying `policy` to every address and every redirect hop.
/// `timeout`, when given, bounds every request from connecting to the last
/// body byte; without it, callers set one per request.
pub(super) fn build_client(policy: UrlPolicy, timeout: Option<Duration>) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("wasap/", env!("CARGO_PKG_VERSION")))
        // A proxy would connect on our behalf to addresses the policy never sees.
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver::new(policy)))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            let checked = check_redirect(&policy, attempt.url(), attempt.previous().len())
                .and_then(|()| check_hop_filter(attempt.url()));
            match checked {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        }));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder
        .build()
        .map_err(|e| FetchError::Transport(describe(&e.without_url())))
}

/// Runs `request` (a future that sends on a client from [`build_client`])
/// with `filter` applied to its redirect hops.
pub(super) async fn scoped<F: Future>(filter: Option<HostFilter>, request: F) -> F::Output {
    HOP_FILTER.scope(filter, request).await
}

/// Checks `url`'s host against a host filter.
pub(super) fn check_host(filter: &HostFilter, url: &Url) -> Result<(), FetchError> {
    let host = url.host_str().unwrap_or("");
    if filter(host) {
        Ok(())
    } else {
        Err(FetchError::NotAllowed(Refused::NotListed { host: host.to_owned() }))
    }
}

/// Checks a redirect hop against the filter of the request in scope.
fn check_hop_filter(url: &Url) -> Result<(), FetchError> {
    HOP_FILTER
        .try_with(|filter| match filter {
            Some(filter) => check_host(filter, url),
            None => Ok(()),
        })
        .unwrap_or_else(|_| {
            tracing::error!("outbound redirect checked outside its request's scope; refused");
            Err(FetchError::Transport("redirect refused: no request scope".into()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hops_are_checked_against_the_filter_in_scope_and_refused_outside_one() {
        let url = Url::parse("https://hooks.example/a").unwrap();
        assert!(check_hop_filter(&url).is_err(), "no scope: fail closed");
        assert_eq!(scoped(None, async { check_hop_filter(&url) }).await, Ok(()));
        let only: HostFilter = Arc::new(|host: &str| host == "hooks.example");
        assert_eq!(
            scoped(Some(only.clone()), async { check_hop_filter(&url) }).await,
            Ok(())
        );
        let other = Url::parse("https://other.example/").unwrap();
        assert_eq!(
            scoped(Some(only), async { check_hop_filter(&other) }).await,
            Err(FetchError::NotAllowed(Refused::NotListed {
                host: "other.example".into()
            }))
        );
    }
}
