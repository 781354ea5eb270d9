//! Group management as WhatsApp's servers carry it out: a group's settings
//! (subject, description, announce, locked, approval), its invite code, joins
//! by code, join requests, leaving; the rules they enforce (a group that is
//! not there is `404`, one the account is not in `403`, a change only an
//! admin may make `401`, an invite code that leads nowhere `406`); and the
//! `<notification type="w:gp2">` every member's devices get of each change
//! (`<subject>`, `<description>`, `<locked>`, `<announcement>`,
//! `<membership_approval_mode>`, `<invite>`, `<add>`, `<remove>`, ...), as
//! whatsapp-rust's parser (`wacore::stanza::groups`) reads them.
//!
//! The client's IQs reach these through `iq/group_admin.rs`; a test plays a
//! contact doing the same through [`Simulator`]'s methods here.

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use crate::Simulator;
use crate::error::{Result, SimError};
use crate::groups::{Group, group_id, notify_members};
use crate::state::World;

/// Why the server refuses a group request: its error code and text.
pub(crate) type Refusal = (u16, &'static str);

pub(crate) const NOT_FOUND: Refusal = (404, "item-not-found");
pub(crate) const FORBIDDEN: Refusal = (403, "forbidden");
pub(crate) const NOT_ADMIN: Refusal = (401, "not-authorized");
pub(crate) const BAD_INVITE: Refusal = (406, "not-acceptable");
pub(crate) const CONFLICT: Refusal = (409, "conflict");

/// A fresh invite code, shaped like WhatsApp's (22 letters and digits).
pub(crate) fn new_invite_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..22)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Group {
    /// The settings children of a group info answer.
    pub(crate) fn setting_nodes(&self) -> Vec<Node> {
        let mut nodes = Vec::new();
        if let Some((id, text)) = &self.description {
            nodes.push(
                NodeBuilder::new("description")
                    .attr("id", id.as_str())
                    .children([NodeBuilder::new("body").string_content(text.as_str()).build()])
                    .build(),
            );
        }
        if self.locked {
            nodes.push(NodeBuilder::new("locked").build());
        }
        if self.announce {
            nodes.push(NodeBuilder::new("announcement").build());
        }
        if self.approval {
            nodes.push(
                NodeBuilder::new("membership_approval_mode")
                    .children([NodeBuilder::new("group_join").attr("state", "on").build()])
                    .build(),
            );
        }
        nodes
    }

    fn is_admin(&self, pn: &str) -> bool {
        self.participants
            .get(pn)
            .is_some_and(|role| *role != crate::groups::GroupRole::Member)
    }
}

/// Group `id` for member `user`, refused as WhatsApp refuses it; with
/// `admin`, only for an admin.
pub(crate) fn group_for<'w>(world: &'w mut World, id: &str, user: &str, admin: bool) -> Result<&'w mut Group, Refusal> {
    let group = world.groups.get_mut(id).ok_or(NOT_FOUND)?;
    if !group.participants.contains_key(user) {
        return Err(FORBIDDEN);
    }
    if admin && !group.is_admin(user) {
        return Err(NOT_ADMIN);
    }
    Ok(group)
}

/// Tells the members of group `id` (and `also`, who just left it) that
/// `author` did `action`.
pub(crate) fn announce(world: &mut World, id: &str, author: &str, also: &[String], action: Node) {
    let Some(group) = world.groups.get(id) else { return };
    let jid = group.jid();
    let (author_jid, author_pn) = group.named(world, author);
    let mode = group.addressing_mode();
    let mut audience: Vec<String> = group.participants.keys().cloned().collect();
    audience.extend(also.iter().cloned());
    notify_members(world, &jid, (author, author_jid, author_pn), mode, &audience, action);
}

/// One change to a group's subject, description or settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSetting {
    Subject(String),
    /// `None` deletes it.
    Description(Option<String>),
    Announce(bool),
    Locked(bool),
    Approval(bool),
}

/// `user` changes group `id` as `setting` says; `prev` is the description
/// id a description change replaces.
pub(crate) fn change_setting(
    world: &mut World,
    id: &str,
    user: &str,
    setting: GroupSetting,
    prev: Option<&str>,
) -> Result<(), Refusal> {
    let info = matches!(setting, GroupSetting::Subject(_) | GroupSetting::Description(_));
    let group = group_for(world, id, user, false)?;
    if !group.is_admin(user) && (!info || group.locked) {
        return Err(NOT_ADMIN);
    }
    let action = match setting {
        GroupSetting::Subject(subject) => {
            group.subject = subject.clone();
            NodeBuilder::new("subject")
                .attr("subject", subject)
                .attr("s_o", Jid::pn(user))
                .attr("s_t", crate::nodes::now())
                .build()
        }
        GroupSetting::Description(text) => {
            let current = group.description.as_ref().map(|(id, _)| id.as_str());
            if current.is_some() && current != prev {
                return Err(CONFLICT);
            }
            let new_id = format!("{:08X}", rand::random::<u32>());
            let node = NodeBuilder::new("description").attr("id", new_id.as_str());
            let node = match &text {
                Some(text) => node.children([NodeBuilder::new("body").string_content(text.as_str()).build()]),
                None => node.children([NodeBuilder::new("delete").build()]),
            };
            group.description = text.map(|text| (new_id, text));
            node.build()
        }
        GroupSetting::Announce(on) => {
            group.announce = on;
            NodeBuilder::new(if on { "announcement" } else { "not_announcement" }).build()
        }
        GroupSetting::Locked(on) => {
            group.locked = on;
            NodeBuilder::new(if on { "locked" } else { "unlocked" }).build()
        }
        GroupSetting::Approval(on) => {
            group.approval = on;
            NodeBuilder::new("membership_approval_mode")
                .children([NodeBuilder::new("group_join")
                    .attr("state", if on { "on" } else { "off" })
                    .build()])
                .build()
        }
    };
    announce(world, id, user, &[], action);
    Ok(())
}

/// What joining by code did: the group's id, and whether the join waits
/// for an admin.
pub(crate) fn join_by_code(world: &mut World, code: &str, user: &str) -> Result<(String, bool), Refusal> {
    let id = world
        .groups
        .values()
        .find(|g| g.invite == code)
        .map(|g| g.id.clone())
        .ok_or(BAD_INVITE)?;
    let group = world.groups.get_mut(&id).expect("found above");
    if group.participants.contains_key(user) {
        return Ok((id, false));
    }
    if group.approval {
        if !group.requests.iter().any(|(pn, _)| pn == user) {
            group.requests.push((user.to_owned(), wacore::time::now_secs()));
        }
        return Ok((id, true));
    }
    group
        .participants
        .insert(user.to_owned(), crate::groups::GroupRole::Member);
    let listed = world.groups[&id].participant_node(world, user, None);
    let action = NodeBuilder::new("add")
        .attr("reason", "invite")
        .children([listed])
        .build();
    announce(world, &id, user, &[], action);
    Ok((id, false))
}

/// `user` leaves group `id`.
pub(crate) fn leave(world: &mut World, id: &str, user: &str) -> Result<(), Refusal> {
    let group = group_for(world, id, user, false)?;
    group.participants.remove(user);
    group.keys_sent.retain(|(_, device)| device.0 != user);
    let listed = world.groups[id].participant_node(world, user, None);
    let action = NodeBuilder::new("remove").children([listed]).build();
    announce(world, id, user, &[user.to_owned()], action);
    Ok(())
}

impl Simulator {
    /// Contact `author` changes group `group`'s subject, description or a
    /// setting, as a member of it (an admin, where the change is theirs).
    pub fn change_group_setting(&self, group: &str, author: &str, setting: GroupSetting) -> Result<()> {
        let mut world = self.inner.world();
        let id = group_id(group);
        let prev = world
            .groups
            .get(&id)
            .and_then(|g| g.description.as_ref().map(|(id, _)| id.clone()));
        change_setting(&mut world, &id, author, setting, prev.as_deref())
            .map_err(|(code, text)| SimError::Protocol(format!("group change refused: {code} {text}")))
    }

    /// Group `group`'s invite code is `code` from now on.
    pub fn set_group_invite_code(&self, group: &str, code: &str) -> Result<()> {
        let mut world = self.inner.world();
        let group = world
            .groups
            .get_mut(&group_id(group))
            .ok_or_else(|| SimError::Protocol(format!("no group {group}")))?;
        group.invite = code.to_owned();
        Ok(())
    }

    /// Group `group`'s invite code.
    pub fn group_invite_code(&self, group: &str) -> Option<String> {
        let world = self.inner.world();
        world.groups.get(&group_id(group)).map(|g| g.invite.clone())
    }

    /// Contact `pn` (created on first use) joins by invite code `code`;
    /// the group's JID, and whether the join waits for an admin.
    pub fn join_group_by_code(&self, pn: &str, code: &str) -> Result<(String, bool)> {
        self.ensure_account(pn);
        let mut world = self.inner.world();
        let (id, waiting) = join_by_code(&mut world, code, pn)
            .map_err(|(code, text)| SimError::Protocol(format!("join refused: {code} {text}")))?;
        Ok((Jid::group(id.as_str()).to_string(), waiting))
    }
}
