//! Group management as the [`Session`](super::Session) seam offers it: list
//! the groups the account is in, create one, change its participants, its
//! invite link, its subject, description, settings and photo, join by
//! invite, leave, and answer join requests. Every engine enforces what
//! WhatsApp enforces (a group the account is not in is not found; a change
//! only an admin may make is refused to a member) and reports it with the
//! typed [`EngineError`] variants, so callers see the same answer on both.

use async_trait::async_trait;

use super::{EngineError, GroupInfo};

/// What to do to participants of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantAction {
    Add,
    Remove,
    /// Make them admins.
    Promote,
    /// Make them plain members again.
    Demote,
}

/// How an admin answers pending join requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestAction {
    Approve,
    Reject,
}

/// What became of one participant of a change: WhatsApp answers each one
/// on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantResult {
    /// The participant's JID.
    pub jid: String,
    /// `None` when the change was made; otherwise WhatsApp's code: 403 (the
    /// user's privacy settings refuse to be added: invite them instead), 404
    /// (no such account), 406 (not allowed for this participant), 408 (they
    /// left recently), 409 (already a member, or not one to remove).
    pub error: Option<u16>,
}

impl ParticipantResult {
    pub fn ok(jid: impl Into<String>) -> ParticipantResult {
        ParticipantResult {
            jid: jid.into(),
            error: None,
        }
    }

    pub fn failed(jid: impl Into<String>, code: u16) -> ParticipantResult {
        ParticipantResult {
            jid: jid.into(),
            error: Some(code),
        }
    }
}

/// One change to a group's subject, description or settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    Subject(String),
    /// A new description; `None` removes it.
    Description(Option<String>),
    /// Only admins may send messages.
    Announce(bool),
    /// Only admins may edit the group's info.
    Locked(bool),
    /// Joins by invite link wait for an admin's approval.
    Approval(bool),
}

/// A group as an invite code shows it, before joining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitePreview {
    pub jid: String,
    pub subject: String,
    pub description: Option<String>,
    /// How many members it has.
    pub size: u32,
    /// Who created it (a JID), when WhatsApp says.
    pub owner: Option<String>,
    /// Unix seconds.
    pub created: Option<i64>,
}

/// What joining by an invite code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// The account is now a member of this group.
    Member(String),
    /// The group asks an admin to approve joins: the request waits.
    Requested(String),
}

/// Someone waiting to be let into a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// Their JID.
    pub jid: String,
    /// When they asked, unix seconds, when WhatsApp says.
    pub requested_at: Option<i64>,
}

/// Group management, which every [`Session`](super::Session) offers.
#[async_trait]
pub trait GroupAdmin: Send + Sync {
    /// Every group the account is in.
    async fn list_groups(&self) -> Result<Vec<GroupInfo>, EngineError>;

    /// Creates a group named `subject` with `participants` (user JIDs); the
    /// account is its creator. WhatsApp may leave out some participants
    /// (their privacy settings): the answer lists who is in.
    async fn create_group(&self, subject: &str, participants: &[String]) -> Result<GroupInfo, EngineError>;

    /// Adds, removes, promotes or demotes `participants` (user JIDs) of
    /// `group`; an admin's change. One result per participant.
    async fn change_participants(
        &self,
        group: &str,
        action: ParticipantAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, EngineError>;

    /// The group's invite code (`https://chat.whatsapp.com/<code>`); with
    /// `reset`, the old one stops working and a new one is made.
    async fn invite_code(&self, group: &str, reset: bool) -> Result<String, EngineError>;

    /// The group an invite code leads to, without joining it.
    async fn invite_preview(&self, code: &str) -> Result<InvitePreview, EngineError>;

    /// Joins the group an invite code leads to.
    async fn join_group(&self, code: &str) -> Result<Joined, EngineError>;

    /// Leaves `group`.
    async fn leave_group(&self, group: &str) -> Result<(), EngineError>;

    /// Changes the group's subject, description or a setting.
    async fn change_group(&self, group: &str, change: GroupChange) -> Result<(), EngineError>;

    /// Sets the group's photo to `jpeg` (a JPEG image); the photo's id.
    async fn set_group_photo(&self, group: &str, jpeg: bytes::Bytes) -> Result<String, EngineError>;

    /// The requests to join `group` waiting for an admin.
    async fn join_requests(&self, group: &str) -> Result<Vec<JoinRequest>, EngineError>;

    /// Approves or rejects join requests of `participants` (user JIDs).
    async fn answer_join_requests(
        &self,
        group: &str,
        action: RequestAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, EngineError>;
}
