//! One client connection: the WebSocket, the Noise handshake, then the
//! encrypted frame loop that decodes the client's stanzas for the router and
//! encodes the server's. Each connection has a writer task fed through a
//! channel, so anything in the simulator can send to a connection without
//! holding it.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};
use wacore::xml::DisplayableNode;
use wacore_binary::Node;
use wacore_binary::consts::WA_CONN_HEADER;
use wacore_noise::framing::{FrameDecoder, encode_frame};

use crate::error::{Result, SimError};
use crate::noise::{self, AfterHello};
use crate::server::Inner;
use crate::state::{Conn, Outbound};
use crate::{login, router};

type Sink = futures::stream::SplitSink<WebSocketStream<TcpStream>, Message>;
type Source = futures::stream::SplitStream<WebSocketStream<TcpStream>>;

/// Accepts connections until `stop` turns true.
pub async fn accept_loop(listener: TcpListener, inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve(stream, inner.clone()));
                }
                Err(e) => warn!(target: "whatsapp_sim", "accept failed: {e}"),
            },
            _ = stop.changed() => return,
        }
    }
}

async fn serve(stream: TcpStream, inner: Arc<Inner>) {
    let conn_id = inner.next_conn_id();
    if let Err(e) = serve_inner(stream, &inner, conn_id).await {
        debug!(target: "whatsapp_sim", conn = conn_id, "connection ended: {e}");
    }
    login::on_closed(&inner, conn_id);
}

async fn serve_inner(stream: TcpStream, inner: &Arc<Inner>, conn_id: u64) -> Result<()> {
    let ws = tokio_tungstenite::accept_async(stream).await?;
    let (mut sink, mut source) = ws.split();
    let mut decoder = FrameDecoder::new();

    let hello = read_first_frame(&mut source, &mut decoder).await?;
    let keys = inner.keys();
    let refuse_ik = inner.refuse_ik.load(std::sync::atomic::Ordering::Relaxed);
    let accepted = match noise::read_client_hello(&keys, &hello, !refuse_ik)? {
        AfterHello::Done { server_hello, accepted } => {
            send_frame(&mut sink, &server_hello).await?;
            *accepted
        }
        AfterHello::AwaitFinish { server_hello, state } => {
            send_frame(&mut sink, &server_hello).await?;
            let finish = read_frame(&mut source, &mut decoder).await?;
            noise::read_client_finish(*state, &finish)?
        }
    };
    info!(target: "whatsapp_sim", conn = conn_id, pattern = ?accepted.pattern, "handshake complete");

    let (sealer, mut opener) = accepted.transport.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    inner.world().conns.insert(
        conn_id,
        Conn {
            tx,
            device: None,
            active: false,
            pattern: accepted.pattern,
            drop_after_delivery: false,
            deaf: false,
            held_acks: None,
        },
    );
    let writer = tokio::spawn(write_loop(sink, sealer, rx, stop_tx, conn_id));
    login::on_handshake(inner, conn_id, &accepted.payload, accepted.client_static).await;

    let result = loop {
        // Frames already buffered behind the handshake come first.
        while let Some(frame) = decoder.decode_frame() {
            let plaintext = opener.decrypt(frame.to_vec())?;
            let node = decode_node(&plaintext)?;
            if inner.world().conns.get(&conn_id).is_none_or(|c| c.deaf) {
                debug!(target: "whatsapp_sim", conn = conn_id, "lost in the cut: {}", DisplayableNode(&node));
                continue;
            }
            debug!(target: "whatsapp_sim", conn = conn_id, "<- {}", DisplayableNode(&node));
            router::handle(inner, conn_id, node).await;
        }
        tokio::select! {
            message = source.next() => match message {
                Some(Ok(Message::Binary(data))) => decoder.feed(&data),
                Some(Ok(Message::Close(_))) | None => break Ok(()),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(SimError::from(e)),
            },
            _ = stop_rx.changed() => break Ok(()),
        }
    };
    writer.abort();
    result
}

fn decode_node(plaintext: &[u8]) -> Result<Node> {
    let data = wacore_binary::util::unpack(plaintext)?;
    Ok(wacore_binary::marshal::unmarshal_ref(&data)?.to_owned())
}

/// The first frame follows the connection header (`WA` + version), which may
/// itself follow an edge-routing pre-intro (`ED`, 0, 1, 3-byte length, data).
async fn read_first_frame(source: &mut Source, decoder: &mut FrameDecoder) -> Result<Vec<u8>> {
    let mut head: Vec<u8> = Vec::new();
    let body_start = loop {
        if head.len() >= 2 && head.starts_with(b"ED") {
            if head.len() >= 7 {
                let len = ((head[4] as usize) << 16) | ((head[5] as usize) << 8) | head[6] as usize;
                let end = 7 + len + WA_CONN_HEADER.len();
                if head.len() >= end {
                    check_header(&head[7 + len..end])?;
                    break end;
                }
            }
        } else if head.len() >= WA_CONN_HEADER.len() {
            check_header(&head[..WA_CONN_HEADER.len()])?;
            break WA_CONN_HEADER.len();
        }
        head.extend_from_slice(&next_binary(source).await?);
    };
    decoder.feed(&head[body_start..]);
    read_frame(source, decoder).await
}

fn check_header(header: &[u8]) -> Result<()> {
    if header == WA_CONN_HEADER {
        Ok(())
    } else {
        Err(SimError::Handshake(format!(
            "unexpected connection header {header:02x?}"
        )))
    }
}

async fn read_frame(source: &mut Source, decoder: &mut FrameDecoder) -> Result<Vec<u8>> {
    loop {
        if let Some(frame) = decoder.decode_frame() {
            return Ok(frame.to_vec());
        }
        decoder.feed(&next_binary(source).await?);
    }
}

async fn next_binary(source: &mut Source) -> Result<Vec<u8>> {
    loop {
        match source.next().await {
            Some(Ok(Message::Binary(data))) => return Ok(data.to_vec()),
            Some(Ok(Message::Close(_))) | None => {
                return Err(SimError::Handshake("connection closed during the handshake".into()));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

async fn send_frame(sink: &mut Sink, payload: &[u8]) -> Result<()> {
    let frame = encode_frame(payload, None).map_err(|e| SimError::Protocol(e.to_string()))?;
    sink.send(Message::Binary(frame.into())).await?;
    Ok(())
}

async fn write_loop(
    mut sink: Sink,
    mut sealer: noise::Sealer,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
    stop: watch::Sender<bool>,
    conn_id: u64,
) {
    while let Some(out) = rx.recv().await {
        match out {
            Outbound::Node(node) => {
                debug!(target: "whatsapp_sim", conn = conn_id, "-> {}", DisplayableNode(&node));
                let sent = async {
                    let plain = wacore_binary::marshal(&node)?;
                    let sealed = sealer.encrypt(&plain)?;
                    send_frame(&mut sink, &sealed).await
                }
                .await;
                if let Err(e) = sent {
                    debug!(target: "whatsapp_sim", conn = conn_id, "send failed: {e}");
                    break;
                }
            }
            Outbound::Close => {
                let _ = sink.send(Message::Close(None)).await;
                let _ = sink.flush().await;
                break;
            }
            Outbound::Drop => break,
        }
    }
    let _ = stop.send(true);
}
