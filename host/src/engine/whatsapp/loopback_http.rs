//! TEST BUILDS ONLY: the HTTP client a test build's whatsapp-rust uses for
//! media, so media reaches the WhatsApp simulator's media server on loopback.
//!
//! whatsapp-rust builds every media URL as `https://<host from the media_conn
//! IQ>/...`, and its default HTTP client (ureq over rustls, WhatsApp's public
//! roots) rightly trusts no certificate a simulator could present. The
//! simulator (`tests/whatsapp-sim`) serves its media over plain HTTP on
//! loopback, so this client sends an `https` URL whose host is a loopback IP
//! address over plain HTTP to the same address, through whatsapp-rust's own
//! ureq client, and refuses every other URL before any connection is made.
//! The host must be an IP literal in 127.0.0.0/8 or `[::1]`, the rule a test
//! build applies to its WhatsApp URL (`cert_checks::is_loopback_ip`): a
//! name, even `localhost`, is refused.
//!
//! How production is kept out of it: this module exists only when wasap is
//! built with the `test-whatsapp-server` feature (see `mod.rs`, where the
//! client is installed under the same `cfg`), the feature that also switches
//! off the Noise certificate check, that only the test crates' dev-dependencies
//! enable, and that makes the binary say "noise certificate checks: OFF" in
//! `--version` (which CI checks on the release binary). A build without it
//! never calls `Bot::builder().with_http_client`, so whatsapp-rust keeps its
//! default client with its TLS roots, unchanged.

use anyhow::{Result, anyhow};
use async_trait::async_trait;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse, UreqHttpClient};
use whatsapp_rust::wacore::net::{StreamingHttpResponse, UploadBody};

use super::cert_checks::is_loopback_ip;

/// whatsapp-rust's own HTTP client, confined to loopback and spoken in plain HTTP.
#[derive(Debug, Clone, Default)]
pub struct LoopbackHttpClient {
    inner: UreqHttpClient,
}

impl LoopbackHttpClient {
    pub fn new() -> LoopbackHttpClient {
        LoopbackHttpClient::default()
    }
}

/// A media URL this client refuses.
#[derive(Debug, thiserror::Error)]
#[error(
    "this is a test build (noise certificate checks: OFF): its media goes only to a WhatsApp \
     simulator on loopback, and {url} is not an https URL of a loopback address"
)]
pub struct NotLoopbackMedia {
    pub url: String,
}

/// The plain-HTTP URL `url` is sent to, or why it is refused.
pub fn plain_loopback_url(url: &str) -> Result<String, NotLoopbackMedia> {
    let refused = || NotLoopbackMedia { url: url.to_owned() };
    let mut parsed = reqwest::Url::parse(url).map_err(|_| refused())?;
    if parsed.scheme() != "https" || !is_loopback_ip(&parsed) {
        return Err(refused());
    }
    parsed.set_scheme("http").map_err(|()| refused())?;
    Ok(parsed.into())
}

fn on_loopback(mut request: HttpRequest) -> Result<HttpRequest> {
    request.url = plain_loopback_url(&request.url).map_err(|e| anyhow!(e))?;
    Ok(request)
}

#[async_trait]
impl HttpClient for LoopbackHttpClient {
    async fn execute(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.inner.execute(on_loopback(request)?).await
    }

    fn supports_streaming(&self) -> bool {
        self.inner.supports_streaming()
    }

    fn execute_streaming(&self, request: HttpRequest) -> Result<StreamingHttpResponse> {
        self.inner.execute_streaming(on_loopback(request)?)
    }

    fn supports_upload_streaming(&self) -> bool {
        self.inner.supports_upload_streaming()
    }

    fn execute_upload(&self, request: HttpRequest, body: UploadBody, content_length: u64) -> Result<HttpResponse> {
        self.inner.execute_upload(on_loopback(request)?, body, content_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_https_urls_go_over_plain_http_to_the_same_address() {
        assert_eq!(
            plain_loopback_url("https://127.0.0.1:4102/mms/image/abc?auth=x&token=abc").unwrap(),
            "http://127.0.0.1:4102/mms/image/abc?auth=x&token=abc"
        );
        assert_eq!(
            plain_loopback_url("https://[::1]:4102/v/t62.7118-24/1_n.enc?token=t").unwrap(),
            "http://[::1]:4102/v/t62.7118-24/1_n.enc?token=t"
        );
    }

    #[test]
    fn every_other_media_url_is_refused() {
        for refused in [
            "https://mmg.whatsapp.net/v/t62.7118-24/1_n.enc?token=t",
            "https://localhost:4102/mms/image/abc",
            "https://10.0.0.1/mms/image/abc",
            "https://0.0.0.0:4102/mms/image/abc",
            "https://[::ffff:8.8.8.8]/mms/image/abc",
            "http://127.0.0.1:4102/mms/image/abc",
            "not a url",
        ] {
            assert!(plain_loopback_url(refused).is_err(), "{refused}");
        }
    }

    #[tokio::test]
    async fn a_request_to_a_real_media_host_fails_before_any_connection() {
        // WhatsApp's own CDN, as a media_conn answer from a real server would
        // name it: refused here, so a test build cannot fetch from it.
        let error = LoopbackHttpClient::new()
            .execute(HttpRequest::get(
                "https://mmg.whatsapp.net/v/t62.7118-24/1_n.enc?token=t",
            ))
            .await
            .expect_err("refused");
        assert!(
            error.to_string().contains("not an https URL of a loopback address"),
            "{error}"
        );
        let streaming = LoopbackHttpClient::new()
            .execute_streaming(HttpRequest::get("https://mmg.whatsapp.net/x"))
            .err()
            .expect("refused");
        assert!(streaming.to_string().contains("loopback"), "{streaming}");
    }
}
