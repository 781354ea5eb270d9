//! The in-process event bus: every event is published once, subscribers each
//! get their own copy.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::Event;

/// How many events a slow subscriber may fall behind before it misses some.
const CAPACITY: usize = 4096;

/// Publish/subscribe over [`Event`]s. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    pub fn new() -> Bus {
        let (sender, _) = broadcast::channel(CAPACITY);
        Bus { sender }
    }

    /// Publishes an event; without subscribers it is simply dropped.
    pub fn publish(&self, event: Event) {
        tracing::debug!(instance = %event.instance_id, kind = event.name(), "event");
        let _ = self.sender.send(Arc::new(event));
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}
