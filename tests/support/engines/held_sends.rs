//! WhatsApp holding back its answers to an instance's sends, on either
//! engine, so a test can stop the server between WhatsApp taking a message
//! and wasap hearing that it did: the sim engine's
//! `/sim/instances/{id}/hold-sends` (the answer waits once the message's
//! record is committed), or the loopback simulator withholding its acks of
//! the messages the instance's connection sends (the real engine counts a
//! queued message sent only at WhatsApp's ack). Either way the hold ends
//! when released, or with the server's process (its connection, for the
//! simulator): a server started again is answered as usual.

use serde_json::json;

use super::Driver;
use crate::WAIT;

impl Driver {
    /// Holds back (`true`) or releases WhatsApp's answers to the
    /// instance's message sends; each message is taken all the same.
    pub async fn hold_sends(&self, hold: bool) {
        match &self.simulator {
            None => {
                let (status, answer) = self.api.post(&self.route("hold-sends"), json!({ "hold": hold })).await;
                assert_eq!(status, 200, "{answer}");
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                simulator.hold_message_acks(&user, hold);
            }
        }
    }

    /// Waits (up to [`WAIT`]) until WhatsApp holds back its answers to at
    /// least `count` messages of the instance, each one taken (on the sim
    /// engine: its record committed).
    pub async fn wait_held_sends(&self, count: usize) {
        match &self.simulator {
            None => {
                let route = format!("hold-sends?min={count}&wait_ms={}", WAIT.as_millis());
                let (status, hold) = self.api.get(&self.route(&route)).await;
                assert_eq!(status, 200, "{hold}");
                let held = hold["held"].as_u64().unwrap_or(0);
                assert!(held >= count as u64, "{held} of {count} answers held: {hold}");
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                if let Err(e) = simulator.wait_held_message_acks(&user, count, WAIT).await {
                    panic!("{e}: {} acks held", simulator.held_message_acks(&user));
                }
            }
        }
    }
}
