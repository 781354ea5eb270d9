//! The benchmarks' in-process webhook receiver: a bare hyper server on
//! loopback that records each delivery's sequence number (the number after a
//! mark the bench writes into each message's text), event id and arrival
//! time. Shared by `bench-outputs` and `bench-real-traffic`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The event's sequence number, from the body; `None` for other events.
    pub seq: Option<u64>,
    pub event_id: String,
    pub at: Instant,
}

/// The loopback webhook receiver: a bare hyper server answering 200.
pub struct Receiver {
    pub url: String,
    receipts: Arc<Mutex<Vec<Receipt>>>,
    /// While false, requests are held unanswered (and not yet recorded).
    pub open: watch::Sender<bool>,
}

impl Receiver {
    /// Starts a receiver that finds each event's sequence number after `mark`.
    pub async fn start(mark: &'static str) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let receipts = Arc::new(Mutex::new(Vec::new()));
        let (open, gate) = watch::channel(true);
        let shared = receipts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (receipts, gate) = (shared.clone(), gate.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| receive(request, mark, receipts.clone(), gate.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { url, receipts, open }
    }

    /// Every receipt so far, leaving none.
    pub fn take(&self) -> Vec<Receipt> {
        std::mem::take(&mut *self.receipts.lock().unwrap())
    }

    /// Waits until `seqs` has a receipt of every event in it (or `limit`
    /// passes without a new one); all receipts meanwhile.
    pub async fn collect(&self, seqs: std::ops::Range<u64>, limit: Duration) -> Vec<Receipt> {
        let mut all = Vec::new();
        let mut seen = vec![false; (seqs.end - seqs.start) as usize];
        let mut missing = seen.len();
        let mut last_progress = Instant::now();
        while missing > 0 && last_progress.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let new = self.take();
            for receipt in &new {
                if let Some(seq) = receipt.seq.filter(|s| seqs.contains(s)) {
                    let slot = &mut seen[(seq - seqs.start) as usize];
                    if !*slot {
                        *slot = true;
                        missing -= 1;
                    }
                }
            }
            if !new.is_empty() {
                last_progress = Instant::now();
            }
            all.extend(new);
        }
        all
    }
}

async fn receive(
    request: Request<hyper::body::Incoming>,
    mark: &'static str,
    receipts: Arc<Mutex<Vec<Receipt>>>,
    mut gate: watch::Receiver<bool>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let event_id = request
        .headers()
        .get("x-wasap-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let _ = gate.wait_for(|open| *open).await;
    let at = Instant::now();
    receipts.lock().unwrap().push(Receipt {
        seq: find_number(&body, mark),
        event_id,
        at,
    });
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// The number written after `mark` in `bytes`.
pub fn find_number(bytes: &[u8], mark: &str) -> Option<u64> {
    let mark = mark.as_bytes();
    let start = bytes.windows(mark.len()).position(|w| w == mark)? + mark.len();
    let digits: &[u8] = &bytes[start
        ..bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(bytes.len(), |n| start + n)];
    std::str::from_utf8(digits).ok()?.parse().ok()
}
