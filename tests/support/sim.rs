//! A typed driver of WhatsApp's side of a test: what a contact sends an instance,
//! what WhatsApp received from it, and pairing, through the sim engine's control
//! routes (`/sim/instances/{id}/...`, docs/API.md).
//!
//! Tests play WhatsApp through this driver rather than through raw routes, so the
//! driver is the one place that knows how the simulated network is reached.

use serde_json::{Value, json};

use crate::child_server::ChildServer;
use crate::{Api, TestServer};

/// WhatsApp's side of instance `id` on `server`.
pub struct Sim {
    api: Api,
    id: String,
}

impl TestServer {
    /// The simulated network as instance `id` sees it.
    pub fn sim(&self, id: &str) -> Sim {
        Sim {
            api: self.admin(),
            id: id.to_owned(),
        }
    }
}

impl Sim {
    fn route(&self, tail: &str) -> String {
        format!("/sim/instances/{}/{tail}", self.id)
    }

    /// A contact sends `message` (any message kind of docs/API.md's `/sim/.../incoming`);
    /// the message's id.
    pub async fn incoming(&self, message: Value) -> String {
        let (status, answer) = self.api.post(&self.route("incoming"), message.clone()).await;
        assert_eq!(status, 200, "{message} → {answer}");
        answer["message_id"]
            .as_str()
            .expect("the incoming message's id")
            .to_owned()
    }

    /// Contact `from` sends the text `text`; the message's id.
    pub async fn text(&self, from: &str, text: &str) -> String {
        self.incoming(json!({ "from": from, "text": text })).await
    }

    /// The phone scans the instance's QR code as `phone`.
    pub async fn scan(&self, phone: &str) {
        let (status, answer) = self.api.post(&self.route("scan"), json!({ "phone": phone })).await;
        assert_eq!(status, 200, "{answer}");
    }

    /// The messages WhatsApp received from the instance, once there are at least `min`
    /// (waiting up to 10 s).
    pub async fn sent(&self, min: usize) -> Vec<Value> {
        let (status, body) = self
            .api
            .get(&self.route(&format!("sent?min={min}&wait_ms=10000")))
            .await;
        assert_eq!(status, 200, "{body}");
        body["messages"].as_array().expect("the sent messages").clone()
    }

    /// The texts among [`Sim::sent`].
    pub async fn sent_texts(&self, min: usize) -> Vec<String> {
        self.sent(min)
            .await
            .iter()
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect()
    }
}

impl ChildServer {
    /// The simulated network as instance `id` of the child server sees it.
    pub fn sim(&self, id: &str) -> Sim {
        Sim {
            api: self.admin(),
            id: id.to_owned(),
        }
    }
}
