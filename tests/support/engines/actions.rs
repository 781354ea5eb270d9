//! The driver's side of message actions: what a contact got when the
//! instance reacted to, edited or revoked a message, read its messages or
//! showed a chat state. On the sim engine, the simulated network's record
//! (`/sim/instances/{id}/sent`); on the real engine, what the contact
//! decrypted or the simulator received, waited for.

use serde_json::Value;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::waproto::whatsapp::message::protocol_message::Type as ProtocolType;

use super::Driver;
use crate::WAIT;

/// A message action as its recipient got it, the same on both engines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSent {
    /// A reaction to `target_id`; an empty `emoji` withdraws it.
    Reaction { target_id: String, emoji: String },
    /// `target_id`'s new text.
    Edit { target_id: String, text: String },
    /// `target_id` deleted for everyone.
    Revoke { target_id: String },
}

impl ActionSent {
    /// The action a decrypted message carries, if it is one.
    fn of(message: &wa::Message) -> Option<ActionSent> {
        if let Some(reaction) = message.reaction_message.as_option() {
            return Some(ActionSent::Reaction {
                target_id: reaction.key.as_option()?.id.clone()?,
                emoji: reaction.text.clone().unwrap_or_default(),
            });
        }
        let protocol = message.protocol_message.as_option()?;
        let target_id = protocol.key.as_option()?.id.clone()?;
        match protocol.r#type? {
            ProtocolType::MESSAGE_EDIT => {
                let edited = protocol.edited_message.as_option()?;
                let text = edited
                    .conversation
                    .clone()
                    .or_else(|| edited.extended_text_message.as_option()?.text.clone())?;
                Some(ActionSent::Edit { target_id, text })
            }
            ProtocolType::REVOKE => Some(ActionSent::Revoke { target_id }),
            _ => None,
        }
    }

    /// The action in a `/sim/.../sent` record, if it is one.
    fn of_record(record: &Value) -> Option<ActionSent> {
        let text = |field: &str| record[field].as_str().map(str::to_owned);
        match record["kind"].as_str()? {
            "reaction" => Some(ActionSent::Reaction {
                target_id: text("target_id")?,
                emoji: text("emoji")?,
            }),
            "edit" => Some(ActionSent::Edit {
                target_id: text("target_id")?,
                text: text("text")?,
            }),
            "revoke" => Some(ActionSent::Revoke {
                target_id: text("target_id")?,
            }),
            _ => None,
        }
    }
}

impl Driver {
    /// What the simulated network recorded of the instance's sends
    /// (messages, receipts, chat states), at once: a sim engine's send has
    /// landed when its route answered.
    pub(super) async fn sim_records(&self) -> Vec<Value> {
        let (status, body) = self.api.get(&self.route("sent")).await;
        assert_eq!(status, 200, "{body}");
        body["messages"].as_array().expect("the sent records").clone()
    }

    /// What contact `to` got from the instance that `of_record` (reading a
    /// sim engine's record) and `of_message` (reading a decrypted message)
    /// recognise, in order, once there are at least `min` (waiting up to
    /// [`WAIT`] on the real engine, where a send lands after its route
    /// answered).
    pub(super) async fn sent_to_as<T: std::fmt::Debug>(
        &self,
        to: &str,
        min: usize,
        of_record: impl Fn(&Value) -> Option<T>,
        of_message: impl Fn(&wa::Message) -> Option<T>,
    ) -> Vec<T> {
        let got: Vec<T> = match &self.simulator {
            None => {
                let to_jid = format!("{to}@s.whatsapp.net");
                self.sim_records()
                    .await
                    .iter()
                    .filter(|r| r["to"] == to_jid.as_str())
                    .filter_map(of_record)
                    .collect()
            }
            Some(simulator) => {
                let contact = simulator.contact(to);
                contact
                    .wait_received_matching(min, WAIT, |m| of_message(&m.message).is_some())
                    .await
                    .unwrap_or_else(|e| panic!("{to}: {e}; received {:#?}", contact.received()))
                    .iter()
                    .filter_map(|m| of_message(&m.message))
                    .collect()
            }
        };
        assert!(got.len() >= min, "{min} such messages for {to}, got {got:?}");
        got
    }

    /// The reactions, edits and revocations contact `to` got from the
    /// instance, in order, once there are at least `min` of them.
    pub async fn actions_sent_to(&self, to: &str, min: usize) -> Vec<ActionSent> {
        self.sent_to_as(to, min, ActionSent::of_record, ActionSent::of).await
    }

    /// Waits until the instance told contact `from` that its messages `ids`
    /// were read (one receipt for them all).
    pub async fn wait_read(&self, from: &str, ids: &[&str]) {
        match &self.simulator {
            None => {
                // A read the server sends on its own (auto-read) is recorded
                // once the simulated network has committed it: poll until then.
                let from_jid = format!("{from}@s.whatsapp.net");
                let deadline = tokio::time::Instant::now() + WAIT;
                loop {
                    let found = self.sim_records().await.iter().any(|r| {
                        r["kind"] == "read" && r["to"] == from_jid.as_str() && r["read_ids"] == serde_json::json!(ids)
                    });
                    if found {
                        break;
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "a read receipt to {from} for {ids:?}"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            Some(simulator) => {
                simulator
                    .contact(from)
                    .wait_receipt(WAIT, |r| r.kind == "read" && r.ids == ids)
                    .await
                    .unwrap_or_else(|e| panic!("a read receipt to {from} for {ids:?}: {e}"));
            }
        }
    }

    /// Waits until the instance showed chat state `state` (`typing`,
    /// `recording`, `paused`) in its chat with `to`.
    pub async fn wait_chat_state(&self, to: &str, state: &str) {
        let to_jid = format!("{to}@s.whatsapp.net");
        match &self.simulator {
            None => {
                let found = self
                    .sim_records()
                    .await
                    .iter()
                    .any(|r| r["kind"] == "chat_state" && r["to"] == to_jid.as_str() && r["state"] == state);
                assert!(found, "chat state {state} shown to {to}");
            }
            Some(simulator) => {
                // WhatsApp's word for typing is `composing`.
                let wire = if state == "typing" { "composing" } else { state };
                simulator
                    .wait_presence(WAIT, |p| p.kind == wire && p.to.as_deref() == Some(to_jid.as_str()))
                    .await
                    .unwrap_or_else(|e| panic!("chat state {state} shown to {to}: {e}"));
            }
        }
    }
}
