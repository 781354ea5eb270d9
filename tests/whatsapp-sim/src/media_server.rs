//! The simulated WhatsApp's media server (its "mmg" CDN), on a loopback port
//! of its own: clients upload encrypted media to it and download from it, the
//! way they do from WhatsApp's. This file owns the HTTP side and the stored
//! blobs; `iq/media_conn.rs` tells clients where it is, `media.rs` is what the
//! simulated phones do with it.
//!
//! - `POST /mms/<type>/<token>?auth=<auth>&token=<token>` (the body is the
//!   encrypted file, `enc ‖ mac`): refused with 401 unless `auth` is the token
//!   the `media_conn` IQ handed out, and with 400 unless `token` is the
//!   unpadded base64url SHA-256 of the body (as WhatsApp checks it). Answers
//!   `{"url","direct_path"}`. With `&resume=1` (files of 5 MiB and more ask
//!   first) it answers `{}`: nothing to resume.
//! - `GET <direct_path>?auth=&token=`: the stored blob, 404 when unknown, 403
//!   when `token` is not its hash, 401 when a wrong `auth` is given (the CDN
//!   serves a download on its path and hash alone, as WhatsApp Web's own
//!   downloads carry no auth).
//!
//! Clients build `https://` URLs; the simulator speaks plain HTTP. A client
//! under test gets there through wasap's test-build HTTP client
//! (`wasap::engine::whatsapp::loopback_http`), which sends a loopback `https`
//! URL over plain HTTP and refuses every other host.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use crate::server::Inner;

/// The largest upload the media server takes (WhatsApp's limit is 2 GiB;
/// tests send kilobytes).
const MAX_UPLOAD: u64 = 256 * 1024 * 1024;

/// The media types clients upload under `/mms/<type>`.
const MMS_TYPES: &[&str] = &["image", "video", "audio", "document", "ptt", "sticker"];

/// What the media server holds and hands out.
pub struct MediaCdn {
    /// The token the `media_conn` IQ gives every client.
    auth: String,
    /// `127.0.0.1:PORT`, once the server listens.
    host: OnceLock<String>,
    blobs: Mutex<HashMap<String, Blob>>,
    next: Mutex<u64>,
}

/// An encrypted file on the media server.
#[derive(Clone)]
pub struct Blob {
    pub data: Bytes,
    /// SHA-256 of `data`: what `token` names.
    pub enc_sha256: [u8; 32],
    /// The `/mms/<type>` it was uploaded under (or that the simulator stored it as).
    pub mms_type: String,
}

impl MediaCdn {
    pub fn new() -> MediaCdn {
        MediaCdn {
            auth: hex::encode(rand::random::<[u8; 24]>()),
            host: OnceLock::new(),
            blobs: Mutex::new(HashMap::new()),
            next: Mutex::new(1),
        }
    }

    pub fn auth(&self) -> &str {
        &self.auth
    }

    /// `127.0.0.1:PORT`, the host name clients are given.
    pub fn host(&self) -> Option<&str> {
        self.host.get().map(String::as_str)
    }

    /// Stores an encrypted file; its direct path and `https` URL, as WhatsApp
    /// would answer an upload.
    pub fn store(&self, mms_type: &str, data: Bytes) -> (String, String) {
        let n = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        // WhatsApp's shape: a bucket, then an opaque file name ending `.enc`.
        let direct_path = format!("/v/t62.7118-24/{n}_{}_n.enc", hex::encode(rand::random::<[u8; 12]>()));
        let url = format!("https://{}{direct_path}", self.host().unwrap_or("127.0.0.1"));
        let blob = Blob {
            enc_sha256: Sha256::digest(&data).into(),
            data,
            mms_type: mms_type.to_owned(),
        };
        self.blobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(direct_path.clone(), blob);
        (direct_path, url)
    }

    /// The file stored at `direct_path`.
    pub fn blob(&self, direct_path: &str) -> Option<Blob> {
        let path = direct_path.split('?').next().unwrap_or_default();
        self.blobs.lock().unwrap_or_else(|e| e.into_inner()).get(path).cloned()
    }
}

/// The unpadded base64url SHA-256 WhatsApp names a file by.
pub fn token_of(sha256: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256)
}

/// Listens on a free port of `ip` until `stop` turns true.
pub async fn start(
    inner: Arc<Inner>,
    ip: std::net::IpAddr,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((ip, 0)).await?;
    let addr = listener.local_addr()?;
    let _ = inner.media.host.set(addr.to_string());
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    tokio::spawn(warp::serve(routes(inner)).incoming(listener).graceful(shutdown).run());
    Ok(addr)
}

type Query = HashMap<String, String>;

fn routes(inner: Arc<Inner>) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    let inner = warp::any().map(move || inner.clone());
    let upload = warp::post()
        .and(warp::path!("mms" / String / String))
        .and(warp::query::<Query>())
        .and(warp::body::content_length_limit(MAX_UPLOAD))
        .and(warp::body::bytes())
        .and(inner.clone())
        .map(
            |mms_type: String, token: String, query: Query, body: Bytes, inner: Arc<Inner>| {
                upload(&inner, &mms_type, &token, &query, body)
            },
        );
    let download = warp::get()
        .and(warp::path::full())
        .and(warp::query::<Query>())
        .and(inner.clone())
        .map(|path: warp::path::FullPath, query: Query, inner: Arc<Inner>| download(&inner, path.as_str(), &query));
    let other = warp::any().and(warp::method()).and(warp::path::full()).and(inner).map(
        |method: warp::http::Method, path: warp::path::FullPath, inner: Arc<Inner>| {
            inner.unhandled(format!("media server: {method} {}", path.as_str()));
            status(StatusCode::NOT_FOUND, json!({ "error": "not found" }))
        },
    );
    upload.or(download).unify().or(other).unify()
}

fn upload(inner: &Inner, mms_type: &str, token: &str, query: &Query, body: Bytes) -> warp::reply::Response {
    let cdn = &inner.media;
    if query.get("auth").map(String::as_str) != Some(cdn.auth()) {
        // A stale token: the client refreshes its media connection and retries.
        return status(StatusCode::UNAUTHORIZED, json!({ "error": "auth" }));
    }
    if !MMS_TYPES.contains(&mms_type) {
        inner.unhandled(format!("media upload of unknown type {mms_type}"));
        return status(StatusCode::BAD_REQUEST, json!({ "error": "type" }));
    }
    if query.contains_key("resume") {
        // Nothing was uploaded before: the client sends the whole file.
        return status(StatusCode::OK, json!({}));
    }
    if query.contains_key("file_offset") {
        inner.unhandled(format!("a resumed upload the media server never offered: {query:?}"));
        return status(StatusCode::BAD_REQUEST, json!({ "error": "offset" }));
    }
    let hash: [u8; 32] = Sha256::digest(&body).into();
    if token != token_of(&hash) || query.get("token").map(String::as_str) != Some(token) {
        inner.unhandled(format!("media upload whose token is not the hash of its body: {token}"));
        return status(StatusCode::BAD_REQUEST, json!({ "error": "token" }));
    }
    let size = body.len();
    let (direct_path, url) = cdn.store(mms_type, body);
    info!(target: "whatsapp_sim", %mms_type, size, %direct_path, "media uploaded");
    status(StatusCode::OK, json!({ "url": url, "direct_path": direct_path }))
}

fn download(inner: &Inner, path: &str, query: &Query) -> warp::reply::Response {
    let cdn = &inner.media;
    let Some(blob) = cdn.blob(path) else {
        inner.unhandled(format!("media download of nothing stored: {path}"));
        return status(StatusCode::NOT_FOUND, json!({ "error": "not found" }));
    };
    if query.get("auth").is_some_and(|auth| auth != cdn.auth()) {
        return status(StatusCode::UNAUTHORIZED, json!({ "error": "auth" }));
    }
    if query.get("token").map(String::as_str) != Some(token_of(&blob.enc_sha256).as_str()) {
        return status(StatusCode::FORBIDDEN, json!({ "error": "token" }));
    }
    info!(target: "whatsapp_sim", %path, size = blob.data.len(), "media downloaded");
    warp::http::Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/octet-stream")
        .body(blob.data.into())
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR, json!({})))
}

fn status(code: StatusCode, body: serde_json::Value) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(&body), code).into_response()
}
