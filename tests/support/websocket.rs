//! A WebSocket client for black-box tests of `/ws` and `/api/listen/{id}`:
//! a real client (tokio-tungstenite) that reads JSON frames with timeouts,
//! and a raw one that never answers pings, for the idle timeout.

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::{TestServer, WAIT};

/// How a client presents its token.
#[derive(Debug, Clone, Copy)]
pub enum Token<'a> {
    None,
    Header(&'a str),
    Query(&'a str),
}

type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An open WebSocket connection to the server.
pub struct WsClient {
    stream: Stream,
    /// Pings the server sent so far.
    pub pings: usize,
}

/// What a connection attempt got: the connection, or the HTTP status and
/// JSON body of the refusal.
pub async fn connect(server: &TestServer, path: &str, token: Token<'_>) -> Result<WsClient, (u16, serde_json::Value)> {
    connect_to(server.addr, path, token).await
}

/// [`connect`] to the server at `addr` (one in a child process, say).
pub async fn connect_to(
    addr: std::net::SocketAddr,
    path: &str,
    token: Token<'_>,
) -> Result<WsClient, (u16, serde_json::Value)> {
    let url = match token {
        Token::Query(token) => {
            let separator = if path.contains('?') { '&' } else { '?' };
            format!("ws://{addr}{path}{separator}token={token}")
        }
        _ => format!("ws://{addr}{path}"),
    };
    let mut request = url.into_client_request().expect("a valid WebSocket URL");
    if let Token::Header(token) = token {
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value"),
        );
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake ends in time")
    {
        Ok((stream, _)) => Ok(WsClient { stream, pings: 0 }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .unwrap_or(serde_json::Value::Null);
            Err((status, body))
        }
        Err(e) => panic!("WebSocket {path}: {e}"),
    }
}

/// Connects and expects success.
pub async fn open(server: &TestServer, path: &str, token: Token<'_>) -> WsClient {
    open_to(server.addr, path, token).await
}

/// [`open`] on the server at `addr`.
pub async fn open_to(addr: std::net::SocketAddr, path: &str, token: Token<'_>) -> WsClient {
    connect_to(addr, path, token)
        .await
        .unwrap_or_else(|(status, body)| panic!("WebSocket {path} refused: {status} {body}"))
}

/// How a connection ended, seen from the client.
#[derive(Debug)]
pub enum End {
    /// A close frame with this code and reason.
    Closed(u16, String),
    /// The connection ended without a close frame.
    Dropped(String),
}

impl WsClient {
    /// The next text frame as JSON (pings are counted and skipped); panics
    /// after [`WAIT`] or if the connection ends.
    pub async fn next_frame(&mut self) -> serde_json::Value {
        match self.next_or_end().await {
            Ok(frame) => frame,
            Err(end) => panic!("the connection ended while a frame was expected: {end:?}"),
        }
    }

    /// The next text frame, or how the connection ended.
    pub async fn next_or_end(&mut self) -> Result<serde_json::Value, End> {
        loop {
            let next = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("timed out waiting for a WebSocket frame");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("a frame that is not JSON ({e}): {text}")));
                }
                Some(Ok(Message::Ping(_))) => self.pings += 1,
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Err(End::Closed(frame.code.into(), frame.reason.to_string()));
                }
                Some(Ok(Message::Close(None))) => return Err(End::Closed(1005, String::new())),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(End::Dropped(e.to_string())),
                None => return Err(End::Dropped("end of stream".to_owned())),
            }
        }
    }

    /// Reads frames until one with `"event": name`; it and the frames before.
    pub async fn wait_event(&mut self, name: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
        let mut before = Vec::new();
        loop {
            let frame = self.next_frame().await;
            if frame["event"] == name {
                return (frame, before);
            }
            before.push(frame);
        }
    }

    /// Reads until the connection ends: the text frames still received, and how it ended.
    pub async fn until_end(&mut self) -> (Vec<serde_json::Value>, End) {
        let mut frames = Vec::new();
        loop {
            match self.next_or_end().await {
                Ok(frame) => frames.push(frame),
                Err(end) => return (frames, end),
            }
        }
    }
}

/// A client that completes the WebSocket handshake over a plain TCP socket
/// and then only collects bytes: it never answers a ping, so the server
/// sees no sign of life from it.
pub struct SilentClient {
    socket: tokio::net::TcpStream,
}

impl SilentClient {
    /// Opens `path` with `token` in the header.
    pub async fn open(server: &TestServer, path: &str, token: &str) -> SilentClient {
        let mut socket = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect to the server");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Authorization: Bearer {token}\r\n\r\n",
            server.addr
        );
        socket.write_all(request.as_bytes()).await.expect("send the handshake");
        // Read the 101 answer byte by byte, so no frame after it is consumed.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let byte = tokio::time::timeout(WAIT, socket.read_u8())
                .await
                .expect("the handshake answer in time")
                .expect("a handshake answer");
            head.push(byte);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "the upgrade was refused: {head}");
        SilentClient { socket }
    }

    /// Every byte the server sends until it closes the connection (within [`WAIT`]).
    pub async fn bytes_until_closed(mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        tokio::time::timeout(WAIT, self.socket.read_to_end(&mut bytes))
            .await
            .expect("the server closes the connection in time")
            .expect("the connection ends cleanly");
        bytes
    }
}
