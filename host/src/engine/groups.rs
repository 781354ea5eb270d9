//! What the group queries of the [`Session`](super::Session) seam answer: a
//! group as WhatsApp describes it to a member. Today wasap reads it to
//! mention everyone in a group; group management will grow from here.

/// A group the account is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group's JID (`…@g.us`).
    pub jid: String,
    /// The group's name.
    pub subject: String,
    pub participants: Vec<GroupParticipant>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupParticipant {
    /// The member's JID as the group names it: a phone JID, or in a group
    /// addressed by LID, the member's LID (which is what a mention names).
    pub jid: String,
    /// The member's phone JID, when WhatsApp gives it.
    pub phone_jid: Option<String>,
    /// An admin (or the group's creator).
    pub admin: bool,
    /// The member is this account.
    pub is_me: bool,
}
