//! A loopback webhook receiver for black-box tests: real HTTP, every request
//! recorded (path, headers, raw body) before it is answered, and each path
//! answering as the test says: success, a status, failures before success,
//! or never. Tests wait on the recorded requests, never on the clock.
//!
//! Signatures are checked the way the source documents' (docs/seeds/) receivers check
//! them: HMAC-SHA256 over the raw body, keyed with the secret's UTF-8 bytes,
//! compared as hex (after stripping `sha256=` for the gowa header).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How a path answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 OK.
    Ok,
    /// This status, every time.
    Status(u16),
    /// 500 for the first `n` requests to the path, then 200.
    FailFirst(usize),
    /// Reads the request and never answers.
    Never,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names in lowercase.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn event_id(&self) -> &str {
        self.header("x-wasap-event-id")
            .expect("every delivery carries X-Wasap-Event-Id")
    }

    pub fn attempt(&self) -> u32 {
        self.header("x-wasap-delivery-attempt")
            .and_then(|a| a.parse().ok())
            .expect("every delivery carries X-Wasap-Delivery-Attempt")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("a delivery body is not JSON ({e}): {:?}", self.body))
    }
}

struct Paths {
    behaviour: HashMap<String, Behaviour>,
    seen: HashMap<String, usize>,
}

/// A running receiver; it stops with the test's runtime.
pub struct WebhookReceiver {
    base: String,
    paths: Arc<Mutex<Paths>>,
    received: mpsc::Receiver<Received>,
}

impl WebhookReceiver {
    /// A receiver on a free loopback port; paths not set answer 200.
    pub async fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let paths = Arc::new(Mutex::new(Paths {
            behaviour: HashMap::new(),
            seen: HashMap::new(),
        }));
        // Bounded: a test that stops reading stalls the receiver, not the memory.
        let (sender, received) = mpsc::channel(4096);
        let shared = paths.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone(), sender.clone()));
            }
        });
        WebhookReceiver {
            base: format!("http://{addr}"),
            paths,
            received,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// How `path` answers from now on.
    pub fn set(&self, path: &str, behaviour: Behaviour) {
        self.paths.lock().unwrap().behaviour.insert(path.to_owned(), behaviour);
    }

    /// The next request received, within `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<Received> {
        tokio::time::timeout(wait, self.received.recv()).await.ok().flatten()
    }

    /// Waits (up to [`crate::WAIT`] after the last request) until `done`
    /// says the requests received so far are enough; returns them all.
    pub async fn until(&mut self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        self.until_or_timeout(done).await.unwrap_or_else(|all| {
            panic!(
                "timed out waiting for {what}; received {:#?}",
                all.iter()
                    .map(|r| (&r.path, r.header("x-wasap-event-id"), String::from_utf8_lossy(&r.body)))
                    .collect::<Vec<_>>()
            )
        })
    }

    /// [`WebhookReceiver::until`] for a caller that explains a timeout
    /// itself: `Err` with what did arrive when [`crate::WAIT`] passed
    /// without a request.
    pub async fn until_or_timeout(
        &mut self,
        done: impl Fn(&[Received]) -> bool,
    ) -> Result<Vec<Received>, Vec<Received>> {
        let mut all = Vec::new();
        match self.extend_until(&mut all, done).await {
            true => Ok(all),
            false => Err(all),
        }
    }

    /// Adds the requests received to `all` (what the caller took before)
    /// until `done` says `all` is enough: `false` when [`crate::WAIT`]
    /// passed without a request first.
    pub async fn extend_until(&mut self, all: &mut Vec<Received>, done: impl Fn(&[Received]) -> bool) -> bool {
        while !done(all) {
            match self.next(crate::WAIT).await {
                Some(request) => all.push(request),
                None => return false,
            }
        }
        true
    }
}

/// The hex HMAC-SHA256 of `body` keyed with `secret`'s UTF-8 bytes.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    // HMAC (RFC 2104) written out over SHA-256, so the check does not share
    // code with the server's signer.
    let mut key = secret.as_bytes().to_vec();
    if key.len() > 64 {
        key = Sha256::digest(&key).to_vec();
    }
    key.resize(64, 0);
    let inner: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
    let inner_hash = Sha256::new().chain_update(&inner).chain_update(body).finalize();
    hex::encode(Sha256::new().chain_update(&outer).chain_update(inner_hash).finalize())
}

/// Verifies a delivery the way the source documents do: `X-SUDEVWA-Signature`
/// for sudevwa, `X-Hub-Signature-256: sha256=...` for gowa.
pub fn signature_valid(request: &Received, format: &str, secret: &str) -> bool {
    let expected = hmac_hex(secret, &request.body);
    let received = match format {
        "sudevwa" => request.header("x-sudevwa-signature"),
        "gowa" => request
            .header("x-hub-signature-256")
            .and_then(|s| s.strip_prefix("sha256=")),
        _ => None,
    };
    received.is_some_and(|received| received.eq_ignore_ascii_case(&expected))
}

/// Verifies `X-Wasap-Signature: t=<secs>,v1=<hex>` as a replay-wary
/// receiver would: the HMAC covers `<t>.<X-Wasap-Event-Id>.<body>`, and `t`
/// is within `max_age_secs` of now.
pub fn timestamped_signature_valid(request: &Received, secret: &str, max_age_secs: u64) -> bool {
    let (Some(header), Some(event_id)) = (request.header("x-wasap-signature"), request.header("x-wasap-event-id"))
    else {
        return false;
    };
    let Some((t, v1)) = header
        .split_once(',')
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
    else {
        return false;
    };
    let Ok(t_secs) = t.parse::<u64>() else { return false };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let mut signed = format!("{t}.{event_id}.").into_bytes();
    signed.extend_from_slice(&request.body);
    now.abs_diff(t_secs) <= max_age_secs && v1.eq_ignore_ascii_case(&hmac_hex(secret, &signed))
}

async fn serve(mut socket: TcpStream, paths: Arc<Mutex<Paths>>, sender: mpsc::Sender<Received>) {
    // One request per connection at a time; keep-alive connections are served in a loop.
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        let behaviour = {
            let mut paths = paths.lock().unwrap();
            let seen = paths.seen.entry(request.path.clone()).or_insert(0);
            *seen += 1;
            let seen = *seen;
            match paths.behaviour.get(&request.path).copied().unwrap_or(Behaviour::Ok) {
                Behaviour::FailFirst(n) if seen <= n => Behaviour::Status(500),
                Behaviour::FailFirst(_) => Behaviour::Ok,
                other => other,
            }
        };
        if sender.send(request).await.is_err() {
            return;
        }
        let status = match behaviour {
            Behaviour::Ok | Behaviour::FailFirst(_) => 200,
            Behaviour::Status(status) => status,
            Behaviour::Never => return std::future::pending().await,
        };
        let response = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok");
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request (head and `Content-Length` body) from the connection.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Received> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    while buffer.len() < head_end + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(Received { path, headers, body })
}
