//! Fetching a URL into memory under the outbound-URL policy, with a size cap
//! and an overall deadline.
//!
//! One [`Fetcher`] (one connection pool) serves the whole server. The policy
//! is applied at three places: to the URL before the request, to every
//! redirect hop (at most [`MAX_REDIRECTS`]), and to every resolved address
//! (see [`super::resolver`]). System proxy settings are ignored, since a
//! proxy would connect on our behalf to addresses the policy never sees.
//!
//! Bodies are held in memory only, never in temporary files, and never grow
//! past the cap: a `Content-Length` over it is refused before the body is
//! read, and a body without one is cut off as soon as it passes the cap.
//! Failures are logged with the URL's host only; query strings may carry
//! secrets.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Url;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};

use super::client::{build_client, scoped};
use super::file_name;
use super::policy::{Refused, UrlPolicy};

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 5;

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not allowed: {0}")]
    NotAllowed(#[from] Refused),
    #[error("the URL is not a valid absolute URL")]
    InvalidUrl,
    #[error("the response is larger than the {limit} bytes allowed")]
    TooLarge { limit: u64 },
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the server answered with HTTP status {0}")]
    Status(u16),
    #[error("more than {max} redirects")]
    TooManyRedirects { max: usize },
    #[error("the request failed: {0}")]
    Transport(String),
    #[error("the request header {0:?} is not valid")]
    InvalidHeader(String),
}

/// A fetched body with what the response said about it.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub data: Bytes,
    /// `Content-Type` without its parameters, lowercased; `None` when absent.
    pub mime_type: Option<String>,
    /// From `Content-Disposition`, else the final URL's last path segment.
    pub file_name: Option<String>,
}

/// Fetches URLs under one policy. Cheap to clone: clones share the client.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: UrlPolicy,
    timeout: Duration,
}

impl Fetcher {
    /// A fetcher applying `policy`, giving every fetch `timeout` from the
    /// first connection to the last body byte.
    pub fn new(policy: UrlPolicy, timeout: Duration) -> Result<Fetcher, FetchError> {
        let client = build_client(policy, Some(timeout))?;
        Ok(Fetcher {
            client,
            policy,
            timeout,
        })
    }

    /// The policy this fetcher applies.
    pub fn policy(&self) -> UrlPolicy {
        self.policy
    }

    /// Fetches `url` whole, refusing bodies over `max_bytes`.
    pub async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched, FetchError> {
        self.fetch_as(url, max_bytes, false).await
    }

    /// Fetches the first `max_bytes` bytes of `url`'s body at most, and
    /// stops reading there (for a page whose head is all that is wanted).
    pub async fn fetch_prefix(&self, url: &str, max_bytes: u64) -> Result<Fetched, FetchError> {
        self.fetch_as(url, max_bytes, true).await
    }

    async fn fetch_as(&self, url: &str, max_bytes: u64, prefix: bool) -> Result<Fetched, FetchError> {
        let url = Url::parse(url.trim()).map_err(|_| FetchError::InvalidUrl)?;
        let host = url.host_str().unwrap_or("").to_owned();
        let result = tokio::time::timeout(self.timeout, scoped(None, self.get(url, max_bytes, prefix)))
            .await
            .unwrap_or(Err(FetchError::Timeout));
        if let Err(e) = &result {
            tracing::warn!(%host, error = %e, "outbound fetch failed");
        }
        result
    }

    async fn get(&self, url: Url, max_bytes: u64, prefix: bool) -> Result<Fetched, FetchError> {
        self.policy.check_url(&url)?;
        let mut response = self.client.get(url).send().await.map_err(classify)?;
        let status = response.status();
        if status.is_redirection() {
            // A redirect the client did not follow: one whose `Location` it
            // could not make a request of (`file:///...`, say). Say why when
            // the policy is the reason.
            let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok());
            if let Some(next) = location.and_then(|l| response.url().join(l).ok()) {
                self.policy.check_url(&next)?;
            }
            return Err(FetchError::Status(status.as_u16()));
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let length = response.content_length();
        if !prefix && length.is_some_and(|length| length > max_bytes) {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        let header = |name: reqwest::header::HeaderName| response.headers().get(name).and_then(|v| v.to_str().ok());
        let mime_type = header(CONTENT_TYPE)
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty());
        let file_name = header(CONTENT_DISPOSITION)
            .and_then(file_name::from_content_disposition)
            .or_else(|| file_name::from_url_path(response.url()));

        // Never more than the cap plus the chunk that crosses it.
        let mut body = BytesMut::with_capacity(length.unwrap_or(0).min(max_bytes) as usize);
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() as u64 + chunk.len() as u64 > max_bytes {
                if prefix {
                    let room = max_bytes as usize - body.len();
                    body.extend_from_slice(&chunk[..room]);
                    break;
                }
                return Err(FetchError::TooLarge { limit: max_bytes });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            data: body.freeze(),
            mime_type,
            file_name,
        })
    }
}

/// Whether the redirect to `next`, after `previous` URLs (the original one
/// included), may be followed.
pub fn check_redirect(policy: &UrlPolicy, next: &Url, previous: usize) -> Result<(), FetchError> {
    if previous > MAX_REDIRECTS {
        return Err(FetchError::TooManyRedirects { max: MAX_REDIRECTS });
    }
    Ok(policy.check_url(next)?)
}

/// Our own refusals travel inside reqwest's errors (from the redirect policy
/// and the resolver); everything else is a timeout or a transport failure.
pub(super) fn classify(e: reqwest::Error) -> FetchError {
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        if let Some(refused) = inner.downcast_ref::<FetchError>() {
            return refused.clone();
        }
        if let Some(refused) = inner.downcast_ref::<Refused>() {
            return FetchError::NotAllowed(refused.clone());
        }
        source = inner.source();
    }
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Transport(describe(&e.without_url()))
    }
}

/// An error and its causes on one line. reqwest's own message would include
/// the URL; callers strip it first.
pub(super) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = inner.source();
    }
    text
}
