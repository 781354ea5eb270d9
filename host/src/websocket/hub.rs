//! The hub: every open WebSocket connection, registered under its channel,
//! and the fan-out of frames to them.
//!
//! A frame is serialised once by whoever publishes it and shared as an
//! `Arc<str>`: fanning it out costs one reference count and one `try_send`
//! per listener, under a read lock. Publishing never waits: each connection
//! has a bounded queue, and a connection whose queue is full is told to stop
//! ("too slow") instead of holding up the publisher or the other listeners.
//!
//! A frame made from an event of the inbound journal carries the event's
//! journal seq as its cursor ([`Hub::publish_at`]): in the text, as a last
//! `"cursor"` field, for the client to resume from after a gap (`?after=`),
//! and beside it, for the connection to skip what its replay already sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};

use super::Channel;
use super::caps::{Caps, Opener};
use super::connection::Close;
use super::stats::Stats;

/// One frame, serialised once and shared by every listener that gets it
/// (cloning shares the text). Reads as the text it sends.
#[derive(Debug, Clone)]
pub struct Frame {
    text: Arc<str>,
    cursor: Option<i64>,
}

impl Frame {
    /// A frame without a cursor.
    pub fn plain(text: Arc<str>) -> Frame {
        Frame { text, cursor: None }
    }

    /// A frame made from the journal entry at `seq`: when the text is a JSON
    /// object, `"cursor":"<seq>"` is added as its last field.
    pub fn journalled(text: &str, seq: i64) -> Frame {
        Frame {
            text: Arc::from(with_cursor(text, seq)),
            cursor: Some(seq),
        }
    }

    /// The journal seq of the event the frame was made from, if any.
    pub fn cursor(&self) -> Option<i64> {
        self.cursor
    }
}

impl std::ops::Deref for Frame {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

/// `text` with `"cursor":"<seq>"` as the last field of its outer object;
/// unchanged when it is not one (a plugin's frame may be any text).
pub fn with_cursor(text: &str, seq: i64) -> String {
    let trimmed = text.trim_end();
    let Some(body) = trimmed.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) else {
        return text.to_owned();
    };
    let separator = if body.trim().is_empty() { "" } else { "," };
    format!("{{{body}{separator}\"cursor\":\"{seq}\"}}")
}

/// How the hub treats its connections (`--ws-*` flags).
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// How often the server pings each connection.
    pub ping_interval: Duration,
    /// A connection that sends nothing (no pong, no message) for this long is dropped.
    pub idle_timeout: Duration,
    /// Frames a connection may fall behind before it is disconnected as too slow.
    pub queue_frames: usize,
    /// Open connections at most, both routes together.
    pub max_connections: usize,
    /// Connections opened with an instance's token, at most, per instance.
    pub max_per_instance: usize,
    /// Places only the admin token may use (at most half of `max_connections`; see [`super::caps`]).
    pub admin_reserved: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            ping_interval: Duration::from_secs(5 * 60),
            idle_timeout: Duration::from_secs(15 * 60),
            queue_frames: 256,
            max_connections: 10_000,
            max_per_instance: 100,
            admin_reserved: 100,
        }
    }
}

/// Why a connection cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("too many WebSocket connections (at most {0}); try again later")]
    Full(usize),
    #[error("this instance has {0} WebSocket connections open, its limit")]
    InstanceFull(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// The hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    settings: HubSettings,
    state: RwLock<State>,
    next_id: AtomicU64,
    /// Frames sent and connections closed, for `/metrics`.
    stats: Stats,
    /// Turns true once, when the server shuts down.
    closing: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    channels: HashMap<Channel, HashMap<u64, Subscriber>>,
    caps: Caps,
    closing: bool,
}

/// The hub's side of one connection.
struct Subscriber {
    frames: mpsc::Sender<Frame>,
    stop: Arc<Stop>,
}

/// Tells a connection to end, and why; the first reason wins.
#[derive(Default)]
pub struct Stop {
    reason: Mutex<Option<Close>>,
    notify: Notify,
}

impl Stop {
    /// Asks the connection to close with `reason`, unless it already was.
    pub fn stop(&self, reason: Close) {
        let mut current = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if current.is_none() {
            *current = Some(reason);
            self.notify.notify_one();
        }
    }

    /// Resolves once the connection has been asked to close.
    pub async fn wait(&self) -> Close {
        loop {
            if let Some(reason) = self.reason.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return reason;
            }
            // A `stop` between the check and here leaves a permit: no wake-up is lost.
            self.notify.notified().await;
        }
    }
}

/// One registered connection: its queue and its stop signal. Dropping it
/// takes the connection out of the hub.
pub struct Subscription {
    hub: Hub,
    pub channel: Channel,
    opener: Opener,
    id: u64,
    pub frames: mpsc::Receiver<Frame>,
    pub stop: Arc<Stop>,
}

impl Subscription {
    /// The hub the connection is registered with.
    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut guard = self.hub.write();
        let state = &mut *guard;
        if let Some(listeners) = state.channels.get_mut(&self.channel)
            && listeners.remove(&self.id).is_some()
        {
            state.caps.release(&self.channel, self.opener);
            if listeners.is_empty() {
                state.channels.remove(&self.channel);
            }
        }
    }
}

impl Hub {
    pub fn new(settings: HubSettings) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                settings,
                state: RwLock::new(State::default()),
                next_id: AtomicU64::new(0),
                stats: Stats::default(),
                closing: watch::channel(false).0,
            }),
        }
    }

    pub fn settings(&self) -> &HubSettings {
        &self.inner.settings
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection of the admin's on `channel`: see [`Hub::register_as`].
    pub fn register(&self, channel: Channel) -> Result<Subscription, RegisterError> {
        self.register_as(channel, Opener::Admin)
    }

    /// Registers a new connection on `channel`, opened with `opener`'s token:
    /// from now on it gets every frame published there. Refused past the
    /// caps ([`super::caps`]) and once the server is shutting down.
    pub fn register_as(&self, channel: Channel, opener: Opener) -> Result<Subscription, RegisterError> {
        let mut state = self.write();
        if state.closing {
            return Err(RegisterError::ShuttingDown);
        }
        state.caps.admit(&self.inner.settings, &channel, opener)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, frames) = mpsc::channel(self.inner.settings.queue_frames.max(1));
        let stop = Arc::new(Stop::default());
        state.channels.entry(channel.clone()).or_default().insert(
            id,
            Subscriber {
                frames: sender,
                stop: stop.clone(),
            },
        );
        drop(state);
        Ok(Subscription {
            hub: self.clone(),
            channel,
            opener,
            id,
            frames,
            stop,
        })
    }

    /// Hands `frame` to every connection on `channel`; how many took it. A
    /// connection whose queue is full is disconnected as too slow.
    pub fn publish(&self, channel: &Channel, frame: Arc<str>) -> usize {
        self.publish_frame(channel, Frame::plain(frame))
    }

    /// [`Hub::publish`] for a frame made from the inbound journal's entry at
    /// `seq`: the frame carries `seq` as its cursor ([`Frame::journalled`]).
    pub fn publish_at(&self, channel: &Channel, frame: &str, seq: i64) -> usize {
        self.publish_frame(channel, Frame::journalled(frame, seq))
    }

    fn publish_frame(&self, channel: &Channel, frame: Frame) -> usize {
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        let Some(listeners) = state.channels.get(channel) else {
            return 0;
        };
        let mut delivered = 0;
        for listener in listeners.values() {
            match listener.frames.try_send(frame.clone()) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => listener.stop.stop(Close::TooSlow {
                    behind: self.inner.settings.queue_frames,
                }),
                // Its connection is ending; it unregisters itself.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        delivered
    }

    /// Closes every connection on `channel` with `reason`.
    pub fn close_channel(&self, channel: &Channel, reason: Close) {
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        for listener in state.channels.get(channel).into_iter().flat_map(HashMap::values) {
            listener.stop.stop(reason.clone());
        }
    }

    /// Open connections, both routes together.
    pub fn open_connections(&self) -> usize {
        self.inner.state.read().unwrap_or_else(|e| e.into_inner()).caps.open()
    }

    /// The counters of [`Stats`].
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// The Prometheus text of the WebSocket metrics: [`Stats`], and the open
    /// connections on `/ws` and on `/api/listen` (all instances together).
    pub fn render_metrics(&self, out: &mut String) {
        let open = {
            let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
            let global = state.channels.get(&Channel::Global).map_or(0, HashMap::len);
            [global, state.caps.open() - global]
        };
        self.inner.stats.render(open, out);
    }

    /// Closes every connection ("server shutting down") and refuses new ones:
    /// warp's graceful shutdown waits for upgraded connections, which
    /// would otherwise stay open for as long as their clients like.
    pub fn close_all(&self) {
        let mut state = self.write();
        state.closing = true;
        let count = state.caps.open();
        for listener in state.channels.values().flat_map(HashMap::values) {
            listener.stop.stop(Close::ShuttingDown);
        }
        drop(state);
        self.inner.closing.send_replace(true);
        if count > 0 {
            tracing::info!(connections = count, "closing the WebSocket connections for shutdown");
        }
    }

    /// Resolves once [`Hub::close_all`] has been called.
    pub async fn closed(&self) {
        let mut closing = self.inner.closing.subscribe();
        let _ = closing.wait_for(|closing| *closing).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(queue_frames: usize, max_connections: usize) -> Hub {
        Hub::new(HubSettings {
            queue_frames,
            max_connections,
            ..HubSettings::default()
        })
    }

    #[tokio::test]
    async fn frames_reach_only_their_channel() {
        let hub = hub(4, 10);
        let mut global = hub.register(Channel::Global).unwrap();
        let mut shop = hub.register(Channel::Instance("shop".into())).unwrap();
        assert_eq!(hub.publish(&Channel::Instance("shop".into()), Arc::from("m1")), 1);
        assert_eq!(hub.publish(&Channel::Instance("other".into()), Arc::from("m2")), 0);
        assert_eq!(hub.publish(&Channel::Global, Arc::from("g1")), 1);
        assert_eq!(&*shop.frames.recv().await.unwrap(), "m1");
        assert_eq!(&*global.frames.recv().await.unwrap(), "g1");
        assert!(shop.frames.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_journalled_frame_carries_its_cursor_in_the_text_and_beside_it() {
        let hub = hub(4, 10);
        let mut shop = hub.register(Channel::Instance("shop".into())).unwrap();
        hub.publish_at(&Channel::Instance("shop".into()), r#"{"event":"x","data":{}}"#, 42);
        hub.publish(&Channel::Instance("shop".into()), Arc::from("{}"));
        let frame = shop.frames.recv().await.unwrap();
        assert_eq!(&*frame, r#"{"event":"x","data":{},"cursor":"42"}"#);
        assert_eq!(frame.cursor(), Some(42));
        let plain = shop.frames.recv().await.unwrap();
        assert_eq!((&*plain, plain.cursor()), ("{}", None));
        assert_eq!(with_cursor("{ }", 7), r#"{ "cursor":"7"}"#);
        assert_eq!(with_cursor("not json", 7), "not json");
    }

    #[tokio::test]
    async fn a_full_queue_stops_only_its_connection() {
        let hub = hub(2, 10);
        let slow = hub.register(Channel::Global).unwrap();
        let mut quick = hub.register(Channel::Global).unwrap();
        for i in 0..3 {
            hub.publish(&Channel::Global, Arc::from(format!("f{i}")));
            assert_eq!(&*quick.frames.recv().await.unwrap(), format!("f{i}"));
        }
        assert_eq!(slow.stop.wait().await, Close::TooSlow { behind: 2 });
        assert!(quick.stop.reason.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn the_cap_refuses_and_a_dropped_connection_frees_its_place() {
        let hub = hub(2, 1);
        let first = hub.register(Channel::Global).unwrap();
        assert!(matches!(hub.register(Channel::Global), Err(RegisterError::Full(1))));
        drop(first);
        assert_eq!(hub.open_connections(), 0);
        let _again = hub.register(Channel::Global).unwrap();
        hub.close_all();
        hub.closed().await;
        assert!(matches!(
            hub.register(Channel::Global),
            Err(RegisterError::ShuttingDown)
        ));
    }
}
