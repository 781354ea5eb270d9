//! The real whatsapp-rust client, driven against the simulator: built with
//! `Bot::builder()` over wacore's in-memory store, its events recorded so a
//! test can wait on them (never sleep), and wasap's test-build HTTP client
//! (`wasap::engine::whatsapp::loopback_http`), which reaches the simulator's
//! media server on loopback and refuses every other host.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wasap_whatsapp_sim::Simulator;
use whatsapp_rust::Client;
use whatsapp_rust::bot::Bot;
use whatsapp_rust::store::traits::Backend;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::events::{Event, EventHandler};
use whatsapp_rust::wacore::store::InMemoryBackend;

pub const WAIT: Duration = Duration::from_secs(20);

pub fn logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
    });
}

/// Every event the client emitted, in order, with a signal on each new one.
#[derive(Clone)]
pub struct Events {
    log: Arc<Mutex<Vec<Arc<Event>>>>,
    changed: Arc<watch::Sender<usize>>,
}

impl Events {
    fn new() -> Events {
        Events {
            log: Arc::new(Mutex::new(Vec::new())),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    /// Waits for the first event at or after `from` that `pick` maps to a
    /// value; returns it with the index after it.
    pub async fn wait<T>(&self, from: usize, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> (T, usize) {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            rx.mark_unchanged();
            {
                let log = self.log.lock().unwrap();
                for (i, e) in log.iter().enumerate().skip(from) {
                    if let Some(found) = pick(e) {
                        return (found, i + 1);
                    }
                }
            }
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                let kinds: Vec<String> = self
                    .log
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|e| format!("{:?}", e).chars().take(80).collect())
                    .collect();
                panic!("timed out after {WAIT:?} waiting for {what}; events: {kinds:#?}");
            }
        }
    }

    pub fn len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn any(&self, mut f: impl FnMut(&Event) -> bool) -> bool {
        self.log.lock().unwrap().iter().any(|e| f(e))
    }
}

struct Recorder(Events);

impl EventHandler for Recorder {
    fn handle_event(&self, event: Arc<Event>) {
        let mut log = self.0.log.lock().unwrap();
        log.push(event);
        let n = log.len();
        drop(log);
        self.0.changed.send_replace(n);
    }
}

/// A running client and what it emitted.
pub struct TestClient {
    pub client: Arc<Client>,
    pub events: Events,
    run: JoinHandle<()>,
}

impl TestClient {
    /// Starts a client on `store` against the simulator.
    pub async fn start(sim: &Simulator, store: Arc<InMemoryBackend>) -> TestClient {
        TestClient::start_with(sim, store, None).await
    }

    /// Starts an unpaired client that asks for a pairing code for `phone`.
    pub async fn start_with_code(sim: &Simulator, store: Arc<InMemoryBackend>, phone: &str) -> TestClient {
        let options = whatsapp_rust::pair_code::PairCodeOptions {
            phone_number: phone.to_owned(),
            ..Default::default()
        };
        TestClient::start_with(sim, store, Some(options)).await
    }

    async fn start_with(
        sim: &Simulator,
        store: Arc<InMemoryBackend>,
        code: Option<whatsapp_rust::pair_code::PairCodeOptions>,
    ) -> TestClient {
        logs();
        let events = Events::new();
        let backend: Arc<dyn Backend> = store;
        let mut builder = Bot::builder()
            .with_backend_arc(backend)
            .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(sim.ws_url()))
            .with_http_client(wasap::engine::whatsapp::loopback_http::LoopbackHttpClient::new())
            .with_version((2, 3000, 1_000_000_000))
            .skip_history_sync()
            .with_event_handler(Recorder(events.clone()));
        if let Some(code) = code {
            builder = builder.with_pair_code(code);
        }
        let bot = builder.build().await.expect("the client builds");
        let client = bot.client();
        let run = tokio::spawn(bot.run());
        TestClient { client, events, run }
    }

    /// Waits for the next QR payload after event `from`.
    pub async fn qr(&self, from: usize) -> (String, usize) {
        self.events
            .wait(from, "a QR code", |e| match e {
                Event::PairingQrCode(qr) => Some(qr.code.clone()),
                _ => None,
            })
            .await
    }

    pub async fn connected(&self, from: usize) -> usize {
        self.events
            .wait(from, "Connected", |e| matches!(e, Event::Connected(_)).then_some(()))
            .await
            .1
    }

    /// Stops the client and waits for its task to end.
    pub async fn stop(self) {
        self.client.disconnect().await;
        let _ = tokio::time::timeout(WAIT, self.run).await;
    }
}

pub fn new_store() -> Arc<InMemoryBackend> {
    Arc::new(InMemoryBackend::new())
}

/// A client linked to `phone`'s account and online.
pub async fn paired(
    sim: &Simulator,
    phone: &str,
) -> (TestClient, wasap_whatsapp_sim::LinkedDevice, Arc<InMemoryBackend>) {
    let store = new_store();
    let client = TestClient::start(sim, store.clone()).await;
    let (qr, _) = client.qr(0).await;
    let linked = sim.phone(phone).scan(&qr).await.expect("the phone links the client");
    client.connected(0).await;
    sim.wait_online(phone, linked.device, WAIT).await.expect("online");
    (client, linked, store)
}

impl TestClient {
    /// Waits for an inbound message with text `text` after event `from`;
    /// returns the sender JID and the message id.
    pub async fn text(&self, from: usize, text: &str) -> ((String, String), usize) {
        self.events
            .wait(from, &format!("a message {text:?}"), |e| match e {
                Event::Messages(batch) => batch.iter().find_map(|m| {
                    let body = m
                        .message
                        .conversation
                        .clone()
                        .or_else(|| m.message.extended_text_message.as_option().and_then(|t| t.text.clone()));
                    (body.as_deref() == Some(text)).then(|| (m.info.source.sender.to_string(), m.info.id.to_string()))
                }),
                _ => None,
            })
            .await
    }
}

/// One HTTP/1.1 request over a fresh loopback connection; the status and
/// the JSON body.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the control API listens");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("a response")
        .unwrap();
    let text = String::from_utf8(response).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    (status, serde_json::from_str(body).expect("a JSON body"))
}
