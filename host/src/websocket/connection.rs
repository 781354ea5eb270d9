//! One WebSocket connection, from the upgrade to the close frame.
//!
//! The writer side takes frames from the connection's bounded queue and
//! pings every `ping_interval`; the reader side notes every sign of life
//! (a pong or any message). The connection ends when the client closes it,
//! when it has been silent for `idle_timeout`, when the hub finds its queue
//! full (too slow), or at shutdown; the last three send a close frame that
//! says why (at shutdown after the frames already queued), and every end is
//! logged with its reason.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::time::{Instant, sleep_until, timeout};
use warp::filters::ws::{Message, WebSocket};

use super::hub::{HubSettings, Subscription};

/// How long the close frame may take to reach a client before the
/// connection is dropped without it (a reader that stopped reading may never
/// take it).
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Why the server closes a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// Its queue filled up: it fell this many frames behind.
    TooSlow {
        behind: usize,
    },
    /// Nothing came from the client for this long.
    Idle(Duration),
    /// The instance it listened to was deleted (and its token with it).
    InstanceDeleted,
    ShuttingDown,
}

impl Close {
    /// The close code: 1008 (policy violation) for a reader that cannot keep
    /// up, 1000 (normal) when there is nothing left to listen to, 1001
    /// (going away) otherwise.
    pub fn code(&self) -> u16 {
        match self {
            Close::TooSlow { .. } => 1008,
            Close::InstanceDeleted => 1000,
            Close::Idle(_) | Close::ShuttingDown => 1001,
        }
    }

    /// The close reason, for the client and the log (at most 123 bytes).
    pub fn reason(&self) -> String {
        match self {
            Close::TooSlow { behind } => format!("too slow: fell {behind} frames behind"),
            Close::Idle(silent) => format!("idle: no sign of life for {}s", silent.as_secs_f64()),
            Close::InstanceDeleted => "instance deleted".to_owned(),
            Close::ShuttingDown => "server shutting down".to_owned(),
        }
    }
}

/// How a connection ended.
enum Ended {
    /// The server closed it.
    Closed(Close),
    /// The client closed it.
    ByClient,
    /// The socket broke.
    Broken(String),
}

/// Serves one upgraded connection until it ends; the subscription is
/// dropped (and the connection leaves the hub) when this returns.
pub async fn serve(socket: WebSocket, mut subscription: Subscription, settings: HubSettings) {
    let (mut sink, mut stream) = socket.split();
    let hub = subscription.hub();
    let stats = hub.stats();
    let start = Instant::now();
    // Milliseconds after `start` of the client's last sign of life.
    let last_seen = AtomicU64::new(0);
    let is_silent =
        |now: Instant| start + Duration::from_millis(last_seen.load(Ordering::Relaxed)) + settings.idle_timeout <= now;
    let idle_deadline = || start + Duration::from_millis(last_seen.load(Ordering::Relaxed)) + settings.idle_timeout;

    let reader = async {
        loop {
            match stream.next().await {
                Some(Ok(message)) => {
                    last_seen.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
                    if message.is_close() {
                        return Ended::ByClient;
                    }
                }
                Some(Err(e)) => return Ended::Broken(e.to_string()),
                None => return Ended::ByClient,
            }
        }
    };

    let writer = async {
        let mut ping = tokio::time::interval_at(start + settings.ping_interval, settings.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (message, is_frame) = tokio::select! {
                biased;
                reason = subscription.stop.wait() => return Ended::Closed(reason),
                _ = sleep_until(idle_deadline()) => {
                    if is_silent(Instant::now()) {
                        return Ended::Closed(Close::Idle(settings.idle_timeout));
                    }
                    continue;
                }
                _ = ping.tick() => (Message::ping(Vec::new()), false),
                frame = subscription.frames.recv() => match frame {
                    Some(frame) => (Message::text(&*frame), true),
                    None => return Ended::Closed(Close::ShuttingDown),
                },
            };
            // Sending waits while the client is not reading; the hub notices a
            // reader that stays behind and stops it here.
            let send = sink.send(message);
            tokio::pin!(send);
            loop {
                tokio::select! {
                    biased;
                    reason = subscription.stop.wait() => return Ended::Closed(reason),
                    sent = &mut send => match sent {
                        Ok(()) => {
                            if is_frame {
                                stats.frame_sent(&subscription.channel);
                            }
                            break;
                        }
                        Err(e) => return Ended::Broken(e.to_string()),
                    },
                    _ = sleep_until(idle_deadline()) => {
                        if is_silent(Instant::now()) {
                            return Ended::Closed(Close::Idle(settings.idle_timeout));
                        }
                    }
                }
            }
        }
    };

    let ended = tokio::select! {
        ended = reader => ended,
        ended = writer => ended,
    };
    let channel = subscription.channel.clone();
    match ended {
        Ended::Closed(close) => {
            let reason = close.reason();
            match close {
                Close::TooSlow { .. } => stats.closed_too_slow(&channel),
                Close::Idle(_) => stats.closed_idle(&channel),
                Close::InstanceDeleted | Close::ShuttingDown => {}
            }
            tracing::info!(%channel, code = close.code(), %reason, "WebSocket connection closed by the server");
            let goodbye = async {
                // What was queued before the shutdown (its `system` notice
                // among it) still goes out; a reader too slow for its queue
                // gets nothing more.
                if close == Close::ShuttingDown {
                    while let Ok(frame) = subscription.frames.try_recv() {
                        sink.send(Message::text(&*frame)).await?;
                        stats.frame_sent(&channel);
                    }
                }
                sink.send(Message::close_with(close.code(), reason)).await?;
                sink.close().await
            };
            if timeout(CLOSE_GRACE, goodbye).await.is_err() {
                tracing::info!(%channel, "the close frame did not reach the client in time; connection dropped");
            }
        }
        Ended::ByClient => {
            tracing::debug!(%channel, "WebSocket connection closed by the client");
            // Sends the reply to the client's close frame.
            let _ = timeout(CLOSE_GRACE, sink.close()).await;
        }
        Ended::Broken(error) => tracing::info!(%channel, %error, "WebSocket connection broke"),
    }
}
