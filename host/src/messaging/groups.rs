//! Group management for an instance: list its groups, read one, create one,
//! change its participants, invite link, subject, description, settings and
//! photo, join by invite, leave, and answer join requests. Input is checked
//! here (group JIDs, participants, lengths, the photo) so nothing malformed
//! reaches WhatsApp; the API routes and the plugin host call these same
//! functions.

use crate::engine::lids::AccountName;
use crate::engine::{
    EngineError, GroupChange, GroupInfo, InvitePreview, JoinRequest, Joined, ParticipantAction, ParticipantResult,
    RequestAction, Session,
};
use crate::instances::InstanceError;

use super::{Messenger, Recipient};

/// A group's subject, at most (WhatsApp's limit), in characters.
pub const MAX_SUBJECT_CHARS: usize = 100;
/// A group's description, at most (WhatsApp's limit), in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2_048;
/// Participants one request names, at most.
pub const MAX_PARTICIPANTS: usize = 256;
/// A group photo, at most, in bytes: WhatsApp shows them at 640×640, which
/// a JPEG holds in far less; and its base64 fits a JSON body.
pub const MAX_PHOTO_BYTES: usize = 180 * 1024;
/// An invite code, at most, in characters (WhatsApp's are 22).
pub const MAX_INVITE_CODE_CHARS: usize = 64;

/// Why a group request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("{0:?} is not a group JID (…@g.us)")]
    InvalidGroup(String),
    #[error("{0:?} is not a user: give a phone number in international form or a user JID (…@s.whatsapp.net, …@lid)")]
    InvalidParticipant(String),
    #[error("name 1 to {MAX_PARTICIPANTS} participants")]
    ParticipantCount,
    #[error("a group's subject is 1 to {MAX_SUBJECT_CHARS} characters, not blank")]
    InvalidSubject,
    #[error("a group's description is at most {MAX_DESCRIPTION_CHARS} characters")]
    InvalidDescription,
    #[error("{0:?} is not an invite code or link (chat.whatsapp.com/<code>)")]
    InvalidInviteCode(String),
    #[error("a group photo is a JPEG image of at most {MAX_PHOTO_BYTES} bytes")]
    InvalidPhoto,
    #[error("the change names nothing to change")]
    NothingToChange,
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A change to a group's subject, description or settings; what is `None`
/// stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUpdate {
    pub subject: Option<String>,
    /// `Some("")` removes the description.
    pub description: Option<String>,
    pub announce: Option<bool>,
    pub locked: Option<bool>,
    pub approval: Option<bool>,
}

/// `raw` as a group JID.
pub fn check_group(raw: &str) -> Result<String, GroupError> {
    let raw = raw.trim();
    match raw.strip_suffix("@g.us") {
        Some(user) if !user.is_empty() && user.len() <= 64 && user.bytes().all(|b| b.is_ascii_digit() || b == b'-') => {
            Ok(raw.to_owned())
        }
        _ => Err(GroupError::InvalidGroup(raw.to_owned())),
    }
}

/// `participants` (phone numbers or user JIDs) as user JIDs, without repeats.
pub fn check_participants(participants: &[String]) -> Result<Vec<String>, GroupError> {
    if participants.is_empty() || participants.len() > MAX_PARTICIPANTS {
        return Err(GroupError::ParticipantCount);
    }
    let mut jids = Vec::with_capacity(participants.len());
    for raw in participants {
        let jid = Recipient::parse(raw)
            .and_then(Recipient::user_jid)
            .map_err(|_| GroupError::InvalidParticipant(raw.clone()))?;
        if !jids.contains(&jid) {
            jids.push(jid);
        }
    }
    Ok(jids)
}

fn check_subject(subject: &str) -> Result<String, GroupError> {
    let subject = subject.trim();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS || subject.chars().any(char::is_control) {
        return Err(GroupError::InvalidSubject);
    }
    Ok(subject.to_owned())
}

fn check_description(description: &str) -> Result<Option<String>, GroupError> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(GroupError::InvalidDescription);
    }
    Ok(Some(description.to_owned()).filter(|d| !d.trim().is_empty()))
}

/// The code of an invite code or link (`https://chat.whatsapp.com/<code>`).
pub fn check_invite_code(raw: &str) -> Result<String, GroupError> {
    let raw = raw.trim();
    let code = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    let code = code.strip_prefix("chat.whatsapp.com/").unwrap_or(code);
    if code.is_empty() || code.len() > MAX_INVITE_CODE_CHARS || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(GroupError::InvalidInviteCode(raw.to_owned()));
    }
    Ok(code.to_owned())
}

/// `photo` as a JPEG WhatsApp takes as a group photo.
pub fn check_photo(photo: &[u8]) -> Result<(), GroupError> {
    if photo.len() < 4 || photo.len() > MAX_PHOTO_BYTES || super::media_kind::sniff(photo).1 != "image/jpeg" {
        return Err(GroupError::InvalidPhoto);
    }
    Ok(())
}

/// The link an invite code makes.
pub fn invite_link(code: &str) -> String {
    format!("https://chat.whatsapp.com/{code}")
}

impl Messenger {
    /// Every group instance `id`'s account is in.
    pub async fn groups(&self, id: &str) -> Result<Vec<GroupInfo>, GroupError> {
        let session = self.instances.session(id)?;
        let mut groups = session.list_groups().await?;
        name_members_both_ways(session.as_ref(), &mut groups).await;
        Ok(groups)
    }

    /// Group `group` as instance `id` sees it.
    pub async fn group(&self, id: &str, group: &str) -> Result<GroupInfo, GroupError> {
        let group = check_group(group)?;
        let session = self.instances.session(id)?;
        let mut info = session
            .group_info(&group)
            .await?
            .ok_or(EngineError::GroupNotFound(group))?;
        name_members_both_ways(session.as_ref(), std::slice::from_mut(&mut info)).await;
        Ok(info)
    }

    /// Creates a group named `subject` with `participants` (phone numbers or
    /// user JIDs; none is allowed: a group of one).
    pub async fn create_group(
        &self,
        id: &str,
        subject: &str,
        participants: &[String],
    ) -> Result<GroupInfo, GroupError> {
        let subject = check_subject(subject)?;
        let participants = if participants.is_empty() {
            Vec::new()
        } else {
            check_participants(participants)?
        };
        let session = self.instances.session(id)?;
        let mut info = session.create_group(&subject, &participants).await?;
        name_members_both_ways(session.as_ref(), std::slice::from_mut(&mut info)).await;
        Ok(info)
    }

    /// Adds, removes, promotes or demotes participants of `group`.
    pub async fn change_participants(
        &self,
        id: &str,
        group: &str,
        action: ParticipantAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, GroupError> {
        let group = check_group(group)?;
        let participants = check_participants(participants)?;
        let session = self.instances.session(id)?;
        Ok(session.change_participants(&group, action, &participants).await?)
    }

    /// `group`'s invite code; a new one (the old stops working) with `reset`.
    pub async fn invite_code(&self, id: &str, group: &str, reset: bool) -> Result<String, GroupError> {
        let group = check_group(group)?;
        let session = self.instances.session(id)?;
        Ok(session.invite_code(&group, reset).await?)
    }

    /// The group invite code (or link) `code` leads to, without joining.
    pub async fn invite_preview(&self, id: &str, code: &str) -> Result<InvitePreview, GroupError> {
        let code = check_invite_code(code)?;
        let session = self.instances.session(id)?;
        Ok(session.invite_preview(&code).await?)
    }

    /// Joins the group invite code (or link) `code` leads to.
    pub async fn join_group(&self, id: &str, code: &str) -> Result<Joined, GroupError> {
        let code = check_invite_code(code)?;
        let session = self.instances.session(id)?;
        Ok(session.join_group(&code).await?)
    }

    /// Leaves `group`.
    pub async fn leave_group(&self, id: &str, group: &str) -> Result<(), GroupError> {
        let group = check_group(group)?;
        let session = self.instances.session(id)?;
        Ok(session.leave_group(&group).await?)
    }

    /// Changes `group`'s subject, description and settings as `update`
    /// says, one after the other; all of it is checked before anything is
    /// changed.
    pub async fn update_group(&self, id: &str, group: &str, update: GroupUpdate) -> Result<(), GroupError> {
        let group = check_group(group)?;
        let mut changes = Vec::new();
        if let Some(subject) = &update.subject {
            changes.push(GroupChange::Subject(check_subject(subject)?));
        }
        if let Some(description) = &update.description {
            changes.push(GroupChange::Description(check_description(description)?));
        }
        changes.extend(update.announce.map(GroupChange::Announce));
        changes.extend(update.locked.map(GroupChange::Locked));
        changes.extend(update.approval.map(GroupChange::Approval));
        if changes.is_empty() {
            return Err(GroupError::NothingToChange);
        }
        let session = self.instances.session(id)?;
        for change in changes {
            session.change_group(&group, change).await?;
        }
        Ok(())
    }

    /// Sets `group`'s photo to `jpeg`; the photo's id.
    pub async fn set_group_photo(&self, id: &str, group: &str, jpeg: bytes::Bytes) -> Result<String, GroupError> {
        let group = check_group(group)?;
        check_photo(&jpeg)?;
        let session = self.instances.session(id)?;
        Ok(session.set_group_photo(&group, jpeg).await?)
    }

    /// The requests to join `group` waiting for an admin.
    pub async fn join_requests(&self, id: &str, group: &str) -> Result<Vec<JoinRequest>, GroupError> {
        let group = check_group(group)?;
        let session = self.instances.session(id)?;
        Ok(session.join_requests(&group).await?)
    }

    /// Approves or rejects the join requests of `participants`.
    pub async fn answer_join_requests(
        &self,
        id: &str,
        group: &str,
        action: RequestAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, GroupError> {
        let group = check_group(group)?;
        let participants = check_participants(participants)?;
        let session = self.instances.session(id)?;
        Ok(session.answer_join_requests(&group, action, &participants).await?)
    }
}

/// Members one answer names both ways at most (a list of every group may
/// name tens of thousands): past it, members keep what the engine gave.
const MAX_MEMBER_LOOKUPS: usize = 10_000;

/// Gives every member of `groups` its phone JID and its LID where the
/// instance has learnt the pair, as events name accounts (see
/// [`crate::engine::lids`]). Asks WhatsApp nothing; a failed lookup leaves
/// the members as they are.
async fn name_members_both_ways(session: &dyn Session, groups: &mut [GroupInfo]) {
    // A member the group names by phone JID has that as its phone JID.
    for member in groups.iter_mut().flat_map(|g| g.participants.iter_mut()) {
        if member.phone_jid.is_none() && matches!(AccountName::of_jid(&member.jid), Some(AccountName::Phone(_))) {
            member.phone_jid = Some(member.jid.clone());
        }
    }
    let mut missing = Vec::new();
    let mut names = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (m, member) in group.participants.iter().enumerate() {
            if names.len() == MAX_MEMBER_LOOKUPS {
                break;
            }
            let name = match (&member.lid, &member.phone_jid) {
                (None, Some(phone)) => AccountName::of_jid(phone),
                (Some(lid), None) => AccountName::of_jid(lid),
                _ => None,
            };
            if let Some(name) = name {
                missing.push((g, m));
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        return;
    }
    let pairs = match session.lid_pairs(&names).await {
        Ok(pairs) => pairs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up group members' phone numbers and LIDs");
            return;
        }
    };
    for ((g, m), pair) in missing.into_iter().zip(pairs) {
        let Some(pair) = pair else { continue };
        let member = &mut groups[g].participants[m];
        member.phone_jid.get_or_insert_with(|| pair.phone_jid());
        member.lid.get_or_insert(pair.lid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_codes_and_links() {
        assert_eq!(check_invite_code("AbC123").unwrap(), "AbC123");
        assert_eq!(check_invite_code("https://chat.whatsapp.com/AbC123").unwrap(), "AbC123");
        assert!(check_invite_code("").is_err());
        assert!(check_invite_code("https://example.com/x").is_err());
        assert!(check_invite_code("abc def").is_err());
    }

    #[test]
    fn participants_are_users() {
        let jids = check_participants(&["+62 811 1111".into(), "62811111@s.whatsapp.net".into()]).unwrap();
        assert_eq!(jids, ["628111111@s.whatsapp.net", "62811111@s.whatsapp.net"]);
        assert!(check_participants(&["1203@g.us".into()]).is_err());
        assert!(check_participants(&["nobody".into()]).is_err());
        assert!(check_participants(&[]).is_err());
    }
}
