//! websocket: the built-in WebSocket output.
//!
//! Every event it sees becomes one frame in the `sudevwa` shape
//! (`{"event","timestamp","data"}`, formatted by `wasap-events`, the one place that shape
//! is written) published to the channel docs/API.md gives it:
//!
//! - `/ws` (channel `global`): `qr`, `instance.status`, `instance.paired`,
//!   `instance.logged_out` (`plugin.error` and `system` the host publishes itself, see
//!   the manifest; a `system` event given to it anyway would go to `/ws` too);
//! - `/api/listen/{id}` (channel `instance(id)`): that instance's `incoming_message`,
//!   `message.undecryptable`, `message.receipt`, `group.participants` and `chat.state`.
//!
//! Events the format does not carry (reactions, edits, revocations, deletions) publish
//! nothing. The event always continues: publishing is a side effect.

use wasap_plugin::events::sudevwa;
use wasap_plugin::{Channel, Event, EventKind, Outcome, Plugin, export_plugin};

/// The plugin; it keeps no state.
pub struct WebSocketOutput;

impl Plugin for WebSocketOutput {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(WebSocketOutput)
    }

    fn handle(&mut self, event: Event) -> Outcome {
        match frame(&event) {
            Some((channel, frame)) => Outcome::cont().publish(channel, frame),
            None => Outcome::cont(),
        }
    }
}

/// The channel and frame `event` is published as, if any.
pub fn frame(event: &Event) -> Option<(Channel, String)> {
    let channel = channel(event)?;
    let bytes = sudevwa::to_vec(event)?;
    // serde_json writes UTF-8; the check costs one pass over a small frame.
    let frame = String::from_utf8(bytes).ok()?;
    Some((channel, frame))
}

/// Where each kind of event goes (docs/API.md, "WebSockets").
pub fn channel(event: &Event) -> Option<Channel> {
    match &event.kind {
        EventKind::Message(_)
        | EventKind::MessageUndecryptable(_)
        | EventKind::Receipt(_)
        | EventKind::GroupParticipants(_)
        | EventKind::GroupUpdate(_)
        | EventKind::PollVote(_)
        | EventKind::CallOffer(_)
        | EventKind::CallMissed(_)
        | EventKind::CallEnded(_)
        | EventKind::ChatState(_) => {
            // A server-wide event has no instance to listen to.
            (!event.instance_id.is_empty()).then(|| Channel::Instance(event.instance_id.clone()))
        }
        EventKind::Qr { .. }
        | EventKind::StatusChanged { .. }
        | EventKind::Paired { .. }
        | EventKind::LoggedOut { .. }
        | EventKind::Offline { .. }
        | EventKind::System { .. } => Some(Channel::Global),
        // Published by the hub straight from the event bus.
        EventKind::PluginError { .. } => None,
        // Published to /ws by the send queue itself (docs/API.md, "Send queue").
        EventKind::QueueJob(_) => None,
    }
}

export_plugin!(WebSocketOutput);

#[cfg(test)]
mod tests {
    use super::*;
    use wasap_plugin::testing;

    #[test]
    fn messages_go_to_their_instance_and_status_to_the_global_channel() {
        let mut message = testing::message_event(testing::text_message("6281234567890@s.whatsapp.net", "hi"));
        message.instance_id = "shop".to_owned();
        let (channel, frame) = frame(&message).expect("a text message is carried");
        assert_eq!(channel, Channel::Instance("shop".to_owned()));
        assert!(frame.starts_with(r#"{"event":"incoming_message""#), "{frame}");

        let mut status = message.clone();
        status.kind = EventKind::StatusChanged {
            status: wasap_plugin::InstanceStatus::Online,
            previous: wasap_plugin::InstanceStatus::Connecting,
        };
        let (channel, frame) = super::frame(&status).expect("a status change is carried");
        assert_eq!(channel, Channel::Global);
        assert!(frame.contains(r#""event":"instance.status""#), "{frame}");
    }
}
