//! General outbound HTTP requests under the outbound-URL policy: the plugins'
//! `http` import now, webhook deliveries later.
//!
//! Unlike [`super::Fetcher`], which wants a body and treats any other status
//! as a failure, a [`Requester`] sends any method with the caller's headers
//! and body, and any status that comes back is a response: a 404 or a 500 is
//! for the caller (the plugin) to judge. Only the exchange itself can fail.
//!
//! The same policy applies as for fetches (one client construction,
//! [`super::client`]): the URL, every redirect hop and every resolved address
//! are checked. [`Requester::send_allowed`] adds a per-call host filter (a
//! plugin's manifest allow-list), checked on the URL and on every redirect
//! hop before anything is sent there.
//!
//! Headers that describe the connection or the message framing are the
//! client's business, not the caller's: `Host`, `Content-Length`,
//! `Transfer-Encoding`, `Connection` and the other hop-by-hop headers are
//! dropped (logged at debug), as browsers drop forbidden headers in `fetch`,
//! rather than failing the request. A header name or value that is not valid
//! HTTP (a newline in a value, say) fails it with
//! [`FetchError::InvalidHeader`], since sending it altered would be a guess.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, Url};

use super::client::{HostFilter, build_client, check_host, scoped};
use super::fetch::{FetchError, classify};
use super::policy::UrlPolicy;

/// Request headers the caller may not set (lowercase): the client derives
/// them from the URL and the body, or they concern only one connection.
pub const DROPPED_REQUEST_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// A request to send.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: Method,
    /// An absolute http(s) URL.
    pub url: String,
    /// Headers (name, value), in order; see [`DROPPED_REQUEST_HEADERS`].
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
    /// For the whole exchange: connecting, redirects, and the last body byte.
    pub timeout: Duration,
    /// Responses with a larger body fail with [`FetchError::TooLarge`].
    pub max_response_bytes: u64,
}

/// A response received, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    /// Headers (name, value), names in lowercase, values of one name together
    /// in the order received. Values that are not UTF-8 are decoded lossily.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// Sends requests under one policy. Cheap to clone: clones share the client.
#[derive(Debug, Clone)]
pub struct Requester {
    client: reqwest::Client,
    policy: UrlPolicy,
}

impl Requester {
    /// A requester applying `policy`; timeouts are per request.
    pub fn new(policy: UrlPolicy) -> Result<Requester, FetchError> {
        Ok(Requester {
            client: build_client(policy, None)?,
            policy,
        })
    }

    /// The policy this requester applies.
    pub fn policy(&self) -> UrlPolicy {
        self.policy
    }

    /// Sends `request` and reads the whole response.
    pub async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
        self.dispatch(request, None).await
    }

    /// Like [`Requester::send`], but only to hosts `allow` accepts: the URL's
    /// host and the host of every redirect hop are checked before anything is
    /// sent there. `allow` sees `Url::host_str`: lowercase, IPv6 in brackets.
    pub async fn send_allowed(
        &self,
        request: OutboundRequest,
        allow: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Result<OutboundResponse, FetchError> {
        self.dispatch(request, Some(Arc::new(allow))).await
    }

    async fn dispatch(
        &self,
        request: OutboundRequest,
        filter: Option<HostFilter>,
    ) -> Result<OutboundResponse, FetchError> {
        let url = Url::parse(request.url.trim()).map_err(|_| FetchError::InvalidUrl)?;
        // Logged by host only: query strings may carry secrets.
        let host = url.host_str().unwrap_or("").to_owned();
        let timeout = request.timeout;
        let exchange = self.exchange(url, request, filter.clone());
        let result = tokio::time::timeout(timeout, scoped(filter, exchange))
            .await
            .unwrap_or(Err(FetchError::Timeout));
        if let Err(e) = &result {
            tracing::warn!(%host, error = %e, "outbound request failed");
        }
        result
    }

    async fn exchange(
        &self,
        url: Url,
        request: OutboundRequest,
        filter: Option<HostFilter>,
    ) -> Result<OutboundResponse, FetchError> {
        self.policy.check_url(&url)?;
        if let Some(filter) = &filter {
            check_host(filter, &url)?;
        }
        let is_head = request.method == Method::HEAD;
        let mut builder = self
            .client
            .request(request.method, url)
            .headers(header_map(&request.headers)?)
            .timeout(request.timeout);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(classify)?;
        let status = response.status();
        if status.is_redirection() {
            // A redirect the client did not follow because it could not make
            // a request of its `Location` (`file:///...`, say): say so when
            // the policy or the allow-list is the reason.
            let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok());
            if let Some(next) = location.and_then(|l| response.url().join(l).ok()) {
                self.policy.check_url(&next)?;
                if let Some(filter) = &filter {
                    check_host(filter, &next)?;
                }
            }
        }
        let max = request.max_response_bytes;
        // A HEAD response announces the length of a body it does not carry.
        let length = if is_head { None } else { response.content_length() };
        if length.is_some_and(|length| length > max) {
            return Err(FetchError::TooLarge { limit: max });
        }
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        // Never more than the cap plus the chunk that crosses it.
        let mut body = BytesMut::with_capacity(length.unwrap_or(0).min(max) as usize);
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() as u64 + chunk.len() as u64 > max {
                return Err(FetchError::TooLarge { limit: max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status: status.as_u16(),
            headers,
            body: body.freeze(),
        })
    }
}

/// The caller's headers as sent: dropped ones left out, invalid ones refused.
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, FetchError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // Parsing lowercases the name.
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| FetchError::InvalidHeader(name.clone()))?;
        if DROPPED_REQUEST_HEADERS.contains(&name.as_str()) {
            tracing::debug!(header = %name, "dropped a request header the client sets itself");
            continue;
        }
        let value = HeaderValue::from_str(value).map_err(|_| FetchError::InvalidHeader(name.as_str().to_owned()))?;
        map.append(name, value);
    }
    Ok(map)
}
