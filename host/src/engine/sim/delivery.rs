//! Inbound traffic on a simulated session, acknowledged as WhatsApp's server
//! expects: a delivery is kept by the simulated server (`offline.rs`) until
//! wasap's journal has it, and what was not acknowledged is delivered again
//! at the next login.

use super::network::SimError;
use super::offline::Held;
use super::session::SimSession;
use crate::engine::InboundEvent;

impl SimSession {
    /// Delivers an inbound event: the simulated server keeps it, hands it
    /// over, and forgets it once wasap acknowledges it (it is journalled);
    /// returns then. Not acknowledged (the connection closed meanwhile), it is
    /// delivered again on the next connection.
    pub(super) async fn deliver(&self, mut event: InboundEvent) -> Result<(), SimError> {
        self.require_connected()
            .map_err(|_| SimError::NotConnected(self.instance_id.clone()))?;
        // Both names of every account it names, as the network knows them.
        crate::engine::lids::complete(&mut event.kind, &self.network).await;
        // The server keeps the message while it hands it over: in its
        // queue at once, in wasap's database if the ack takes longer than a
        // moment (`offline.rs`). The route answers once the journal has it,
        // so a crash loses nothing the route answered for.
        let (held, accepted) = tokio::join!(self.offline.hold(&event), self.inbound.accept(vec![event.clone()]));
        let held = match held {
            Ok(held) => Some(held),
            Err(e) => {
                tracing::warn!(instance = %self.instance_id, error = %e, "the simulated server cannot keep a message; handed over unkept");
                None
            }
        };
        self.acknowledged(held, accepted.is_ok()).await;
        Ok(())
    }

    /// Hands over an event WhatsApp neither keeps nor wants acknowledged (a
    /// chat state): nothing is held for a later connection.
    pub(super) async fn pass_on(&self, mut kind: crate::events::EventKind) -> Result<(), SimError> {
        self.require_connected()
            .map_err(|_| SimError::NotConnected(self.instance_id.clone()))?;
        crate::engine::lids::complete(&mut kind, &self.network).await;
        self.inbound.pass_on(kind).await;
        Ok(())
    }

    /// The server hears whether wasap took a delivery: it forgets a taken
    /// one, and keeps the rest for the next connection.
    async fn acknowledged(&self, held: Option<Held>, accepted: bool) {
        // An ack needs the connection it came over.
        if accepted
            && !self.is_closed()
            && let Some(held) = held
        {
            self.offline.release(held).await;
        }
    }

    /// Delivers again, in order, what the simulated server holds for the
    /// device, until done or the connection closes.
    pub(super) async fn redeliver(&self) {
        let held = match self.offline.held().await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(instance = %self.instance_id, error = %e, "cannot read the simulated server's offline queue");
                return;
            }
        };
        if !held.is_empty() {
            tracing::info!(instance = %self.instance_id, messages = held.len(), "delivering what was not acknowledged");
        }
        for (held, event) in held {
            if self.is_closed() {
                return;
            }
            let accepted = self.inbound.accept(vec![event]).await.is_ok();
            self.acknowledged(Some(held), accepted).await;
        }
    }
}
