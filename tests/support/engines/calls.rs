//! The driver's side of calls and of a deaf connection: a contact calls the
//! instance, hangs up or lets it ring out, and sees whether the instance
//! declined; WhatsApp's side of the instance's connection goes silent. On
//! the sim engine through `/sim/instances/{id}/call`, `/hang-up`, `/silence`
//! and the `call_reject` records of `/sent`; on the real engine the contact's
//! `<call>` stanzas reach the instance's device as WhatsApp sends them, and
//! its `<call><reject/></call>` is what the simulator records
//! (`wasap_whatsapp_sim::calls`).

use serde_json::{Value, json};

use super::Driver;
use crate::WAIT;

/// A call the instance declined, as the caller's side saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRejected {
    pub call_id: String,
    /// Whom the reject went to: the caller's phone number.
    pub caller: String,
}

impl Driver {
    /// Contact `from` (a phone number, named `push_name`) calls the instance;
    /// returns once the offer is with the instance (on the sim engine, once it
    /// is journalled), with the call's id.
    pub async fn call_from(&self, from: &str, push_name: &str, video: bool) -> String {
        match &self.simulator {
            None => {
                let body = json!({ "from": from, "video": video });
                let (status, answer) = self.api.post(&self.route("call"), body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
                answer["call_id"].as_str().expect("the call id").to_owned()
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(from);
                contact.set_push_name(push_name);
                contact.call(&user, video).expect("the contact calls")
            }
        }
    }

    /// Contact `from` stops calling: it hangs up (`timeout` false) or the
    /// call rings out (`timeout` true).
    pub async fn end_call(&self, from: &str, call_id: &str, timeout: bool) {
        match &self.simulator {
            None => {
                let reason = if timeout { "timeout" } else { "hung_up" };
                let body = json!({ "call_id": call_id, "reason": reason });
                let (status, answer) = self.api.post(&self.route("hang-up"), body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                simulator
                    .contact(from)
                    .end_call(&user, call_id, timeout.then_some("timeout"))
                    .expect("the contact ends the call");
            }
        }
    }

    /// The calls the instance declined, once there are at least `min`
    /// (waiting up to [`WAIT`]).
    pub async fn rejected_calls(&self, min: usize) -> Vec<CallRejected> {
        match &self.simulator {
            None => {
                let deadline = tokio::time::Instant::now() + WAIT;
                loop {
                    let (status, body) = self.api.get(&self.route("sent")).await;
                    assert_eq!(status, 200, "{body}");
                    let rejects: Vec<CallRejected> = body["messages"]
                        .as_array()
                        .expect("the sent records")
                        .iter()
                        .filter(|m| m["kind"] == "call_reject")
                        .map(|m: &Value| CallRejected {
                            call_id: m["target_id"].as_str().unwrap_or_default().to_owned(),
                            caller: phone(m["to"].as_str().unwrap_or_default()),
                        })
                        .collect();
                    if rejects.len() >= min {
                        return rejects;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "{min} rejected calls: {body}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
            Some(simulator) => simulator
                .wait_call_rejects(WAIT, min)
                .await
                .unwrap_or_else(|e| panic!("{e}: {:#?}", simulator.call_rejects()))
                .into_iter()
                .map(|reject| CallRejected {
                    call_id: reject.call_id,
                    caller: phone(&reject.to),
                })
                .collect(),
        }
    }

    /// WhatsApp's side of the instance's connection goes silent: it stays
    /// open, but nothing comes over it any more.
    pub async fn go_silent(&self) {
        match &self.simulator {
            None => {
                let (status, answer) = self.api.post_empty(&self.route("silence")).await;
                assert_eq!(status, 200, "{answer}");
            }
            Some(simulator) => {
                let (user, device) = self.linked_device().await;
                assert!(simulator.go_deaf(&user, device), "{user}:{device} was not connected");
            }
        }
    }
}

/// The phone number of a JID (`6281…:3@s.whatsapp.net` → `6281…`).
fn phone(jid: &str) -> String {
    let user = jid.split('@').next().unwrap_or_default();
    user.split(':').next().unwrap_or(user).to_owned()
}
