//! The inbound durability hook: WhatsApp gets its ack for a message only once
//! the instance's journal has it.
//!
//! whatsapp-rust acknowledges a decrypted message as soon as it has it,
//! unless a durability hook is registered: then it keeps the decrypted batch
//! in its pending-inbound buffer (our device store), awaits the hook, and
//! acknowledges only when the hook returns `Ok`. On `Err`, or a crash, the
//! message stays unacknowledged and WhatsApp delivers it again; the client
//! replays it from the buffer, and the journal, which knows the event by its
//! key, keeps one entry. The hook persists and returns: it never sends
//! anything through the client (a reply would wait for the per-sender lock
//! the client holds while it runs), and it never waits for the plugin chain
//! (the journal is the queue behind it), only for the journal write.
//!
//! Messages the hook does not see (newsletters, placeholder recoveries) are
//! acknowledged by the client on their own path and reach the bridge as
//! uncommitted batches; receipts, group changes and delete-for-me do too.

use std::sync::Arc;

use async_trait::async_trait;
use whatsapp_rust::types::events::InboundMessage;
use whatsapp_rust::{Client, InboundDurabilityHook};

use super::{inbound, poll_votes};
use crate::engine::InboundSink;
use crate::events::from_whatsapp::poll_update;

/// Journals each batch the client is about to acknowledge.
pub(super) struct JournalHook {
    pub(super) inbound: Arc<dyn InboundSink>,
    /// The instance's polls, whose votes are decrypted and tallied here.
    pub(super) polls: crate::polls::PollBook,
}

#[async_trait]
impl InboundDurabilityHook for JournalHook {
    async fn on_messages(&self, client: Arc<Client>, batch: &[InboundMessage]) -> anyhow::Result<()> {
        // Items the model does not carry (key shares, history notices) have
        // nothing to journal: the client acknowledges them with the rest.
        let mut events = Vec::with_capacity(batch.len());
        for message in batch {
            // A poll vote is read and tallied first (`poll_votes.rs`); a
            // tally that cannot be written fails the batch, which WhatsApp
            // then delivers again.
            let event = match poll_update(&message.message, &message.info) {
                Some(vote) => Some(poll_votes::event(&client, &self.polls, vote).await?),
                None => inbound::message(message, Arc::downgrade(&client)),
            };
            if let Some(mut event) = event {
                // Both names of the sender (and of the chat's contact), where
                // the message gave one and the client knows the other.
                crate::engine::lids::complete(&mut event.kind, &super::lid_book::ClientBook(&client)).await;
                events.push(event);
            }
        }
        self.inbound.accept(events).await?;
        Ok(())
    }
}
