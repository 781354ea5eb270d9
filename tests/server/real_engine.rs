//! The real WhatsApp engine against a stand-in for WhatsApp's WebSocket
//! endpoint on a loopback port: nothing here contacts WhatsApp or any other
//! outside host (a custom transport URL also keeps the client from fetching
//! the current app version from web.whatsapp.com).
//!
//! The stand-in speaks just enough WebSocket (the RFC 6455 upgrade and
//! unmasking of client frames) to see what the client sends, and never
//! answers the Noise handshake. What it shows:
//! - a session dials the configured URL and opens WhatsApp's Noise handshake:
//!   one binary frame with the `WA` prologue (magic 6, dictionary version 3),
//!   a 3-byte length, and a `HandshakeMessage` holding only a ClientHello with
//!   a 32-byte ephemeral key;
//! - when the server drops the connection, the session reports
//!   `Disconnected`, and does not dial again by itself;
//! - with two sessions open on two devices of one database, dropping one's
//!   connection leaves the other's connection open and its events silent, and
//!   `close()` ends a session without any event.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wasap::engine::whatsapp::{WhatsappEngine, WhatsappEngineConfig};
use wasap::engine::{Engine, EngineEvent, Session, SessionRequest};
use wasap::store::Store;
use wasap_tests::TestDb;

/// Upper bound for anything the client is expected to do; generous for slow CI.
const WAIT: Duration = Duration::from_secs(30);
/// How long a connection that should stay quiet is watched.
const QUIET: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opens_the_noise_handshake_and_reports_a_dropped_connection() -> Result<()> {
    let db = TestDb::new().await;
    let store = Store::open(db.url()).await?;
    let server = FakeWhatsapp::start().await?;
    let engine = server.engine();

    let (session, mut events) = open(&engine, &store, "one").await?;
    let mut peer = server.accept().await?;
    ensure!(
        peer.path == "/ws/chat",
        "the client dialled {} instead of /ws/chat",
        peer.path
    );
    assert_client_hello(&peer.next_binary().await?)?;

    drop(peer);
    match next_event(&mut events).await? {
        EngineEvent::Disconnected { reason } => ensure!(!reason.is_empty(), "a drop comes with a reason"),
        other => bail!("expected Disconnected after the drop, got {other:?}"),
    }
    // Reconnecting is the supervisor's call: the session must not dial again.
    server.expect_no_connection().await?;
    session.close().await;
    ensure!(
        tokio::time::timeout(WAIT, events.recv()).await?.is_none(),
        "nothing follows the end of a session"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_one_sessions_connection_leaves_another_session_alone() -> Result<()> {
    let db = TestDb::new().await;
    let store = Store::open(db.url()).await?;
    let server = FakeWhatsapp::start().await?;
    let engine = server.engine();

    // One at a time, so each accepted connection is known to be whose.
    let (first, mut first_events) = open(&engine, &store, "first").await?;
    let mut first_peer = server.accept().await?;
    assert_client_hello(&first_peer.next_binary().await?)?;
    let (second, mut second_events) = open(&engine, &store, "second").await?;
    let mut second_peer = server.accept().await?;
    assert_client_hello(&second_peer.next_binary().await?)?;

    drop(first_peer);
    match next_event(&mut first_events).await? {
        EngineEvent::Disconnected { .. } => {}
        other => bail!("expected Disconnected for the dropped session, got {other:?}"),
    }

    // The other connection is still open, and its session said nothing.
    ensure!(
        second_peer.stays_quiet(QUIET).await?,
        "the second connection was closed or written to when the first dropped"
    );
    ensure!(
        matches!(second_events.try_recv(), Err(mpsc::error::TryRecvError::Empty)),
        "the second session reported something when the first dropped"
    );

    // Closing it closes its connection, and no event follows.
    second.close().await;
    second_peer.expect_closed().await?;
    ensure!(
        tokio::time::timeout(WAIT, second_events.recv()).await?.is_none(),
        "close() is followed by no event"
    );
    first.close().await;
    Ok(())
}

/// Through the whole server: two instances linked on an earlier run come back
/// on the real engine, each dialling WhatsApp (here, the stand-in) and opening
/// the handshake. When the stand-in drops one connection, that instance goes
/// `disconnected` and dials again after a backoff that grows with each drop,
/// while the other instance's connection stays open and its status unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_instance_reconnects_with_backoff_without_disturbing_another() -> Result<()> {
    use wasap::events::EventKind;
    use whatsapp_rust::wacore::store::Device;
    use whatsapp_rust::wacore::store::traits::DeviceStore;

    let db = TestDb::new().await;
    let dir = tempfile::tempdir()?;
    let fake = FakeWhatsapp::start().await?;
    let store = Store::open(db.url()).await?;
    for (id, phone) in [("first", "6281400000001"), ("second", "6281400000002")] {
        let device_id = store.allocate_device_id().await?;
        let mut device = Device::new();
        let jid = format!("{phone}:1@s.whatsapp.net");
        device.pn = Some(jid.parse()?);
        store.device(device_id).save(&device).await?;
        let row = wasap::store::instances::InstanceRow {
            id: id.to_owned(),
            name: id.to_owned(),
            token_hash: wasap::instances::token::hash(id),
            status: "online".to_owned(),
            device_id: Some(device_id),
            jid: Some(jid),
            phone_number: Some(phone.to_owned()),
            push_name: None,
            created_at: 0,
            connected_at: None,
            last_seen: None,
        };
        ensure!(store.insert_instance(&row).await?, "seeded {id}");
    }
    store.close().await;

    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.engine = wasap::engine::EngineKind::Whatsapp;
    config.whatsapp_url = Some(fake.url.clone());
    config.reconnect_min_ms = 300;
    config.reconnect_max_ms = 5_000;
    let mut server = wasap_tests::TestServer::start_with(config).await;

    let mut one = fake.accept().await?;
    assert_client_hello(&one.next_binary().await?)?;
    let mut other = fake.accept().await?;
    assert_client_hello(&other.next_binary().await?)?;
    server.events.wait_statuses(&["first", "second"], "connecting").await;

    // Two drops of the same instance's connection: the retry waits for the
    // backoff (300 ms, then 600 ms, each less at most a quarter of jitter).
    let mut dropped: Option<String> = None;
    let mut seen = Vec::new();
    for minimum in [Duration::from_millis(225), Duration::from_millis(450)] {
        drop(one);
        let (event, before) = server
            .events
            .wait_for(
                "an instance to go disconnected",
                |e| matches!(&e.kind, EventKind::StatusChanged { status, .. } if status.as_str() == "disconnected"),
            )
            .await;
        seen.extend(before);
        let id = dropped.get_or_insert_with(|| event.instance_id.clone()).clone();
        ensure!(event.instance_id == id, "the same instance drops each time");
        let since = std::time::Instant::now();
        one = fake.accept().await?;
        let waited = since.elapsed();
        ensure!(
            waited >= minimum,
            "redialled after {waited:?}, sooner than the {minimum:?} backoff"
        );
        assert_client_hello(&one.next_binary().await?)?;
        seen.extend(server.events.wait_status(&id, "connecting").await);
    }
    let dropped = dropped.expect("an instance dropped");
    let steady = if dropped == "first" { "second" } else { "first" };

    ensure!(
        other.stays_quiet(QUIET).await?,
        "the other instance's connection was disturbed"
    );
    ensure!(
        !seen.iter().any(|e| e.instance_id == steady),
        "the other instance saw events: {seen:#?}"
    );
    let (status, body) = server.admin().get(&format!("/api/instances/{steady}")).await;
    ensure!(status == 200 && body["status"] == "connecting", "{steady}: {body}");
    server.stop().await;
    Ok(())
}

/// Opens a session for a new device of `store`, with its event channel.
async fn open(
    engine: &WhatsappEngine,
    store: &Store,
    instance_id: &str,
) -> Result<(std::sync::Arc<dyn Session>, mpsc::Receiver<EngineEvent>)> {
    let device_id = store.allocate_device_id().await?;
    let (tx, rx) = mpsc::channel(16);
    let session = engine
        .open(SessionRequest {
            instance_id: instance_id.to_owned(),
            device: store.device(device_id),
            events: tx,
            inbound: std::sync::Arc::new(NoTraffic),
            polls: wasap::polls::PollBook::new(store.clone(), instance_id),
            address_book: std::sync::Arc::new(wasap::engine::address_book::Forgetful),
        })
        .await?;
    Ok((session, rx))
}

/// The inbound journal of a session these tests open: they send it no traffic.
struct NoTraffic;

#[async_trait::async_trait]
impl wasap::engine::InboundSink for NoTraffic {
    async fn accept(&self, _events: Vec<wasap::engine::InboundEvent>) -> Result<(), wasap::engine::InboundClosed> {
        Ok(())
    }

    async fn pass_on(&self, _kind: wasap::events::EventKind) {}
}

async fn next_event(events: &mut mpsc::Receiver<EngineEvent>) -> Result<EngineEvent> {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .context("no event in time")?
        .context("the session ended without an event")
}

/// Checks the first frame a fresh device sends: WhatsApp's Noise prologue and
/// an XX ClientHello.
fn assert_client_hello(frame: &[u8]) -> Result<()> {
    // "WA", magic value 6, binary-dictionary version 3.
    ensure!(
        frame.starts_with(b"WA\x06\x03"),
        "no WA prologue: {:02x?}",
        &frame[..frame.len().min(8)]
    );
    ensure!(frame.len() > 7, "the frame ends after the prologue");
    let length = u32::from_be_bytes([0, frame[4], frame[5], frame[6]]) as usize;
    let payload = &frame[7..];
    ensure!(
        length == payload.len(),
        "frame length {length} but {} bytes follow",
        payload.len()
    );
    // HandshakeMessage { clientHello (field 2) { ephemeral (field 1): 32 bytes } }.
    ensure!(
        payload.len() == 36 && payload[..4] == [0x12, 34, 0x0a, 32],
        "not a bare XX ClientHello: {payload:02x?}"
    );
    Ok(())
}

/// A loopback listener standing in for WhatsApp's WebSocket endpoint.
struct FakeWhatsapp {
    listener: TcpListener,
    url: String,
}

impl FakeWhatsapp {
    async fn start() -> Result<FakeWhatsapp> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}/ws/chat", listener.local_addr()?);
        Ok(FakeWhatsapp { listener, url })
    }

    fn engine(&self) -> WhatsappEngine {
        WhatsappEngine::new(WhatsappEngineConfig {
            device_name: "wasap-test".to_owned(),
            transport_url: Some(self.url.clone()),
        })
        .expect("a loopback URL is allowed")
    }

    /// Accepts the next connection and completes its WebSocket upgrade.
    async fn accept(&self) -> Result<Peer> {
        let (stream, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .context("the client did not connect")??;
        Peer::upgrade(stream).await
    }

    /// Fails if a client connects within [`QUIET`].
    async fn expect_no_connection(&self) -> Result<()> {
        match tokio::time::timeout(QUIET, self.listener.accept()).await {
            Err(_) => Ok(()),
            Ok(_) => bail!("the client dialled again by itself"),
        }
    }
}

/// The server side of one client connection.
struct Peer {
    stream: TcpStream,
    /// Bytes read past what has been consumed.
    buffer: Vec<u8>,
    path: String,
}

impl Peer {
    /// Reads the HTTP upgrade request and answers 101 with the right accept key.
    async fn upgrade(stream: TcpStream) -> Result<Peer> {
        let mut peer = Peer {
            stream,
            buffer: Vec::new(),
            path: String::new(),
        };
        let end = loop {
            if let Some(at) = peer.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            ensure!(peer.fill().await? > 0, "the client hung up during the upgrade");
        };
        let request = String::from_utf8(peer.buffer.drain(..end).collect())?;
        let mut lines = request.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        peer.path = request_line.split(' ').nth(1).unwrap_or_default().to_owned();
        let key = lines
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
            .map(|(_, value)| value.trim().to_owned())
            .context("no Sec-WebSocket-Key in the upgrade request")?;
        let accept = base64(&sha1(format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes()));
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        peer.stream.write_all(response.as_bytes()).await?;
        Ok(peer)
    }

    /// Reads more bytes into the buffer; 0 at end of stream.
    async fn fill(&mut self) -> Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    async fn need(&mut self, n: usize) -> Result<()> {
        while self.buffer.len() < n {
            ensure!(self.fill().await? > 0, "the connection closed mid-frame");
        }
        Ok(())
    }

    /// The next complete client frame, unmasked: (opcode, payload).
    async fn next_frame(&mut self) -> Result<(u8, Vec<u8>)> {
        self.need(2).await?;
        let (first, second) = (self.buffer[0], self.buffer[1]);
        ensure!(first & 0x80 != 0, "fragmented frames are not expected from this client");
        ensure!(second & 0x80 != 0, "client frames must be masked");
        let (length, mut at) = match second & 0x7f {
            126 => {
                self.need(4).await?;
                (u16::from_be_bytes([self.buffer[2], self.buffer[3]]) as usize, 4)
            }
            127 => {
                self.need(10).await?;
                let bytes: [u8; 8] = self.buffer[2..10].try_into()?;
                (u64::from_be_bytes(bytes) as usize, 10)
            }
            short => (short as usize, 2),
        };
        self.need(at + 4 + length).await?;
        let mask: [u8; 4] = self.buffer[at..at + 4].try_into()?;
        at += 4;
        let payload = self.buffer[at..at + length]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        self.buffer.drain(..at + length);
        Ok((first & 0x0f, payload))
    }

    /// The next binary frame's payload.
    async fn next_binary(&mut self) -> Result<Vec<u8>> {
        let read = async {
            loop {
                match self.next_frame().await? {
                    (0x2, payload) => return Ok(payload),
                    (0x8, _) => bail!("the client closed the connection"),
                    _ => continue,
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .context("no binary frame in time")?
    }

    /// True when nothing arrives and the connection stays open for `quiet`.
    async fn stays_quiet(&mut self, quiet: Duration) -> Result<bool> {
        match tokio::time::timeout(quiet, self.fill()).await {
            Err(_) => Ok(true),
            Ok(_) => Ok(false),
        }
    }

    /// Waits for the client to close the connection (a close frame or EOF).
    async fn expect_closed(&mut self) -> Result<()> {
        let read = async {
            loop {
                if self.buffer.len() >= 2 {
                    match self.next_frame().await {
                        Ok((0x8, _)) | Err(_) => return Ok(()),
                        Ok(_) => continue,
                    }
                }
                if self.fill().await? == 0 {
                    return Ok(());
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .context("the connection stayed open")?
    }
}

/// SHA-1, for the WebSocket accept key only (RFC 3174).
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e]) {
            *state = state.wrapping_add(value);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let bytes = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_accept_key_matches_rfc_6455() {
    // The worked example of RFC 6455, section 1.3.
    let key = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    assert_eq!(base64(&sha1(key.as_bytes())), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
