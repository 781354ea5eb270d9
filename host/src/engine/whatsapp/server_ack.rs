//! WhatsApp's ack of a queued message. whatsapp-rust answers a send once the
//! stanza is on the socket, before WhatsApp's server has read it, and never
//! reports the server's `<ack class="message" id=…>` (a refusal, `error=…`,
//! included) to the caller. A message the send queue sends goes with the id
//! the queue committed before it (`crate::engine::chosen_id`): it counts as
//! taken only once the server acknowledges that id, so a connection lost on
//! the way, or a refusal, leaves the job to go again with the same id (which
//! WhatsApp takes once) instead of marking it sent unseen.

use std::future::Future;

use tokio::time::Instant;
use whatsapp_rust::{Client, NodeFilter};

use crate::engine::EngineError;

/// Starts listening for the server's ack of message `id`; registered before
/// the send, as the ack can arrive before the send call returns.
pub(super) fn expect(client: &Client, id: &str) -> impl Future<Output = Result<(), EngineError>> + use<> {
    let ack = client.wait_for_node(NodeFilter::tag("ack").attr("class", "message").attr("id", id));
    async move {
        let ack = ack.await.map_err(|_| EngineError::NotConnected)?;
        match ack.get_attr("error") {
            None => Ok(()),
            Some(code) => Err(EngineError::Protocol(format!(
                "WhatsApp refused the message (error {})",
                code.as_str()
            ))),
        }
    }
}

/// Waits for `ack` ([`expect`]) until `deadline`.
pub(super) async fn by(
    deadline: Instant,
    ack: impl Future<Output = Result<(), EngineError>>,
) -> Result<(), EngineError> {
    tokio::time::timeout_at(deadline, ack)
        .await
        .map_err(|_| EngineError::Timeout)?
}
