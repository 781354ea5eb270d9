//! The simulated network's groups: who is in which group with which role,
//! their subject, description, settings, photo, invite code and pending join
//! requests, as WhatsApp's servers keep them; and the rules those servers
//! enforce (a non-member sees no group, only an admin changes members or
//! settings, a locked group's info is an admin's, an unknown invite code
//! leads nowhere). Set through `/sim/groups` and changed by instances'
//! group management (docs/API.md). Every change says who hears of it
//! ([`Notice`]), which the network delivers as events.

use std::collections::HashMap;
use std::sync::Mutex;

use rand::Rng;

use super::network::SimError;
use crate::engine::{
    EngineError, GroupChange, GroupInfo, GroupParticipant, GroupSettings, InvitePreview, JoinRequest, Joined,
    ParticipantAction, ParticipantResult, RequestAction,
};

/// Groups the simulated network keeps, at most.
const GROUPS_CAPACITY: usize = 10_000;
/// Members one simulated group may have (WhatsApp's own limit).
pub const MAX_GROUP_MEMBERS: usize = 1_024;
/// Join requests one group keeps waiting, at most.
const MAX_REQUESTS: usize = 1_024;

/// A group as `/sim/groups` sets it: its name and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimGroup {
    pub subject: String,
    /// Members' phone numbers (digits), in the order given.
    pub members: Vec<String>,
    /// The admins among them; the first is the group's creator.
    pub admins: Vec<String>,
    /// The group's invite code; a fresh one when `None`.
    pub invite_code: Option<String>,
}

/// A group as the simulated servers keep it, for `GET /sim/groups/{jid}`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SimGroupState {
    pub jid: String,
    pub subject: String,
    pub description: Option<String>,
    /// Members' phone numbers.
    pub members: Vec<String>,
    pub admins: Vec<String>,
    pub invite_code: String,
    pub announce: bool,
    pub locked: bool,
    pub approval: bool,
    /// The photo's id, once one was set.
    pub photo: Option<String>,
    /// Phone numbers waiting for approval.
    pub requests: Vec<String>,
}

/// A group as the simulated servers keep it.
#[derive(Debug, Clone)]
struct Group {
    subject: String,
    description: Option<String>,
    creator: Option<String>,
    created: i64,
    members: Vec<String>,
    admins: Vec<String>,
    settings: GroupSettings,
    invite: String,
    photo: Option<String>,
    /// Phone numbers waiting for approval, and when they asked.
    requests: Vec<(String, i64)>,
}

/// What a change tells the group's members: `audience` (phone numbers)
/// hears that `author` did `what`.
#[derive(Debug, Clone)]
pub(super) struct Notice {
    pub group: String,
    pub audience: Vec<String>,
    pub author: String,
    pub what: Noticed,
}

/// What happened, as WhatsApp's group notification names it.
#[derive(Debug, Clone)]
pub(super) enum Noticed {
    /// Participants (phone numbers) were added (or joined), removed (or
    /// left), promoted or demoted.
    Participants(ParticipantAction, Vec<String>),
    /// The subject, description or a setting changed.
    Changed(GroupChange),
    /// The photo changed (its new id).
    Photo(String),
    /// The invite link was reset.
    InviteReset,
}

/// Every simulated group, by JID.
#[derive(Default)]
pub(super) struct SimGroups {
    groups: Mutex<HashMap<String, Group>>,
}

fn phone_jid(phone: &str) -> String {
    format!("{phone}@s.whatsapp.net")
}

/// The phone number of a user JID, if it names one.
fn phone_of(jid: &str) -> Option<&str> {
    let phone = jid.strip_suffix("@s.whatsapp.net")?;
    (!phone.is_empty() && phone.bytes().all(|b| b.is_ascii_digit())).then_some(phone)
}

fn new_invite_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..22)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Group {
    fn is_admin(&self, phone: &str) -> bool {
        self.admins.iter().any(|a| a == phone)
    }

    fn is_member(&self, phone: &str) -> bool {
        self.members.iter().any(|m| m == phone)
    }

    fn info(&self, jid: &str, me: &str) -> GroupInfo {
        GroupInfo {
            jid: jid.to_owned(),
            subject: self.subject.clone(),
            description: self.description.clone(),
            owner: self.creator.as_deref().map(phone_jid),
            created: Some(self.created),
            settings: self.settings,
            participants: self
                .members
                .iter()
                .map(|phone| GroupParticipant {
                    jid: phone_jid(phone),
                    phone_jid: Some(phone_jid(phone)),
                    // The network's LIDs are the messenger's to fill in.
                    lid: None,
                    admin: self.is_admin(phone),
                    super_admin: self.creator.as_deref() == Some(phone.as_str()),
                    is_me: phone == me,
                })
                .collect(),
        }
    }

    fn notice(&self, group: &str, author: &str, what: Noticed) -> Notice {
        Notice {
            group: group.to_owned(),
            audience: self.members.clone(),
            author: author.to_owned(),
            what,
        }
    }
}

impl SimGroups {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates group `jid`, or replaces what it was.
    pub(super) fn put(&self, jid: &str, group: SimGroup) -> Result<(), SimError> {
        if group.members.len() > MAX_GROUP_MEMBERS {
            return Err(SimError::Invalid(format!(
                "a group has at most {MAX_GROUP_MEMBERS} members"
            )));
        }
        let mut groups = self.lock();
        if groups.len() >= GROUPS_CAPACITY && !groups.contains_key(jid) {
            return Err(SimError::Invalid(format!(
                "the simulated network keeps at most {GROUPS_CAPACITY} groups"
            )));
        }
        let invite = group.invite_code.unwrap_or_else(new_invite_code);
        if groups.iter().any(|(other, g)| other != jid && g.invite == invite) {
            return Err(SimError::Invalid(format!("invite code {invite:?} is another group's")));
        }
        groups.insert(
            jid.to_owned(),
            Group {
                subject: group.subject,
                description: None,
                creator: group.admins.first().cloned(),
                created: crate::clock::now_secs(),
                members: group.members,
                admins: group.admins,
                settings: GroupSettings::default(),
                invite,
                photo: None,
                requests: Vec::new(),
            },
        );
        Ok(())
    }

    /// Group `jid` as member `me` (a phone number) sees it; `None` when
    /// there is no such group or `me` is not in it, as WhatsApp refuses a
    /// group's metadata to a non-member.
    pub(super) fn info(&self, jid: &str, me: &str) -> Option<GroupInfo> {
        let groups = self.lock();
        let group = groups.get(jid).filter(|g| g.is_member(me))?;
        Some(group.info(jid, me))
    }

    /// Group `jid` as the servers keep it.
    pub(super) fn state(&self, jid: &str) -> Option<SimGroupState> {
        let groups = self.lock();
        let g = groups.get(jid)?;
        Some(SimGroupState {
            jid: jid.to_owned(),
            subject: g.subject.clone(),
            description: g.description.clone(),
            members: g.members.clone(),
            admins: g.admins.clone(),
            invite_code: g.invite.clone(),
            announce: g.settings.announce,
            locked: g.settings.locked,
            approval: g.settings.approval,
            photo: g.photo.clone(),
            requests: g.requests.iter().map(|(p, _)| p.clone()).collect(),
        })
    }

    /// Every group `me` is in.
    pub(super) fn of_member(&self, me: &str) -> Vec<GroupInfo> {
        let groups = self.lock();
        let mut all: Vec<GroupInfo> = groups
            .iter()
            .filter(|(_, g)| g.is_member(me))
            .map(|(jid, g)| g.info(jid, me))
            .collect();
        all.sort_by(|a, b| a.jid.cmp(&b.jid));
        all
    }

    /// Runs `change` on group `jid` as member `me`: not found unless `me`
    /// is in it, refused unless `me` is an admin when `admin_only`.
    fn with_group<T>(
        &self,
        jid: &str,
        me: &str,
        admin_only: bool,
        change: impl FnOnce(&mut Group) -> T,
    ) -> Result<T, EngineError> {
        let mut groups = self.lock();
        let group = groups
            .get_mut(jid)
            .filter(|g| g.is_member(me))
            .ok_or_else(|| EngineError::GroupNotFound(jid.to_owned()))?;
        if admin_only && !group.is_admin(me) {
            return Err(EngineError::NotGroupAdmin(jid.to_owned()));
        }
        Ok(change(group))
    }

    /// `me` creates a group named `subject` with the accounts `participants`
    /// (phone numbers, those on WhatsApp); its JID. Nobody gets a
    /// participant notice of it: WhatsApp tells the creator's devices with a
    /// `create` notification, which carries no participant change.
    pub(super) fn create(&self, me: &str, subject: &str, participants: &[String]) -> Result<String, EngineError> {
        let mut groups = self.lock();
        if groups.len() >= GROUPS_CAPACITY {
            return Err(EngineError::Protocol(
                "the simulated network has no room for another group".into(),
            ));
        }
        let mut members = vec![me.to_owned()];
        for phone in participants {
            if !members.contains(phone) && members.len() < MAX_GROUP_MEMBERS {
                members.push(phone.clone());
            }
        }
        let jid = loop {
            let jid = format!("120363{:012}@g.us", rand::rng().random_range(0..1_000_000_000_000u64));
            if !groups.contains_key(&jid) {
                break jid;
            }
        };
        let group = Group {
            subject: subject.to_owned(),
            description: None,
            creator: Some(me.to_owned()),
            created: crate::clock::now_secs(),
            members,
            admins: vec![me.to_owned()],
            settings: GroupSettings::default(),
            invite: new_invite_code(),
            photo: None,
            requests: Vec::new(),
        };
        groups.insert(jid.clone(), group);
        Ok(jid)
    }

    /// Admin `me` adds, removes, promotes or demotes `participants` (user
    /// JIDs) of group `jid`; `on_whatsapp` says whether a number has an
    /// account.
    pub(super) fn change_participants(
        &self,
        jid: &str,
        me: &str,
        action: ParticipantAction,
        participants: &[String],
        on_whatsapp: &dyn Fn(&str) -> bool,
    ) -> Result<(Vec<ParticipantResult>, Option<Notice>), EngineError> {
        self.with_group(jid, me, true, |group| {
            let audience_before = group.members.clone();
            let mut results = Vec::with_capacity(participants.len());
            let mut changed = Vec::new();
            for participant in participants {
                let Some(phone) = phone_of(participant).filter(|p| on_whatsapp(p)) else {
                    results.push(ParticipantResult::failed(participant, 404));
                    continue;
                };
                let member = group.is_member(phone);
                let outcome = match action {
                    ParticipantAction::Add if member => Err(409),
                    ParticipantAction::Add if group.members.len() >= MAX_GROUP_MEMBERS => Err(500),
                    ParticipantAction::Add => {
                        group.members.push(phone.to_owned());
                        group.requests.retain(|(p, _)| p != phone);
                        Ok(())
                    }
                    _ if !member => Err(404),
                    ParticipantAction::Remove => {
                        group.members.retain(|m| m != phone);
                        group.admins.retain(|a| a != phone);
                        Ok(())
                    }
                    ParticipantAction::Promote => {
                        if !group.is_admin(phone) {
                            group.admins.push(phone.to_owned());
                        }
                        Ok(())
                    }
                    ParticipantAction::Demote => {
                        group.admins.retain(|a| a != phone);
                        Ok(())
                    }
                };
                match outcome {
                    Ok(()) => {
                        results.push(ParticipantResult::ok(phone_jid(phone)));
                        changed.push(phone.to_owned());
                    }
                    Err(code) => results.push(ParticipantResult::failed(phone_jid(phone), code)),
                }
            }
            let notice = (!changed.is_empty()).then(|| {
                let mut notice = group.notice(jid, me, Noticed::Participants(action, changed.clone()));
                // The ones removed hear of it too.
                for phone in audience_before.into_iter().chain(changed) {
                    if !notice.audience.contains(&phone) {
                        notice.audience.push(phone);
                    }
                }
                notice
            });
            (results, notice)
        })
    }

    /// Group `jid`'s invite code, for admin `me`; a new one with `reset`.
    pub(super) fn invite_code(
        &self,
        jid: &str,
        me: &str,
        reset: bool,
    ) -> Result<(String, Option<Notice>), EngineError> {
        self.with_group(jid, me, true, |group| {
            if reset {
                group.invite = new_invite_code();
            }
            let notice = reset.then(|| group.notice(jid, me, Noticed::InviteReset));
            (group.invite.clone(), notice)
        })
    }

    fn by_code<'g>(groups: &'g mut HashMap<String, Group>, code: &str) -> Result<(String, &'g mut Group), EngineError> {
        groups
            .iter_mut()
            .find(|(_, g)| g.invite == code)
            .map(|(jid, g)| (jid.clone(), g))
            .ok_or_else(|| EngineError::InvalidInvite(code.to_owned()))
    }

    /// The group invite code `code` leads to.
    pub(super) fn preview(&self, code: &str) -> Result<InvitePreview, EngineError> {
        let mut groups = self.lock();
        let (jid, group) = Self::by_code(&mut groups, code)?;
        Ok(InvitePreview {
            jid,
            subject: group.subject.clone(),
            description: group.description.clone(),
            size: group.members.len() as u32,
            owner: group.creator.as_deref().map(phone_jid),
            created: Some(group.created),
        })
    }

    /// `me` joins by invite code `code` (or asks to, where admins approve).
    pub(super) fn join(&self, code: &str, me: &str) -> Result<(Joined, Option<Notice>), EngineError> {
        let mut groups = self.lock();
        let (jid, group) = Self::by_code(&mut groups, code)?;
        if group.is_member(me) {
            return Ok((Joined::Member(jid), None));
        }
        if group.members.len() >= MAX_GROUP_MEMBERS {
            return Err(EngineError::Protocol(format!("group {jid} is full")));
        }
        if group.settings.approval {
            if !group.requests.iter().any(|(p, _)| p == me) {
                if group.requests.len() >= MAX_REQUESTS {
                    return Err(EngineError::Protocol(format!("group {jid} has too many join requests")));
                }
                group.requests.push((me.to_owned(), crate::clock::now_secs()));
            }
            return Ok((Joined::Requested(jid), None));
        }
        group.members.push(me.to_owned());
        let notice = group.notice(
            &jid,
            me,
            Noticed::Participants(ParticipantAction::Add, vec![me.to_owned()]),
        );
        Ok((Joined::Member(jid), Some(notice)))
    }

    /// `me` leaves group `jid`; a group nobody is in is gone.
    pub(super) fn leave(&self, jid: &str, me: &str) -> Result<Notice, EngineError> {
        let mut groups = self.lock();
        let group = groups
            .get_mut(jid)
            .filter(|g| g.is_member(me))
            .ok_or_else(|| EngineError::GroupNotFound(jid.to_owned()))?;
        let notice = group.notice(
            jid,
            me,
            Noticed::Participants(ParticipantAction::Remove, vec![me.to_owned()]),
        );
        group.members.retain(|m| m != me);
        group.admins.retain(|a| a != me);
        if group.admins.is_empty()
            && let Some(first) = group.members.first().cloned()
        {
            // WhatsApp hands a group whose last admin left to another member.
            group.admins.push(first);
        }
        if group.members.is_empty() {
            groups.remove(jid);
        }
        Ok(notice)
    }

    /// `me` changes group `jid`'s subject, description or a setting. The
    /// settings are an admin's; the subject and description are anyone's
    /// unless the group is locked.
    pub(super) fn change(&self, jid: &str, me: &str, change: GroupChange) -> Result<Notice, EngineError> {
        let mut groups = self.lock();
        let group = groups
            .get_mut(jid)
            .filter(|g| g.is_member(me))
            .ok_or_else(|| EngineError::GroupNotFound(jid.to_owned()))?;
        let info_change = matches!(change, GroupChange::Subject(_) | GroupChange::Description(_));
        if !group.is_admin(me) && (!info_change || group.settings.locked) {
            return Err(EngineError::NotGroupAdmin(jid.to_owned()));
        }
        match &change {
            GroupChange::Subject(subject) => group.subject = subject.clone(),
            GroupChange::Description(description) => group.description = description.clone(),
            GroupChange::Announce(on) => group.settings.announce = *on,
            GroupChange::Locked(on) => group.settings.locked = *on,
            GroupChange::Approval(on) => group.settings.approval = *on,
        }
        Ok(group.notice(jid, me, Noticed::Changed(change)))
    }

    /// `me` sets group `jid`'s photo; its new id.
    pub(super) fn set_photo(&self, jid: &str, me: &str, digest: &str) -> Result<(String, Notice), EngineError> {
        let mut groups = self.lock();
        let group = groups
            .get_mut(jid)
            .filter(|g| g.is_member(me))
            .ok_or_else(|| EngineError::GroupNotFound(jid.to_owned()))?;
        if group.settings.locked && !group.is_admin(me) {
            return Err(EngineError::NotGroupAdmin(jid.to_owned()));
        }
        let id = digest.to_owned();
        group.photo = Some(id.clone());
        let notice = group.notice(jid, me, Noticed::Photo(id.clone()));
        Ok((id, notice))
    }

    /// The join requests of group `jid`, for admin `me`.
    pub(super) fn requests(&self, jid: &str, me: &str) -> Result<Vec<JoinRequest>, EngineError> {
        self.with_group(jid, me, true, |group| {
            group
                .requests
                .iter()
                .map(|(phone, at)| JoinRequest {
                    jid: phone_jid(phone),
                    requested_at: Some(*at),
                })
                .collect()
        })
    }

    /// Admin `me` approves or rejects the join requests of `participants`.
    pub(super) fn answer_requests(
        &self,
        jid: &str,
        me: &str,
        action: RequestAction,
        participants: &[String],
    ) -> Result<(Vec<ParticipantResult>, Option<Notice>), EngineError> {
        self.with_group(jid, me, true, |group| {
            let mut results = Vec::with_capacity(participants.len());
            let mut admitted = Vec::new();
            for participant in participants {
                let waiting = phone_of(participant).filter(|p| group.requests.iter().any(|(r, _)| r == p));
                let Some(phone) = waiting else {
                    results.push(ParticipantResult::failed(participant, 404));
                    continue;
                };
                group.requests.retain(|(r, _)| r != phone);
                if action == RequestAction::Approve && !group.is_member(phone) {
                    group.members.push(phone.to_owned());
                    admitted.push(phone.to_owned());
                }
                results.push(ParticipantResult::ok(phone_jid(phone)));
            }
            let notice = (!admitted.is_empty())
                .then(|| group.notice(jid, me, Noticed::Participants(ParticipantAction::Add, admitted)));
            (results, notice)
        })
    }
}
