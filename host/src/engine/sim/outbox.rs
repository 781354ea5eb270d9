//! How the simulated network takes what a session sends: a message sent
//! again with the id it already went with is taken once; a new one is
//! answered once its record is durable (`sent_log.rs`), so what a crash of
//! the server interrupts was either taken or not; and while the instance's
//! sends are held (`held_sends.rs`) a message's answer waits for the release.

use super::network::SentRecord;
use super::session::SimSession;
use crate::engine::{EngineError, SentMessage};

impl SimSession {
    /// The network takes `record`, sent to `to`, and answers the sender.
    pub(super) async fn accept(&self, to: &str, record: SentRecord) -> Result<SentMessage, EngineError> {
        let message_id = record.message_id.clone();
        let acknowledged = acknowledged_as_message(record.kind);
        // A message sent again with the id it went with (the send queue,
        // after a crash) is taken once, as WhatsApp dedupes ids; the record
        // outlives restarts (`sent_log.rs`).
        let repeated = crate::engine::chosen_id::chosen()
            .is_some_and(|id| id == message_id && self.network.has_sent(&self.instance_id, &message_id));
        if !repeated {
            self.network
                .record_sent(&self.instance_id, record)
                .durable()
                .await
                .map_err(|e| EngineError::Protocol(e.to_string()))?;
        }
        if acknowledged {
            // Taken (durably) either way: only the answer waits.
            self.network.holds().answer(&self.instance_id).await;
        }
        Ok(SentMessage {
            lid: self.network.lid_of(to),
            ..SentMessage::now(message_id, to)
        })
    }
}

/// Whether WhatsApp's server answers a record of this kind with a message's
/// ack, the answer a hold withholds: not a read receipt, a chat state or an
/// app state change (delete for me), which travel otherwise.
fn acknowledged_as_message(kind: &str) -> bool {
    !matches!(kind, "read" | "chat_state" | "delete_for_me")
}
