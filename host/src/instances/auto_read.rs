//! Auto-read, a per-instance setting (off by default): every message that
//! comes in from someone else is marked read once it is journalled, the way
//! a phone left open on the chat would.
//!
//! The instance's inbound sink is wrapped ([`AutoRead::wrap`]): after the
//! journal has taken a hand-over, its messages (not receipts or other
//! events, not the account's own messages, not reactions, edits or
//! deletions, which WhatsApp does not receipt) go to a task of the
//! instance's that sends the read receipts through the live session's
//! [`Session::mark_read`], one per chat, as `POST /api/messages/{id}/read`
//! does. Receipts are best-effort: the queue to the task is bounded, and
//! what finds it full, or finds the instance offline, is not marked read
//! (the messages stay unread, as they would with the setting off).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::shared::SharedState;
use crate::engine::{InboundClosed, InboundEvent, InboundSink, MessageRef};
use crate::events::{Content, EventKind};

/// Hand-overs whose read receipts may wait for the instance's task.
const QUEUE: usize = 256;

/// One instance's auto-read switch and the queue to its receipt task.
pub(crate) struct AutoRead {
    on: AtomicBool,
    reads: mpsc::Sender<Vec<MessageRef>>,
}

impl AutoRead {
    /// The switch, set to `on`, and the task that sends the receipts
    /// through `shared`'s live session; the task ends with the last clone.
    pub(crate) fn start(instance_id: &str, on: bool, shared: Arc<SharedState>) -> Arc<AutoRead> {
        let (reads, queue) = mpsc::channel(QUEUE);
        let span = tracing::error_span!("auto_read", instance = %instance_id);
        tokio::spawn(tracing::Instrument::instrument(send_receipts(queue, shared), span));
        Arc::new(AutoRead {
            on: AtomicBool::new(on),
            reads,
        })
    }

    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self, on: bool) {
        self.on.store(on, Ordering::Release);
    }

    /// `sink`, with the messages of what it journals marked read while the
    /// switch is on.
    pub(crate) fn wrap(self: &Arc<Self>, sink: Arc<dyn InboundSink>) -> Arc<dyn InboundSink> {
        Arc::new(Sink {
            inner: sink,
            auto_read: self.clone(),
        })
    }
}

/// The instance's inbound sink, marking read what it journalled.
struct Sink {
    inner: Arc<dyn InboundSink>,
    auto_read: Arc<AutoRead>,
}

#[async_trait]
impl InboundSink for Sink {
    async fn accept(&self, events: Vec<InboundEvent>) -> Result<(), InboundClosed> {
        let to_read: Vec<MessageRef> = if self.auto_read.is_on() {
            events.iter().filter_map(|event| to_read(&event.kind)).collect()
        } else {
            Vec::new()
        };
        self.inner.accept(events).await?;
        // Journalled: now they may be reported read.
        if !to_read.is_empty() && self.auto_read.reads.try_send(to_read).is_err() {
            tracing::warn!("too many read receipts waiting; these messages are left unread");
        }
        Ok(())
    }

    /// Chat states are not messages: nothing to mark read.
    async fn pass_on(&self, kind: EventKind) {
        self.inner.pass_on(kind).await;
    }

    fn holding(&self, change: isize) {
        self.inner.holding(change);
    }
}

/// The message `kind` is, when it is one to mark read: from someone else,
/// and one a chat shows (a reaction, an edit or a deletion is not).
fn to_read(kind: &EventKind) -> Option<MessageRef> {
    let EventKind::Message(message) = kind else { return None };
    let shown = !matches!(
        message.content,
        Content::Reaction { .. } | Content::Revoked { .. } | Content::Edited { .. } | Content::DeletedForMe { .. }
    );
    (shown && !message.from_me).then(|| MessageRef {
        chat: message.chat.clone(),
        id: message.id.clone(),
        from_me: false,
        sender: Some(message.sender.clone()),
    })
}

/// Sends the read receipts of what arrives on `queue`, one per chat, until
/// every sender is gone.
async fn send_receipts(mut queue: mpsc::Receiver<Vec<MessageRef>>, shared: Arc<SharedState>) {
    while let Some(messages) = queue.recv().await {
        let Some(session) = shared.online_session() else {
            tracing::debug!(messages = messages.len(), "offline; incoming messages left unread");
            continue;
        };
        let mut by_chat: BTreeMap<String, Vec<MessageRef>> = BTreeMap::new();
        for message in messages {
            by_chat.entry(message.chat.clone()).or_default().push(message);
        }
        for messages in by_chat.values() {
            if let Err(e) = session.mark_read(messages).await {
                tracing::warn!(error = %e, "cannot mark incoming messages read");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Message;

    fn message(from_me: bool, content: Content) -> EventKind {
        EventKind::Message(Message {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: "3EB0A1".to_owned(),
            chat: "120363402106000000@g.us".to_owned(),
            sender: "6281234567890@s.whatsapp.net".to_owned(),
            push_name: None,
            from_me,
            is_group: true,
            timestamp: 1_700_000_000,
            content,
            quoted: None,
            forwarded: false,
            view_once: false,
            ephemeral: None,
        })
    }

    #[test]
    fn only_messages_from_others_that_a_chat_shows_are_read() {
        let text = || Content::Text { text: "hi".to_owned() };
        assert_eq!(
            to_read(&message(false, text())),
            Some(MessageRef {
                chat: "120363402106000000@g.us".to_owned(),
                id: "3EB0A1".to_owned(),
                from_me: false,
                sender: Some("6281234567890@s.whatsapp.net".to_owned()),
            })
        );
        assert_eq!(to_read(&message(true, text())), None, "the account's own");
        let reaction = Content::Reaction {
            emoji: "👍".to_owned(),
            target_id: "X".to_owned(),
        };
        assert_eq!(to_read(&message(false, reaction)), None);
    }
}
