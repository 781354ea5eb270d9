//! The driver's side of polls: what a contact got when the instance sent a
//! poll (the simulated network's record on the sim engine, the decrypted
//! poll creation message on the real one), and a contact's vote on it (the
//! `/sim/.../poll-vote` route on the sim engine; on the real one, a vote
//! encrypted under the poll's secret, as a phone sends it).

use serde_json::{Value, json};
use wasap_whatsapp_sim::{ReceivedMessage, ReceivedPoll};
use whatsapp_rust::waproto::whatsapp as wa;

use super::Driver;
use crate::WAIT;

/// A poll as its recipient got it, the same on both engines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollSent {
    /// The poll message's id.
    pub id: String,
    pub name: String,
    pub options: Vec<String>,
    pub selectable_count: u32,
}

impl PollSent {
    fn of_record(record: &Value) -> Option<PollSent> {
        if record["kind"] != "poll" {
            return None;
        }
        let poll = &record["poll"];
        Some(PollSent {
            id: record["message_id"].as_str()?.to_owned(),
            name: poll["name"].as_str()?.to_owned(),
            options: poll["options"]
                .as_array()?
                .iter()
                .filter_map(|o| o.as_str().map(str::to_owned))
                .collect(),
            selectable_count: u32::try_from(poll["selectable_count"].as_u64()?).ok()?,
        })
    }

    fn of_received(received: &ReceivedPoll) -> PollSent {
        PollSent {
            id: received.id.clone(),
            name: received.name.clone(),
            options: received.options.clone(),
            selectable_count: received.selectable_count,
        }
    }
}

/// Whether a decrypted message is a poll (its id is not in the message itself).
fn is_poll(message: &wa::Message) -> Option<()> {
    (message.poll_creation_message_v3.is_set() || message.poll_creation_message.is_set()).then_some(())
}

impl Driver {
    /// The polls contact `to` got from the instance, in order, once there
    /// are at least `min`.
    pub async fn polls_sent_to(&self, to: &str, min: usize) -> Vec<PollSent> {
        match &self.simulator {
            None => self.sent_to_as(to, min, PollSent::of_record, |_| None).await,
            Some(simulator) => {
                // The decrypted message does not carry its own id: wait, then read the inbox.
                self.sent_to_as(to, min, |_| None, is_poll).await;
                simulator
                    .contact(to)
                    .received()
                    .iter()
                    .filter_map(ReceivedPoll::of)
                    .map(|poll| PollSent::of_received(&poll))
                    .collect()
            }
        }
    }

    /// On the real engine, the poll `poll_id` as contact `to` received it
    /// (its secret and its creator included).
    pub fn received_poll(&self, to: &str, poll_id: &str) -> Option<ReceivedPoll> {
        let simulator = self.simulator.as_ref()?;
        simulator
            .contact(to)
            .received()
            .iter()
            .filter(|m: &&ReceivedMessage| m.id == poll_id)
            .find_map(ReceivedPoll::of)
    }

    /// Contact `from` (named `push_name`) votes on the instance's poll
    /// `poll_id` for `options` (none: withdraws its vote); the vote's id.
    pub async fn vote(&self, from: &str, push_name: &str, poll_id: &str, options: &[&str]) -> String {
        match &self.simulator {
            None => {
                let body = json!({ "from": from, "push_name": push_name, "poll_id": poll_id, "options": options });
                let (status, answer) = self.api.post(&self.route("poll-vote"), body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
                answer["message_id"].as_str().expect("the vote's id").to_owned()
            }
            Some(simulator) => {
                let contact = simulator.contact(from);
                contact.set_push_name(push_name);
                let poll = match self.received_poll(from, poll_id) {
                    Some(poll) => poll,
                    None => {
                        contact
                            .wait_received(WAIT, |m| m.id == poll_id)
                            .await
                            .unwrap_or_else(|e| panic!("{from} never got poll {poll_id}: {e}"));
                        self.received_poll(from, poll_id).expect("a poll")
                    }
                };
                contact.vote(&poll, options).await.expect("the contact votes")
            }
        }
    }

    /// Contact `from` votes on a poll `poll_id` the instance never sent (on
    /// the real engine, encrypted under a secret the instance never had); the
    /// vote's id.
    pub async fn vote_on_unknown_poll(&self, from: &str, push_name: &str, poll_id: &str) -> String {
        match &self.simulator {
            None => self.vote(from, push_name, poll_id, &["Yes"]).await,
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(from);
                contact.set_push_name(push_name);
                let stranger = ReceivedPoll {
                    id: poll_id.to_owned(),
                    creator: format!("{user}@s.whatsapp.net"),
                    name: "Unknown".to_owned(),
                    options: vec!["Yes".to_owned()],
                    selectable_count: 1,
                    version: "v3",
                    secret: vec![7; 32],
                };
                contact.vote(&stranger, &["Yes"]).await.expect("the contact votes")
            }
        }
    }
}
