//! Group participant changes.

use serde::{Deserialize, Serialize};

/// Participants of a group joined, left, were promoted or were demoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupParticipants {
    /// The group's JID (`...@g.us`).
    pub group: String,
    pub action: GroupAction,
    /// The participants affected, as JIDs: each one's phone-number JID when known, else
    /// their LID.
    pub jids: Vec<String>,
    /// The same participants, in the same order, by both names: each one's LID and
    /// phone number where known (see [`crate::ParticipantIds`]).
    #[serde(default)]
    pub participants: Vec<crate::ParticipantIds>,
    /// When the change happened, unix seconds.
    pub timestamp: i64,
}

/// What happened to the participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum GroupAction {
    /// They joined or were added.
    Join,
    /// They left or were removed.
    Leave,
    /// They were made admins.
    Promote,
    /// They stopped being admins.
    Demote,
}

impl GroupAction {
    /// The action as it appears in JSON (`join`, `leave`, `promote`, `demote`).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupAction::Join => "join",
            GroupAction::Leave => "leave",
            GroupAction::Promote => "promote",
            GroupAction::Demote => "demote",
        }
    }
}
