//! What the message actions of the [`Session`](super::Session) seam name:
//! an earlier message ([`MessageRef`]) and a chat state ([`ChatState`]).

/// An earlier message, as an action on it (react, edit, revoke, mark read)
/// names it to WhatsApp: the message key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    /// The chat's JID.
    pub chat: String,
    /// WhatsApp's id of the message.
    pub id: String,
    /// The message was sent by this account.
    pub from_me: bool,
    /// The author's JID, for a message this account did not send (in a
    /// group, the participant; in a one-to-one chat, the contact).
    pub sender: Option<String>,
}

impl MessageRef {
    /// The chat is a group.
    pub fn in_group(&self) -> bool {
        self.chat.ends_with("@g.us")
    }
}

/// What the account shows a chat it is in the middle of answering: the
/// event model's, since a contact's chat states arrive as events with the
/// same three states.
pub use crate::events::ChatState;
