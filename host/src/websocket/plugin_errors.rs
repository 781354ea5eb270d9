//! `plugin.error` frames on `/ws`, taken straight from the event bus.
//!
//! Plugin failures are broadcast on the bus by the plugin registry (a plugin
//! that does not load) and the plugin host (a plugin that failed on an event).
//! They reach `/ws` here, not through the websocket plugin in the chain: a
//! plugin earlier in the chain could drop them, the websocket plugin itself
//! may be the one failing, and a load failure never enters the chain at all.
//! Everything else on `/ws` comes from the websocket plugin.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::{Channel, Hub};
use crate::events::{Bus, EventKind, sudevwa};

/// Publishes every `plugin_error` event of `bus` to the global channel until
/// the hub closes.
pub fn forward(bus: &Bus, hub: Hub) -> tokio::task::JoinHandle<()> {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = hub.closed() => return,
                event = events.recv() => event,
            };
            match event {
                Ok(event) if matches!(event.kind, EventKind::PluginError { .. }) => {
                    if let Some(frame) = sudevwa::to_vec(&event).and_then(|bytes| String::from_utf8(bytes).ok()) {
                        hub.publish(&Channel::Global, Arc::from(frame));
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "the WebSocket hub fell behind the event bus; some plugin.error frames were not sent"
                    );
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}
