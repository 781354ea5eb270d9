//! The in-process event bus: every event is published once; in-process
//! subscribers each get their own copy, and the plugin host, once attached,
//! gets every event through its [`EventFeed`] without loss.
//!
//! An event from the inbound journal is published with its journal seq
//! ([`Bus::publish_journalled`]): the seq is the clients' replay cursor, and
//! the frames published for the event carry it (`Hub::publish_at`), so a
//! WebSocket client knows where to resume after a gap.

use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;

use super::Event;

/// How many events a slow subscriber may fall behind before it misses some.
const CAPACITY: usize = 4096;

/// Where published events go besides the subscribers: the plugin chain.
/// `dispatch` may wait (a full queue), so publishers slow down instead of
/// losing events.
#[async_trait::async_trait]
pub trait EventFeed: Send + Sync {
    async fn dispatch(&self, event: Arc<Event>);

    /// Like [`dispatch`](Self::dispatch), for an event of the inbound
    /// journal at `seq`: the WebSocket frames published for it must carry
    /// `seq` as their cursor (`Hub::publish_at`). By default the seq is
    /// dropped (frames without a cursor).
    async fn dispatch_journalled(&self, event: Arc<Event>, seq: i64) {
        let _ = seq;
        self.dispatch(event).await;
    }
}

/// Publish/subscribe over [`Event`]s. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<Event>>,
    feed: Arc<OnceLock<Arc<dyn EventFeed>>>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    pub fn new() -> Bus {
        let (sender, _) = broadcast::channel(CAPACITY);
        Bus {
            sender,
            feed: Arc::new(OnceLock::new()),
        }
    }

    /// Sends every event published from now on to `feed` as well (once).
    pub fn attach(&self, feed: Arc<dyn EventFeed>) {
        if self.feed.set(feed).is_err() {
            tracing::error!("an event feed was attached twice; the second is ignored");
        }
    }

    /// Publishes an event to the subscribers and the feed.
    pub async fn publish(&self, event: Event) {
        let event = Arc::new(event);
        self.broadcast(event.clone());
        self.dispatch(event).await;
    }

    /// Publishes an event of the inbound journal, at `seq`, to the
    /// subscribers and the feed (see [`EventFeed::dispatch_journalled`]).
    pub async fn publish_journalled(&self, event: Event, seq: i64) {
        let event = Arc::new(event);
        self.broadcast(event.clone());
        if let Some(feed) = self.feed.get() {
            feed.dispatch_journalled(event, seq).await;
        }
    }

    /// Hands an event to the feed only (for one already broadcast).
    pub async fn dispatch(&self, event: Arc<Event>) {
        if let Some(feed) = self.feed.get() {
            feed.dispatch(event).await;
        }
    }

    /// Publishes an event to the subscribers only.
    pub fn broadcast(&self, event: Arc<Event>) {
        tracing::debug!(instance = %event.instance_id, kind = event.name(), "event");
        let _ = self.sender.send(event);
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}
