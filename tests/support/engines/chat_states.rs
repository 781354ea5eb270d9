//! The driver's side of contacts' chat states: a contact types, records a
//! voice note or stops, in its chat with the instance or in a group. On the
//! sim engine through `/sim/instances/{id}/chat-state`; on the real engine the
//! contact's `<chatstate>` stanza reaches the instance's device as WhatsApp
//! relays it (`wasap_whatsapp_sim::Contact::send_chat_state`).

use serde_json::json;
use wasap_whatsapp_sim::ChatStateKind;

use super::Driver;

impl Driver {
    /// Contact `from` (a phone number) shows `state` (`typing`, `recording`
    /// or `paused`) in its chat with the instance, or in `group` (`…@g.us`).
    pub async fn chat_state_from(&self, from: &str, state: &str, group: Option<&str>) {
        match &self.simulator {
            None => {
                let mut body = json!({ "from": from, "state": state });
                if let Some(group) = group {
                    body["group"] = json!(group);
                }
                let (status, answer) = self.api.post(&self.route("chat-state"), body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
                assert_eq!(answer, json!({ "shown": true }));
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let kind = match state {
                    "typing" => ChatStateKind::Typing,
                    "recording" => ChatStateKind::Recording,
                    "paused" => ChatStateKind::Paused,
                    other => panic!("no chat state {other:?}"),
                };
                simulator
                    .contact(from)
                    .send_chat_state(&user, kind, group)
                    .expect("the contact shows its chat state");
            }
        }
    }
}
