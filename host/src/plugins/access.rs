//! The two imports that reach outside the sandbox, bound to one plugin: its
//! own keys in the database, and HTTP to the hosts its manifest allows (and
//! that the outbound-URL policy accepts).

use std::sync::Arc;
use std::time::Duration;

use wasap_plugin_manifest::Capabilities;

use super::bindings::wasap::plugin::{http, kv};
use crate::outbound::{FetchError, OutboundRequest, Requester};
use crate::store::Store;
use crate::store::plugin_kv::{DEFAULT_MAX_KEYS, KvSet, MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// The largest HTTP response body a plugin may receive.
const MAX_HTTP_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// The longest a plugin's HTTP request may take when it asks for no timeout.
const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One plugin's keys.
pub struct KvAccess {
    pub store: Store,
    pub plugin: Arc<str>,
}

impl KvAccess {
    fn check_key(key: &str) -> Result<(), kv::Error> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(kv::Error::InvalidKey);
        }
        Ok(())
    }

    fn unavailable(&self, e: crate::store::StoreError) -> kv::Error {
        tracing::warn!(plugin = %self.plugin, error = %e, "a plugin's key-value operation failed");
        kv::Error::Unavailable("the database is unavailable".to_owned())
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, kv::Error> {
        Self::check_key(key)?;
        self.store
            .kv_get(&self.plugin, key)
            .await
            .map_err(|e| self.unavailable(e))
    }

    pub async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), kv::Error> {
        Self::check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(kv::Error::ValueTooLarge);
        }
        match self.store.kv_set(&self.plugin, key, &value, DEFAULT_MAX_KEYS).await {
            Ok(KvSet::Stored) => Ok(()),
            Ok(KvSet::QuotaExceeded) => Err(kv::Error::QuotaExceeded),
            Err(e) => Err(self.unavailable(e)),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), kv::Error> {
        Self::check_key(key)?;
        self.store
            .kv_delete(&self.plugin, key)
            .await
            .map_err(|e| self.unavailable(e))
    }

    pub async fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, kv::Error> {
        let limit = limit.min(1000);
        self.store
            .kv_list_keys(&self.plugin, prefix, limit)
            .await
            .map_err(|e| self.unavailable(e))
    }
}

/// HTTP to the hosts a plugin's manifest allows.
pub struct HttpAccess {
    pub requester: Requester,
    pub allowed_hosts: Arc<[String]>,
    pub plugin: Arc<str>,
}

impl HttpAccess {
    pub async fn fetch(&self, request: http::Request) -> Result<http::Response, http::Error> {
        let timeout = request.timeout_ms.map_or(DEFAULT_HTTP_TIMEOUT, |ms| {
            Duration::from_millis(ms.into()).min(DEFAULT_HTTP_TIMEOUT)
        });
        let outbound = OutboundRequest {
            method: method(request.method),
            url: request.url,
            headers: request.headers,
            body: request.body.map(Into::into),
            timeout,
            max_response_bytes: MAX_HTTP_RESPONSE_BYTES,
        };
        let hosts = self.allowed_hosts.clone();
        let allowed = move |host: &str| Capabilities::host_allowed(&hosts, host);
        match self.requester.send_allowed(outbound, allowed).await {
            Ok(response) => Ok(http::Response {
                status: response.status,
                headers: response.headers,
                body: response.body.to_vec(),
            }),
            Err(e) => {
                tracing::debug!(plugin = %self.plugin, error = %e, "a plugin's HTTP request failed");
                Err(match e {
                    FetchError::InvalidUrl => http::Error::InvalidUrl(e.to_string()),
                    FetchError::NotAllowed(_) => http::Error::NotAllowed(e.to_string()),
                    FetchError::Timeout => http::Error::Timeout,
                    FetchError::TooLarge { .. } => http::Error::TooLarge,
                    other => http::Error::Transport(other.to_string()),
                })
            }
        }
    }
}

fn method(method: http::Method) -> reqwest::Method {
    match method {
        http::Method::Get => reqwest::Method::GET,
        http::Method::Head => reqwest::Method::HEAD,
        http::Method::Post => reqwest::Method::POST,
        http::Method::Put => reqwest::Method::PUT,
        http::Method::Patch => reqwest::Method::PATCH,
        http::Method::Delete => reqwest::Method::DELETE,
        http::Method::Options => reqwest::Method::OPTIONS,
    }
}
