//! What the group queries of the [`Session`](super::Session) seam answer: a
//! group as WhatsApp describes it to a member (its name, description,
//! settings and members with their roles). wasap reads it to mention
//! everyone in a group and to show and manage groups
//! ([`GroupAdmin`](super::GroupAdmin)).

/// A group the account is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group's JID (`…@g.us`).
    pub jid: String,
    /// The group's name.
    pub subject: String,
    /// The group's description, if it has one.
    pub description: Option<String>,
    /// Who created the group (a JID), when WhatsApp says.
    pub owner: Option<String>,
    /// When the group was created, unix seconds, when WhatsApp says.
    pub created: Option<i64>,
    pub settings: GroupSettings,
    pub participants: Vec<GroupParticipant>,
}

/// What a group's admins can switch on or off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupSettings {
    /// Only admins may send messages.
    pub announce: bool,
    /// Only admins may change the group's subject, description and photo.
    pub locked: bool,
    /// A join by invite link waits for an admin's approval.
    pub approval: bool,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupParticipant {
    /// The member's JID as the group names it: a phone JID, or in a group
    /// addressed by LID, the member's LID (which is what a mention names).
    pub jid: String,
    /// The member's phone JID, when WhatsApp gives it.
    pub phone_jid: Option<String>,
    /// The member's LID (`<digits>@lid`), when WhatsApp gives it.
    pub lid: Option<String>,
    /// An admin (or the group's creator).
    pub admin: bool,
    /// The group's creator (its super admin).
    pub super_admin: bool,
    /// The member is this account.
    pub is_me: bool,
}

impl GroupInfo {
    /// This account's entry among the participants.
    pub fn me(&self) -> Option<&GroupParticipant> {
        self.participants.iter().find(|p| p.is_me)
    }
}
