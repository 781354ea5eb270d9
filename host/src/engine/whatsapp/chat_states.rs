//! Contacts' chat states (typing, recording, paused), from whatsapp-rust's
//! `Event::ChatPresence` to [`InboundSink::pass_on`].
//!
//! They skip the bridge's queue and the journal: WhatsApp does not want them
//! acknowledged, and one that waited behind a slow journal would be stale
//! when it came out. They wait in a small queue of their own, drained by one
//! task per session in order (a "typing" never overtakes the "paused" after
//! it); when that queue is full they are dropped, which loses nothing a
//! receiver could still use. The task names the chat and the sender by phone
//! number where the client knows the LID's number, as for receipts.

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;
use tracing::debug;
use whatsapp_rust::types::events::ChatPresenceUpdate;

use super::bridge::Shared;
use crate::engine::InboundSink;
use crate::events::EventKind;
use crate::events::from_whatsapp;

/// Chat states waiting for the task per session; more are dropped.
const WAITING: usize = 64;

/// One session's chat states on their way out.
pub(super) struct ChatStates {
    shared: Arc<Shared>,
    inbound: Arc<dyn InboundSink>,
    /// Started with the first chat state, on the runtime the client runs on.
    queue: OnceLock<mpsc::Sender<EventKind>>,
}

impl ChatStates {
    pub(super) fn new(shared: Arc<Shared>, inbound: Arc<dyn InboundSink>) -> ChatStates {
        ChatStates {
            shared,
            inbound,
            queue: OnceLock::new(),
        }
    }

    /// Converts `update` and queues it; never waits (the client's dispatch
    /// path calls this inline).
    pub(super) fn push(&self, update: &ChatPresenceUpdate) {
        let kind = from_whatsapp::chat_state(update, crate::clock::now_secs());
        let queue = self.queue.get_or_init(|| self.start());
        if queue.try_send(kind).is_err() {
            debug!(instance = %self.shared.instance_id, "a chat state was dropped: too many waiting");
        }
    }

    /// The queue, and the task that drains it until the session's bridge
    /// (which owns the sending side) is gone. Without a runtime (a unit test)
    /// nothing drains it, and what is pushed is dropped.
    fn start(&self) -> mpsc::Sender<EventKind> {
        let (queue, mut waiting) = mpsc::channel(WAITING);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = self.shared.clone();
            let inbound = self.inbound.clone();
            runtime.spawn(async move {
                while let Some(mut kind) = waiting.recv().await {
                    if let Some(client) = shared.client() {
                        crate::engine::lids::complete(&mut kind, &super::lid_book::ClientBook(&client)).await;
                    }
                    inbound.pass_on(kind).await;
                }
            });
        }
        queue
    }
}
