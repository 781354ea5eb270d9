//! Changes to a group other than its participants: subject, description, settings, photo
//! and invite link.

use serde::{Deserialize, Serialize};

/// A group's subject, description, a setting, its photo or its invite link changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupUpdate {
    /// The group's JID (`...@g.us`).
    pub group: String,
    /// What changed.
    pub change: GroupUpdateKind,
    /// The new text: the subject, the description (`None`: it was removed), the photo's id
    /// (`None`: it was removed). `None` for the other changes.
    pub text: Option<String>,
    /// The setting's new state, for `announce`, `locked` and `approval`; else `None`.
    pub enabled: Option<bool>,
    /// Who made the change (their phone-number JID when known, else their LID), when
    /// WhatsApp says.
    pub author: Option<String>,
    /// When the change happened, unix seconds.
    pub timestamp: i64,
}

/// What changed in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum GroupUpdateKind {
    /// Its name.
    Subject,
    Description,
    /// Whether only admins may send messages.
    Announce,
    /// Whether only admins may edit the group's info.
    Locked,
    /// Whether joins by invite link wait for an admin's approval.
    Approval,
    Photo,
    /// The invite link was reset: the old one no longer works.
    InviteLink,
}

impl GroupUpdateKind {
    /// The kind as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupUpdateKind::Subject => "subject",
            GroupUpdateKind::Description => "description",
            GroupUpdateKind::Announce => "announce",
            GroupUpdateKind::Locked => "locked",
            GroupUpdateKind::Approval => "approval",
            GroupUpdateKind::Photo => "photo",
            GroupUpdateKind::InviteLink => "invite_link",
        }
    }
}
