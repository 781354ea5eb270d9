//! The simulated network's groups: who is in which group, as WhatsApp's
//! servers know it and answer a member's group query. Set through
//! `/sim/groups` (docs/API.md); inbound group messages still name any group
//! they like, as before.

use std::collections::HashMap;
use std::sync::Mutex;

use super::network::SimError;
use crate::engine::{GroupInfo, GroupParticipant};

/// Groups the simulated network keeps, at most.
const GROUPS_CAPACITY: usize = 10_000;
/// Members one simulated group may have (WhatsApp's own limit).
pub const MAX_GROUP_MEMBERS: usize = 1_024;

/// A group: its name and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimGroup {
    pub subject: String,
    /// Members' phone numbers (digits), in the order given.
    pub members: Vec<String>,
    /// The admins among them.
    pub admins: Vec<String>,
}

/// Every simulated group, by JID.
#[derive(Default)]
pub(super) struct SimGroups {
    groups: Mutex<HashMap<String, SimGroup>>,
}

impl SimGroups {
    /// Creates group `jid`, or replaces what it was.
    pub(super) fn put(&self, jid: &str, group: SimGroup) -> Result<(), SimError> {
        if group.members.len() > MAX_GROUP_MEMBERS {
            return Err(SimError::Invalid(format!(
                "a group has at most {MAX_GROUP_MEMBERS} members"
            )));
        }
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if groups.len() >= GROUPS_CAPACITY && !groups.contains_key(jid) {
            return Err(SimError::Invalid(format!(
                "the simulated network keeps at most {GROUPS_CAPACITY} groups"
            )));
        }
        groups.insert(jid.to_owned(), group);
        Ok(())
    }

    /// Group `jid` as member `me` (a phone number) sees it; `None` when
    /// there is no such group or `me` is not in it, as WhatsApp refuses a
    /// group's metadata to a non-member.
    pub(super) fn info(&self, jid: &str, me: &str) -> Option<GroupInfo> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let group = groups.get(jid)?;
        if !group.members.iter().any(|m| m == me) {
            return None;
        }
        Some(GroupInfo {
            jid: jid.to_owned(),
            subject: group.subject.clone(),
            participants: group
                .members
                .iter()
                .map(|phone| GroupParticipant {
                    jid: format!("{phone}@s.whatsapp.net"),
                    phone_jid: Some(format!("{phone}@s.whatsapp.net")),
                    admin: group.admins.contains(phone),
                    is_me: phone == me,
                })
                .collect(),
        })
    }
}
