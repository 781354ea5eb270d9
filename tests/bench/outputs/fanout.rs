//! The WebSocket fan-out: many `/api/listen/{id}` listeners, and the time
//! one incoming message takes to reach them all.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::{FAN_MARK, INSTANCE, incoming};
use wasap_tests::bench_receiver::find_number;

/// Opens `count` listeners on `/api/listen/{id}`; each reports the round
/// number of every fan-out frame it gets, with the time it got it.
pub(crate) async fn open_listeners(
    addr: &str,
    token: &str,
    count: usize,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<(u64, Instant)>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (sender, frames) = tokio::sync::mpsc::unbounded_channel();
    let url = format!("ws://{addr}/api/listen/{INSTANCE}?token={token}");
    // A few handshakes at a time: a thousand at once only measures the accept queue.
    let streams: Vec<_> = futures::stream::iter(0..count)
        .map(|_| {
            let url = url.clone();
            async move { tokio_tungstenite::connect_async(url).await.map(|(stream, _)| stream) }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut tasks = Vec::with_capacity(count);
    for stream in streams {
        let mut stream = stream.unwrap_or_else(|e| panic!("a listener could not connect: {e}"));
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                match message {
                    Message::Text(text) => {
                        let at = Instant::now();
                        if let Some(round) = find_number(text.as_bytes(), FAN_MARK) {
                            let _ = sender.send((round, at));
                        }
                    }
                    // tungstenite answers pings itself on the next read or flush.
                    Message::Ping(_) => {
                        let _ = stream.flush().await;
                    }
                    _ => {}
                }
            }
        }));
    }
    (frames, tasks)
}

/// One fan-out round: the time from the request to the first, median and
/// last listener's frame.
pub(crate) async fn fan_out_round(
    http: &reqwest::Client,
    base: &str,
    frames: &mut tokio::sync::mpsc::UnboundedReceiver<(u64, Instant)>,
    round: u64,
    listeners: usize,
) -> Option<(Duration, Duration, Duration)> {
    let sent = Instant::now();
    assert!(
        incoming(http, base, format!("{FAN_MARK}{round}")).await,
        "the fan-out event was refused"
    );
    let mut arrivals = Vec::with_capacity(listeners);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while arrivals.len() < listeners {
        match tokio::time::timeout_at(deadline, frames.recv()).await {
            Ok(Some((r, at))) if r == round => arrivals.push(at.duration_since(sent)),
            Ok(Some(_)) => {}
            _ => {
                println!(
                    "  round {round}: only {} of {listeners} listeners got the frame",
                    arrivals.len()
                );
                return None;
            }
        }
    }
    arrivals.sort();
    Some((arrivals[0], arrivals[arrivals.len() / 2], arrivals[arrivals.len() - 1]))
}
