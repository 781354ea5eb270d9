//! Deleting messages on the real engine: for everyone (a message this
//! account sent, or another member's as a group admin) and for me (an app
//! state change of the account's own, synced to its other devices).

use whatsapp_rust::wacore_binary::JidExt;
use whatsapp_rust::{Client, Jid, RevokeType};

use super::session::{REQUEST_TIMEOUT, recipient, send_error};
use crate::engine::{EngineError, MessageRef, SentMessage};

/// Revokes `target` for everyone in its chat. Another member's message is
/// revoked as the group's admin, naming its author as WhatsApp keyed it;
/// whether the account is an admin was checked before (WhatsApp would drop
/// the revocation of a member who is not).
pub(super) async fn revoke(client: &Client, target: &MessageRef) -> Result<SentMessage, EngineError> {
    let chat = recipient(&target.chat)?;
    let to = chat.to_string();
    let how = if target.from_me {
        RevokeType::Sender
    } else {
        let sender = target
            .sender
            .as_deref()
            .ok_or_else(|| EngineError::InvalidRecipient("the message's author is not known".to_owned()))?;
        RevokeType::Admin {
            original_sender: recipient(sender)?,
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, client.revoke_message(chat, target.id.clone(), how))
        .await
        .map_err(|_| EngineError::Timeout)?
        .map_err(send_error)?;
    // A revocation keeps its message's id, as the sim engine's does.
    Ok(SentMessage::now(target.id.clone(), to))
}

/// Deletes `target` for this account only: a `deleteMessageForMe` mutation
/// of its app state, which its phone and other devices apply.
pub(super) async fn delete_for_me(client: &Client, target: &MessageRef, sent_at: i64) -> Result<(), EngineError> {
    let chat = recipient(&target.chat)?;
    // In a group, a message of another member's is keyed by its author too.
    let participant: Option<Jid> = match (&target.sender, chat.is_group() && !target.from_me) {
        (Some(sender), true) => Some(recipient(sender)?),
        _ => None,
    };
    let actions = client.chat_actions();
    let delete = actions.delete_message_for_me(
        &chat,
        participant.as_ref(),
        &target.id,
        target.from_me,
        false,
        Some(sent_at),
    );
    tokio::time::timeout(REQUEST_TIMEOUT, delete)
        .await
        .map_err(|_| EngineError::Timeout)?
        .map_err(|e| EngineError::Protocol(format!("delete for me failed: {e}")))
}
