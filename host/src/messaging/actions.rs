//! Actions on earlier messages, named by their WhatsApp id: react, edit,
//! revoke (as the sender, or as a group's admin), delete for me, mark read;
//! and chat states. The message is looked up in what the
//! instance sent and received ([`crate::store::message_keys`]), so an unknown
//! id, or an action the message does not allow, is refused before anything
//! reaches WhatsApp.

use std::collections::BTreeMap;

use super::{Messenger, SendError};
use crate::clock::now_secs;
use crate::engine::{ChatState, MessageRef, SentMessage};
use crate::store::message_keys::KnownMessage;

/// How long after sending WhatsApp lets a text be edited.
pub const EDIT_WINDOW_SECS: i64 = 15 * 60;
/// Messages one mark-read request may name.
pub const MAX_READ_IDS: usize = 100;

/// Why an action on a message was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no message {0} is known to this instance (sent or received within the journal's retention)")]
    UnknownMessage(String),
    #[error("message {0} was not sent by this account")]
    NotOwnMessage(String),
    #[error("message {id} was sent by another member of {group}, where this account is not an admin")]
    NotGroupAdmin { id: String, group: String },
    #[error("message {id} is a {kind} message; only text messages can be edited")]
    NotText { id: String, kind: String },
    #[error("message {0} was sent more than 15 minutes ago; WhatsApp no longer accepts edits of it")]
    EditWindowPassed(String),
    #[error("message {0} was sent by this account; only received messages are marked read")]
    OwnMessage(String),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("cannot look the message up: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl From<crate::instances::InstanceError> for ActionError {
    fn from(e: crate::instances::InstanceError) -> ActionError {
        ActionError::Send(e.into())
    }
}

impl From<crate::engine::EngineError> for ActionError {
    fn from(e: crate::engine::EngineError) -> ActionError {
        ActionError::Send(e.into())
    }
}

impl Messenger {
    /// Reacts to message `message_id` with `emoji` (empty: withdraws the reaction).
    pub async fn react(&self, id: &str, message_id: &str, emoji: &str) -> Result<SentMessage, ActionError> {
        let session = self.instances.session(id)?;
        let target = self.known(id, message_id).await?;
        let sent = session.react(&message_ref(&target), emoji).await?;
        self.sent(id, "reaction", &sent).await;
        Ok(sent)
    }

    /// Replaces the text of message `message_id`, a text this account sent
    /// less than [`EDIT_WINDOW_SECS`] ago.
    pub async fn edit(&self, id: &str, message_id: &str, text: &str) -> Result<SentMessage, ActionError> {
        let session = self.instances.session(id)?;
        let target = self.known(id, message_id).await?;
        if !target.from_me {
            return Err(ActionError::NotOwnMessage(target.id));
        }
        if target.kind != "text" {
            return Err(ActionError::NotText {
                id: target.id,
                kind: target.kind,
            });
        }
        if now_secs().saturating_sub(target.timestamp) > EDIT_WINDOW_SECS {
            return Err(ActionError::EditWindowPassed(target.id));
        }
        let sent = session.edit_text(&message_ref(&target), text).await?;
        // Counted, not recorded: the answer names the edited message.
        self.metrics.message_sent(id, "edit");
        Ok(sent)
    }

    /// Deletes message `message_id` for everyone: one this account sent,
    /// or, in a group where the account is an admin, another member's.
    pub async fn revoke(&self, id: &str, message_id: &str) -> Result<SentMessage, ActionError> {
        let session = self.instances.session(id)?;
        let target = self.known(id, message_id).await?;
        if !target.from_me {
            let target = message_ref(&target);
            if !target.in_group() || target.sender.is_none() {
                return Err(ActionError::NotOwnMessage(target.id));
            }
            // WhatsApp takes another's message down only from an admin:
            // asked first, so a revocation it would drop is refused here.
            let admin = session
                .group_info(&target.chat)
                .await?
                .is_some_and(|group| group.participants.iter().any(|p| p.is_me && p.admin));
            if !admin {
                return Err(ActionError::NotGroupAdmin {
                    id: target.id,
                    group: target.chat,
                });
            }
        }
        let sent = session.revoke(&message_ref(&target)).await?;
        self.metrics.message_sent(id, "revoke");
        Ok(sent)
    }

    /// Deletes message `message_id` (sent or received) for this account
    /// only: gone from its devices, still there for everyone else; the
    /// chat it was in.
    pub async fn delete_for_me(&self, id: &str, message_id: &str) -> Result<String, ActionError> {
        let session = self.instances.session(id)?;
        let target = self.known(id, message_id).await?;
        session.delete_for_me(&message_ref(&target), target.timestamp).await?;
        Ok(target.chat)
    }

    /// Marks received messages read (a read receipt per chat); the chats
    /// they were in.
    pub async fn mark_read(&self, id: &str, message_ids: &[String]) -> Result<Vec<String>, ActionError> {
        let session = self.instances.session(id)?;
        // Every id is checked before the first receipt goes out.
        let mut by_chat: BTreeMap<String, Vec<MessageRef>> = BTreeMap::new();
        for message_id in message_ids {
            let message = self.known(id, message_id).await?;
            if message.from_me {
                return Err(ActionError::OwnMessage(message.id));
            }
            by_chat
                .entry(message.chat.clone())
                .or_default()
                .push(message_ref(&message));
        }
        for messages in by_chat.values() {
            session.mark_read(messages).await?;
        }
        Ok(by_chat.into_keys().collect())
    }

    /// Shows `state` in the chat with `to` (a phone number or a JID).
    pub async fn chat_state(&self, id: &str, to: &str, state: ChatState) -> Result<String, ActionError> {
        let (session, jid) = self.prepare(id, to).await?;
        session.chat_state(&jid, state).await?;
        Ok(jid)
    }

    /// The message `message_id` of instance `id`. Callers take the
    /// instance's session first, so an unknown instance is 404 for the
    /// instance, not for the message.
    async fn known(&self, id: &str, message_id: &str) -> Result<KnownMessage, ActionError> {
        self.store
            .find_message(id, message_id)
            .await?
            .ok_or_else(|| ActionError::UnknownMessage(message_id.to_owned()))
    }
}

fn message_ref(message: &KnownMessage) -> MessageRef {
    MessageRef {
        chat: message.chat.clone(),
        id: message.id.clone(),
        from_me: message.from_me,
        sender: message.sender.clone().filter(|_| !message.from_me),
    }
}
