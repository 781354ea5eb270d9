//! What the simulated network records for a session's acts on messages and
//! chats: reactions, edits, revocations, deletions for the account itself,
//! read receipts and chat states; one builder per act. Content sends are in
//! `sends.rs`.

use super::incoming::new_message_id;
use super::network::SentRecord;
use crate::engine::{ChatState, MessageRef};

pub(super) fn reaction(target: &MessageRef, emoji: &str) -> SentRecord {
    SentRecord {
        to: target.chat.clone(),
        message_id: new_message_id(),
        kind: "reaction",
        target_id: Some(target.id.clone()),
        emoji: Some(emoji.to_owned()),
        ..SentRecord::default()
    }
}

pub(super) fn edit(target: &MessageRef, text: &str) -> SentRecord {
    SentRecord {
        to: target.chat.clone(),
        message_id: new_message_id(),
        kind: "edit",
        text: Some(text.to_owned()),
        target_id: Some(target.id.clone()),
        ..SentRecord::default()
    }
}

/// A revocation; of another member's message, by the group's admin (the
/// Messenger has checked the account is one).
pub(super) fn revoke(target: &MessageRef) -> SentRecord {
    let admin = !target.from_me;
    SentRecord {
        to: target.chat.clone(),
        message_id: new_message_id(),
        kind: "revoke",
        target_id: Some(target.id.clone()),
        admin: admin.then_some(true),
        target_sender: target.sender.clone().filter(|_| admin),
        ..SentRecord::default()
    }
}

pub(super) fn delete_for_me(target: &MessageRef) -> SentRecord {
    SentRecord {
        to: target.chat.clone(),
        message_id: new_message_id(),
        kind: "delete_for_me",
        target_id: Some(target.id.clone()),
        ..SentRecord::default()
    }
}

/// One read receipt for `messages`, all of chat `chat`.
pub(super) fn read(chat: &str, messages: &[MessageRef]) -> SentRecord {
    SentRecord {
        to: chat.to_owned(),
        message_id: new_message_id(),
        kind: "read",
        read_ids: Some(messages.iter().map(|m| m.id.clone()).collect()),
        ..SentRecord::default()
    }
}

pub(super) fn chat_state(to: &str, state: ChatState) -> SentRecord {
    SentRecord {
        to: to.to_owned(),
        message_id: new_message_id(),
        kind: "chat_state",
        state: Some(state.as_str()),
        ..SentRecord::default()
    }
}
