//! `system` events: server-wide notices an operator wants to see live (the
//! server shutting down; plugins loaded, replaced, removed, enabled and
//! disabled; webhook deliveries that failed for good), and the way to emit
//! them, [`SystemEvents::emit`] (or [`SystemEvents::announce`], which leaves
//! the plugins out).
//!
//! A notice is an [`EventKind::System`] event with no instance. Its payload is
//! what the plugin contract (`wit/`, record `system-notice`) gives it: one
//! `message`, a sentence that starts with what happened (`plugin loaded: ...`).
//! On `/ws` it is the frame `{"event":"system","timestamp","data":{"message"}}`.
//!
//! The host publishes the `/ws` frame itself, as it does for `plugin.error`
//! (see [`crate::websocket::plugin_errors`]), rather than leaving it to the
//! websocket plugin: the plugin being reloaded or disabled may be that output
//! itself, and at shutdown the frame must be queued before the connections
//! are closed. The websocket plugin's manifest therefore leaves `system` out.
//! The event then goes on the bus, to in-process subscribers and through the
//! plugin chain, so plugins subscribed to `system` see it too.

use std::sync::Arc;

use crate::events::{Bus, Event, EventKind, new_event, sudevwa};
use crate::websocket::{Channel, Hub};

/// What happened. Add a case for a new kind of notice; its message says it in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemNotice {
    /// The server stops: WebSocket connections are about to close (1001).
    ShuttingDown,
    /// A plugin joined: at start-up, installed, or its files appeared.
    PluginLoaded {
        plugin: String,
        version: String,
    },
    /// A running plugin was replaced by a new build (hot reload or upload).
    PluginReplaced {
        plugin: String,
        version: String,
    },
    /// A plugin's files are gone (deleted through the API or from the directory).
    PluginRemoved {
        plugin: String,
    },
    PluginEnabled {
        plugin: String,
    },
    PluginDisabled {
        plugin: String,
    },
    /// A built-in output keeps failing (it is never quarantined): its
    /// webhooks or frames of the failed events are lost. Raised for the
    /// first failure, then at most once a minute while they go on.
    BuiltinPluginFailing {
        plugin: String,
        error: String,
        /// Its failures since the server started.
        failures: u64,
    },
    /// A webhook delivery used its last attempt and is `failed` (until
    /// `POST /api/deliveries/{id}/retry`).
    DeliveryFailed {
        delivery: String,
        event: String,
        /// The receiver's host only: a URL's path and query may carry secrets.
        host: String,
        error: String,
    },
}

impl SystemNotice {
    /// A stable snake_case name for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            SystemNotice::ShuttingDown => "shutting_down",
            SystemNotice::PluginLoaded { .. } => "plugin_loaded",
            SystemNotice::PluginReplaced { .. } => "plugin_replaced",
            SystemNotice::PluginRemoved { .. } => "plugin_removed",
            SystemNotice::PluginEnabled { .. } => "plugin_enabled",
            SystemNotice::PluginDisabled { .. } => "plugin_disabled",
            SystemNotice::BuiltinPluginFailing { .. } => "builtin_plugin_failing",
            SystemNotice::DeliveryFailed { .. } => "delivery_failed",
        }
    }

    /// The event's `message`.
    pub fn message(&self) -> String {
        match self {
            SystemNotice::ShuttingDown => "server shutting down".to_owned(),
            SystemNotice::PluginLoaded { plugin, version } => format!("plugin loaded: {plugin} {version}"),
            SystemNotice::PluginReplaced { plugin, version } => format!("plugin reloaded: {plugin} {version}"),
            SystemNotice::PluginRemoved { plugin } => format!("plugin removed: {plugin}"),
            SystemNotice::PluginEnabled { plugin } => format!("plugin enabled: {plugin}"),
            SystemNotice::PluginDisabled { plugin } => format!("plugin disabled: {plugin}"),
            SystemNotice::BuiltinPluginFailing {
                plugin,
                error,
                failures,
            } => format!("built-in plugin failing: {plugin}: {error} ({failures} failures so far)"),
            SystemNotice::DeliveryFailed {
                delivery,
                event,
                host,
                error,
            } => {
                format!("webhook delivery failed: {delivery} (event {event}) to {host}: {error}")
            }
        }
    }
}

/// Emits `system` events. Cheap to clone.
#[derive(Clone)]
pub struct SystemEvents {
    bus: Bus,
    hub: Hub,
}

impl SystemEvents {
    pub fn new(bus: Bus, hub: Hub) -> SystemEvents {
        SystemEvents { bus, hub }
    }

    /// The bus the events go on (other server-wide reports share it).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Emits `notice`. When this returns its `/ws` frame is queued on every
    /// open connection and the bus's subscribers have it; the plugins get it
    /// from a task (a full plugin queue makes that task wait, not the
    /// caller). Needs a tokio runtime.
    pub fn emit(&self, notice: SystemNotice) -> Arc<Event> {
        let event = self.announce(notice);
        let (bus, dispatched) = (self.bus.clone(), event.clone());
        tokio::spawn(async move { bus.dispatch(dispatched).await });
        event
    }

    /// Emits `notice` to `/ws` and the bus's subscribers only, not through
    /// the plugins. For notices about the outputs themselves: a failed
    /// webhook delivery reported through the webhook plugin could queue a
    /// delivery to the same failing receiver, and so on without end.
    pub fn announce(&self, notice: SystemNotice) -> Arc<Event> {
        let event = Arc::new(new_event(
            "",
            EventKind::System {
                message: notice.message(),
            },
        ));
        tracing::debug!(kind = notice.kind(), id = %event.id, "system event");
        if let Some(frame) = sudevwa::to_vec(&event).and_then(|bytes| String::from_utf8(bytes).ok()) {
            self.hub.publish(&Channel::Global, Arc::from(frame));
        }
        self.bus.broadcast(event.clone());
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::HubSettings;

    #[tokio::test]
    async fn a_notice_is_queued_on_ws_and_published_on_the_bus() {
        let (bus, hub) = (Bus::new(), Hub::new(HubSettings::default()));
        let mut events = bus.subscribe();
        let mut ws = hub.register(Channel::Global).unwrap();
        let emitted = SystemEvents::new(bus, hub).emit(SystemNotice::PluginLoaded {
            plugin: "echo".into(),
            version: "1.2.0".into(),
        });
        let frame: serde_json::Value =
            serde_json::from_str(&ws.frames.try_recv().expect("queued before emit returns")).unwrap();
        assert_eq!(frame["event"], "system");
        assert_eq!(
            frame["data"],
            serde_json::json!({ "message": "plugin loaded: echo 1.2.0" })
        );
        let event = events.recv().await.unwrap();
        assert_eq!(
            (event.id.as_str(), event.instance_id.as_str()),
            (emitted.id.as_str(), "")
        );
    }
}
