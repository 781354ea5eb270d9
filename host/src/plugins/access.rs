//! The two imports that reach outside the sandbox, bound to one plugin: its
//! own keys in the database (within its key and byte quotas), and HTTP to the
//! `[scheme://]host[:port]` entries its manifest allows (and that the
//! outbound-URL policy accepts).

use std::sync::Arc;
use std::time::Duration;

use wasap_plugin_manifest::Capabilities;

use super::bindings::wasap::plugin::{http, kv};
use crate::outbound::{FetchError, OutboundRequest, Requester};
use crate::store::Store;
use crate::store::plugin_kv::{DEFAULT_MAX_KEYS, KvQuota, KvSet, MAX_VALUE_BYTES, is_valid_key};

/// The largest HTTP response body a plugin may receive.
const MAX_HTTP_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// The longest a plugin's HTTP request may take when it asks for no timeout.
const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One plugin's keys.
pub struct KvAccess {
    pub store: Store,
    pub plugin: Arc<str>,
    /// The bytes of values the plugin may keep, all keys together.
    pub max_bytes: u64,
}

impl KvAccess {
    /// Refuses an empty key, one over the length limit, and one with NUL
    /// (which PostgreSQL's text cannot hold: the write would fail there).
    fn check_key(key: &str) -> Result<(), kv::Error> {
        if !is_valid_key(key) {
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
        let quota = KvQuota {
            max_keys: DEFAULT_MAX_KEYS,
            max_bytes: self.max_bytes,
        };
        match self.store.kv_set(&self.plugin, key, &value, quota).await {
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

/// HTTP to the entries a plugin's manifest allows.
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
        // The whole entry: scheme, host and port. (Redirect hops are checked
        // by host, as the requester sees them; see `Requester::send_allowed`.)
        if let Ok(url) = reqwest::Url::parse(request.url.trim()) {
            let host = url.host_str().unwrap_or_default();
            if !Capabilities::url_allowed(&self.allowed_hosts, url.scheme(), host, url.port_or_known_default()) {
                tracing::debug!(plugin = %self.plugin, %host, "a plugin's HTTP request is not allowed");
                return Err(http::Error::NotAllowed(format!(
                    "{}://{host}:{} is not in the plugin's http allow-list (scheme, host and port)",
                    url.scheme(),
                    url.port_or_known_default().unwrap_or_default()
                )));
            }
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::outbound::UrlPolicy;

    /// A loopback HTTP receiver answering `200 ok`; counts its connections.
    async fn receiver() -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = socket.read(&mut buffer).await;
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                        .await;
                });
            }
        });
        (port, connections)
    }

    fn get(url: String) -> http::Request {
        http::Request {
            method: http::Method::Get,
            url,
            headers: Vec::new(),
            body: None,
            timeout_ms: Some(5000),
        }
    }

    #[tokio::test]
    async fn the_http_allow_list_matches_scheme_and_port_not_only_the_host() {
        let (allowed_port, _) = receiver().await;
        let (other_port, other_connections) = receiver().await;
        let access = HttpAccess {
            requester: Requester::new(UrlPolicy { allow_private: true }).unwrap(),
            allowed_hosts: vec![format!("http://127.0.0.1:{allowed_port}")].into(),
            plugin: Arc::from("probe"),
        };
        let answer = access
            .fetch(get(format!("http://127.0.0.1:{allowed_port}/x")))
            .await
            .unwrap_or_else(|e| panic!("the listed entry is allowed: {e:?}"));
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"ok"[..]));
        // The same host on another port, or with another scheme, is not.
        for url in [
            format!("http://127.0.0.1:{other_port}/x"),
            format!("https://127.0.0.1:{allowed_port}/x"),
            "http://127.0.0.1/x".to_owned(),
        ] {
            let refused = access.fetch(get(url.clone())).await;
            assert!(matches!(refused, Err(http::Error::NotAllowed(_))), "{url}: {refused:?}");
        }
        assert_eq!(other_connections.load(Ordering::SeqCst), 0, "refused before connecting");
    }

    #[tokio::test]
    async fn kv_keys_with_nul_are_invalid_and_values_count_against_the_byte_quota() {
        let dir = std::env::temp_dir().join(format!("wasap-kv-access-{}", crate::random::hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&Store::sqlite_url_in(&dir)).await.unwrap();
        let access = KvAccess {
            store: store.clone(),
            plugin: Arc::from("probe"),
            max_bytes: 10,
        };
        assert!(matches!(
            access.set("a\0b", b"v".to_vec()).await,
            Err(kv::Error::InvalidKey)
        ));
        assert!(matches!(access.get("a\0b").await, Err(kv::Error::InvalidKey)));
        assert!(matches!(access.delete("\0").await, Err(kv::Error::InvalidKey)));
        assert!(matches!(
            access.set("", b"v".to_vec()).await,
            Err(kv::Error::InvalidKey)
        ));
        assert!(access.set("a", vec![1; 6]).await.is_ok());
        assert!(access.set("b", vec![2; 4]).await.is_ok());
        assert!(matches!(access.set("c", vec![3]).await, Err(kv::Error::QuotaExceeded)));
        assert_eq!(store.kv_usage("probe").await.unwrap(), (2, 10));
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
