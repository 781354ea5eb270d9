//! Chat states: a contact is typing, recording a voice note, or stopped, in a chat with
//! the instance; and the same three states the instance itself can show.

use serde::{Deserialize, Serialize};

/// What someone shows a chat they are in the middle of answering. The same states go
/// both ways: a contact's arrive as [`ChatStateChange`]s, the instance's own are sent
/// with `POST /api/send/{id}/chat-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChatState {
    /// "typing…"
    Typing,
    /// "recording audio…"
    Recording,
    /// Stopped typing or recording.
    Paused,
}

impl ChatState {
    /// Every state, in the order above.
    pub const ALL: [ChatState; 3] = [ChatState::Typing, ChatState::Recording, ChatState::Paused];

    /// The state as it appears in JSON (`typing`, `recording`, `paused`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChatState::Typing => "typing",
            ChatState::Recording => "recording",
            ChatState::Paused => "paused",
        }
    }

    /// Parses a state name; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<ChatState> {
        ChatState::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

/// A contact started typing, started recording a voice note, or stopped, in a chat with
/// the instance (WhatsApp's `<chatstate>`). WhatsApp sends these only while the
/// instance shows itself available, does not acknowledge them and gives them no id:
/// they are not journalled, and a "typing" is stale after a few seconds (WhatsApp's
/// apps drop it after about 25 s without a new one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatStateChange {
    /// The chat's JID: the contact's (`...@s.whatsapp.net`) or the group's (`...@g.us`).
    pub chat: String,
    /// Who is typing: the contact, or the participant in a group; their phone-number JID
    /// when known, else their LID (`...@lid`).
    pub sender: String,
    /// The sender's LID, when known (WhatsApp named them by it, or the instance has
    /// learnt the pair).
    pub sender_lid: Option<String>,
    /// The sender's phone number (international form without `+`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_phone: Option<String>,
    /// The chat is a group.
    pub is_group: bool,
    pub state: ChatState,
    /// When the instance received it, unix seconds (WhatsApp does not stamp chat states).
    pub timestamp: i64,
}
