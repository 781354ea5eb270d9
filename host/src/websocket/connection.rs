//! One WebSocket connection, from the upgrade to the close frame.
//!
//! The writer side takes frames from the connection's bounded queue and
//! pings every `ping_interval`; the reader side notes every sign of life
//! (a pong or any message). The connection ends when the client closes it,
//! when it has been silent for `idle_timeout`, when the hub finds its queue
//! full (too slow), or at shutdown; the last three send a close frame that
//! says why (at shutdown after the frames already queued), and every end is
//! logged with its reason.
//!
//! A connection opened with `?after=<cursor>` first sends what its
//! [`Replay`] reads from the journal, then the live frames, skipping those of
//! entries the replay already sent (see [`super::replay`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{Sink, SinkExt, StreamExt};
use tokio::time::{Instant, sleep_until, timeout};
use warp::filters::ws::{Message, WebSocket};

use super::hub::{HubSettings, Stop, Subscription};
use super::replay::{Replay, ReplayError};

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
    /// The instance's token was replaced: listeners must authenticate again.
    TokenRotated,
    ShuttingDown,
    /// The replay's cursor expired while it ran (the journal's retention
    /// removed entries after it).
    CursorExpired,
    /// The replay could not read the journal.
    ReplayFailed,
}

impl Close {
    /// The close code: 1008 (policy violation) for a reader that cannot keep
    /// up, 1000 (normal) when there is nothing left to listen to, 4410 (the
    /// HTTP 410 in the private range) for an expired cursor, 1011 (internal
    /// error) for a replay that failed, 1001 (going away) otherwise.
    pub fn code(&self) -> u16 {
        match self {
            Close::TooSlow { .. } => 1008,
            Close::InstanceDeleted => 1000,
            Close::TokenRotated => 1008,
            Close::CursorExpired => 4410,
            Close::ReplayFailed => 1011,
            Close::Idle(_) | Close::ShuttingDown => 1001,
        }
    }

    /// The close reason, for the client and the log (at most 123 bytes).
    pub fn reason(&self) -> String {
        match self {
            Close::TooSlow { behind } => format!("too slow: fell {behind} frames behind"),
            Close::Idle(silent) => format!("idle: no sign of life for {}s", silent.as_secs_f64()),
            Close::InstanceDeleted => "instance deleted".to_owned(),
            Close::TokenRotated => "instance token rotated: connect again with the new token".to_owned(),
            Close::ShuttingDown => "server shutting down".to_owned(),
            Close::CursorExpired => "cursor expired: connect again without after= or with a newer cursor".to_owned(),
            Close::ReplayFailed => "replay failed: the journal could not be read; connect again".to_owned(),
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

/// When a connection's client was last heard from, and when that makes it idle.
struct Idle {
    start: Instant,
    /// Milliseconds after `start` of the client's last sign of life.
    last_seen: AtomicU64,
    timeout: Duration,
}

impl Idle {
    fn heard(&self) {
        self.last_seen
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn deadline(&self) -> Instant {
        self.start + Duration::from_millis(self.last_seen.load(Ordering::Relaxed)) + self.timeout
    }

    fn is_silent(&self, now: Instant) -> bool {
        self.deadline() <= now
    }
}

/// Sends `message`, which waits while the client is not reading; the hub
/// notices a reader that stays behind and stops it here, and a client silent
/// for too long is dropped meanwhile.
async fn send_watched<S>(sink: &mut S, message: Message, stop: &Stop, idle: &Idle) -> Result<(), Ended>
where
    S: Sink<Message, Error = warp::Error> + Unpin,
{
    let send = sink.send(message);
    tokio::pin!(send);
    loop {
        tokio::select! {
            biased;
            reason = stop.wait() => return Err(Ended::Closed(reason)),
            sent = &mut send => return sent.map_err(|e| Ended::Broken(e.to_string())),
            _ = sleep_until(idle.deadline()) => {
                if idle.is_silent(Instant::now()) {
                    return Err(Ended::Closed(Close::Idle(idle.timeout)));
                }
            }
        }
    }
}

/// Serves one upgraded connection until it ends, starting with `replay`'s
/// frames when it has one; the subscription is dropped (and the connection
/// leaves the hub) when this returns.
pub async fn serve(socket: WebSocket, mut subscription: Subscription, settings: HubSettings, replay: Option<Replay>) {
    let (mut sink, mut stream) = socket.split();
    let hub = subscription.hub();
    let stats = hub.stats();
    let start = Instant::now();
    let idle = Idle {
        start,
        last_seen: AtomicU64::new(0),
        timeout: settings.idle_timeout,
    };

    let reader = async {
        loop {
            match stream.next().await {
                Some(Ok(message)) => {
                    idle.heard();
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
        // Live frames of entries at or below this were sent by the replay.
        let replayed = match replay {
            Some(replay) => match send_replay(&mut sink, replay, &subscription, &idle).await {
                Ok(last) => Some(last),
                Err(ended) => return ended,
            },
            None => None,
        };
        let mut ping = tokio::time::interval_at(start + settings.ping_interval, settings.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (message, is_frame) = tokio::select! {
                biased;
                reason = subscription.stop.wait() => return Ended::Closed(reason),
                _ = sleep_until(idle.deadline()) => {
                    if idle.is_silent(Instant::now()) {
                        return Ended::Closed(Close::Idle(settings.idle_timeout));
                    }
                    continue;
                }
                _ = ping.tick() => (Message::ping(Vec::new()), false),
                frame = subscription.frames.recv() => match frame {
                    Some(frame) if frame.cursor().is_some_and(|seq| replayed.is_some_and(|last| seq <= last)) => continue,
                    Some(frame) => (Message::text(&*frame), true),
                    None => return Ended::Closed(Close::ShuttingDown),
                },
            };
            if let Err(ended) = send_watched(&mut sink, message, &subscription.stop, &idle).await {
                return ended;
            }
            if is_frame {
                stats.frame_sent(&subscription.channel);
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
                Close::InstanceDeleted
                | Close::TokenRotated
                | Close::ShuttingDown
                | Close::CursorExpired
                | Close::ReplayFailed => {}
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

/// Sends `replay`'s frames, page by page; the seq of the last entry it read.
async fn send_replay<S>(
    sink: &mut S,
    mut replay: Replay,
    subscription: &Subscription,
    idle: &Idle,
) -> Result<i64, Ended>
where
    S: Sink<Message, Error = warp::Error> + Unpin,
{
    let hub = subscription.hub();
    let stats = hub.stats();
    loop {
        let page = tokio::select! {
            biased;
            reason = subscription.stop.wait() => return Err(Ended::Closed(reason)),
            page = replay.next_page() => page,
        };
        let frames = match page {
            Ok(Some(frames)) => frames,
            Ok(None) => return Ok(replay.last()),
            Err(ReplayError::Expired) => return Err(Ended::Closed(Close::CursorExpired)),
            Err(e) => {
                tracing::warn!(channel = %subscription.channel, error = %e, "a WebSocket replay failed");
                return Err(Ended::Closed(Close::ReplayFailed));
            }
        };
        for frame in frames {
            send_watched(sink, Message::text(&*frame), &subscription.stop, idle).await?;
            stats.frame_sent(&subscription.channel);
        }
    }
}
