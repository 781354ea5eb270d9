//! Groups: the server's group state (subject, creator, participants and
//! their roles), group messages from a simulated contact, and participant
//! changes.
//!
//! A group message travels as WhatsApp sends it: the sender encrypts the
//! content once with its sender key (an `skmsg`), and gives each recipient
//! device that does not have the key yet its sender key distribution message
//! (SKDM) over their pairwise session (a `pkmsg`, then `msg`), in the same
//! stanza: `<message from="<group>@g.us" participant="<sender>"><enc
//! type="pkmsg"/><enc type="skmsg"/></message>`.
//!
//! A participant change is a `<notification type="w:gp2">` to every member's
//! devices (the ones leaving included), with one `<add>`, `<remove>`,
//! `<promote>` or `<demote>` child listing the participants, as
//! whatsapp-rust's parser (`wacore::stanza::groups`) reads it. Group info
//! queries are answered from this state (`iq/groups.rs`).
//!
//! A group names its participants by phone number (`addressing_mode="pn"`)
//! or, as most groups today, by LID with the phone number alongside
//! ([`Simulator::address_group_by_lid`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use buffa::Message as _;
use serde::{Deserialize, Serialize};
use tracing::info;
use wacore::messages::MessageUtils;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::SenderKeyName;
use waproto::whatsapp as wa;

use crate::error::{Result, SimError};
use crate::messaging::{address, content_attrs, enc, encrypt_for, new_message_id};
use crate::nodes;
use crate::server::Inner;
use crate::state::{DeviceKey, World};
use crate::{Contact, Simulator};

/// A participant's standing in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRole {
    Member,
    Admin,
    /// The creator.
    SuperAdmin,
}

impl GroupRole {
    /// The `type` attribute of a `<participant>`; none for a plain member.
    fn wire(self) -> Option<&'static str> {
        match self {
            GroupRole::Member => None,
            GroupRole::Admin => Some("admin"),
            GroupRole::SuperAdmin => Some("superadmin"),
        }
    }
}

/// A change to a group's participants, named as WhatsApp's notification
/// names it: someone who joins (by link, or added by an admin) is an `add`,
/// someone who leaves (or is removed) a `remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupChange {
    Add,
    Remove,
    Promote,
    Demote,
}

impl GroupChange {
    /// The change a notification's tag names (`add` for anything unknown).
    pub(crate) fn from_tag(tag: &str) -> GroupChange {
        match tag {
            "remove" => GroupChange::Remove,
            "promote" => GroupChange::Promote,
            "demote" => GroupChange::Demote,
            _ => GroupChange::Add,
        }
    }

    pub(crate) fn tag(self) -> &'static str {
        match self {
            GroupChange::Add => "add",
            GroupChange::Remove => "remove",
            GroupChange::Promote => "promote",
            GroupChange::Demote => "demote",
        }
    }
}

/// A group as the server keeps it.
pub struct Group {
    /// The user part of its JID (`120363…` of `120363…@g.us`).
    pub id: String,
    pub subject: String,
    /// The creator's phone number.
    pub creator: String,
    pub created: i64,
    /// Participants by phone number.
    pub participants: BTreeMap<String, GroupRole>,
    /// `(sender, recipient device)` pairs whose SKDM went out: a sender
    /// distributes its key to a device once.
    pub keys_sent: HashSet<(String, DeviceKey)>,
    /// Participants are named by LID (`addressing_mode="lid"`).
    pub lid_addressing: bool,
    /// Its description: `(id, text)`.
    pub description: Option<(String, String)>,
    /// Only admins may send.
    pub announce: bool,
    /// Only admins may edit the group's info.
    pub locked: bool,
    /// Joins by link wait for an admin's approval.
    pub approval: bool,
    /// The invite code (`chat.whatsapp.com/<code>`).
    pub invite: String,
    /// Phone numbers waiting for approval, and when they asked.
    pub requests: Vec<(String, i64)>,
    /// The photo's id.
    pub photo: Option<String>,
}

impl Group {
    pub fn jid(&self) -> Jid {
        Jid::group(self.id.as_str())
    }

    /// The name of participant `pn` in this group, and its phone-number JID
    /// when that is a LID.
    pub fn named(&self, world: &World, pn: &str) -> (Jid, Option<Jid>) {
        match world.accounts.get(pn) {
            Some(account) if self.lid_addressing => (account.lid_jid(), Some(account.jid())),
            _ => (Jid::pn(pn), None),
        }
    }

    /// `<participant jid [phone_number]/>` for `pn`, with more attributes.
    pub(crate) fn participant_node(&self, world: &World, pn: &str, kind: Option<&str>) -> Node {
        let (jid, phone) = self.named(world, pn);
        let mut b = NodeBuilder::new("participant").attr("jid", jid);
        if let Some(phone) = phone {
            b = b.attr("phone_number", phone);
        }
        if let Some(kind) = kind {
            b = b.attr("type", kind);
        }
        b.build()
    }

    pub(crate) fn addressing_mode(&self) -> &'static str {
        if self.lid_addressing { "lid" } else { "pn" }
    }

    /// The `<group>` node of a group info answer.
    pub fn info_node(&self, world: &World) -> Node {
        let participants = self
            .participants
            .iter()
            .map(|(pn, role)| self.participant_node(world, pn, role.wire()));
        NodeBuilder::new("group")
            .attr("id", self.id.as_str())
            .attr("subject", self.subject.as_str())
            .attr("s_o", Jid::pn(self.creator.as_str()))
            .attr("s_t", self.created.to_string())
            .attr("creator", Jid::pn(self.creator.as_str()))
            .attr("creation", self.created.to_string())
            .attr("addressing_mode", self.addressing_mode())
            .attr("size", self.participants.len().to_string())
            .children(participants.chain(self.setting_nodes()))
            .build()
    }
}

/// A group as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    /// `120363…@g.us`
    pub jid: String,
    pub subject: String,
    /// Phone numbers and roles.
    pub participants: BTreeMap<String, GroupRole>,
}

/// The group a JID or bare id names, as its id.
pub(crate) fn group_id(group: &str) -> String {
    group.split('@').next().unwrap_or(group).to_owned()
}

/// The devices of the accounts `members` that deliveries go to: their
/// linked (real) clients.
pub(crate) fn companions_of<'a>(world: &World, members: impl IntoIterator<Item = &'a String>) -> Vec<DeviceKey> {
    members
        .into_iter()
        .filter_map(|pn| world.accounts.get(pn))
        .flat_map(|a| a.live_companions().map(|c| (a.pn.clone(), c.device)))
        .collect()
}

impl Simulator {
    /// Creates group `group` (`120363…` or `120363…@g.us`) named `subject`,
    /// created by `creator` (its super admin) with `members`; accounts are
    /// created on first use. Returns the group's JID.
    pub fn create_group(&self, group: &str, subject: &str, creator: &str, members: &[&str]) -> Result<String> {
        self.ensure_account(creator);
        for member in members {
            self.ensure_account(member);
        }
        let id = group_id(group);
        let mut participants: BTreeMap<String, GroupRole> =
            members.iter().map(|m| ((*m).to_owned(), GroupRole::Member)).collect();
        participants.insert(creator.to_owned(), GroupRole::SuperAdmin);
        let created = Group {
            id: id.clone(),
            subject: subject.to_owned(),
            creator: creator.to_owned(),
            created: wacore::time::now_secs(),
            participants,
            keys_sent: HashSet::new(),
            lid_addressing: false,
            description: None,
            announce: false,
            locked: false,
            approval: false,
            invite: crate::group_admin::new_invite_code(),
            requests: Vec::new(),
            photo: None,
        };
        let jid = created.jid().to_string();
        let mut world = self.inner.world();
        if world.groups.contains_key(&id) {
            return Err(SimError::Protocol(format!("group {jid} exists already")));
        }
        world.groups.insert(id, created);
        info!(target: "whatsapp_sim", group = %jid, "group created");
        Ok(jid)
    }

    /// From now on group `group` names its participants by LID, as most
    /// groups do today.
    pub fn address_group_by_lid(&self, group: &str) -> Result<()> {
        let mut world = self.inner.world();
        let group = world
            .groups
            .get_mut(&group_id(group))
            .ok_or_else(|| SimError::Protocol(format!("no group {group}")))?;
        group.lid_addressing = true;
        Ok(())
    }

    /// Group `group` as it stands, if it exists.
    pub fn group(&self, group: &str) -> Option<GroupInfo> {
        let world = self.inner.world();
        world.groups.get(&group_id(group)).map(|g| GroupInfo {
            jid: g.jid().to_string(),
            subject: g.subject.clone(),
            participants: g.participants.clone(),
        })
    }

    /// `author` changes `participants` of `group` (for a join or a leave, the
    /// author is the participant): the group changes, and every member's
    /// devices get WhatsApp's `w:gp2` notification of it.
    pub fn change_group_participants(
        &self,
        group: &str,
        author: &str,
        change: GroupChange,
        participants: &[&str],
    ) -> Result<()> {
        for participant in participants {
            self.ensure_account(participant);
        }
        change_participants(&self.inner, &group_id(group), author, change, participants)
    }
}

impl Contact {
    /// Sends `message` to group `group` (which this contact is in), to every
    /// other member's devices; returns the message id.
    pub async fn send_group_message(&self, group: &str, message: &wa::Message) -> Result<String> {
        send_group_message(&self.inner, &self.pn, &group_id(group), message).await
    }

    /// Sends a text to group `group`; returns the message id.
    pub async fn send_group_text(&self, group: &str, text: &str) -> Result<String> {
        let message = wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        self.send_group_message(group, &message).await
    }
}

fn change_participants(
    inner: &Arc<Inner>,
    id: &str,
    author: &str,
    change: GroupChange,
    participants: &[&str],
) -> Result<()> {
    let mut world = inner.world();
    change_participants_in(&mut world, id, author, change, participants)
}

/// `author` changes `participants` of group `id`, and every member's
/// devices (the ones leaving too) get the notification.
pub(crate) fn change_participants_in(
    world: &mut World,
    id: &str,
    author: &str,
    change: GroupChange,
    participants: &[&str],
) -> Result<()> {
    let group = world
        .groups
        .get_mut(id)
        .ok_or_else(|| SimError::Protocol(format!("no group {id}")))?;
    let jid = group.jid();
    // Everyone who was or is a member hears of it: the ones leaving too.
    let mut audience: Vec<String> = group.participants.keys().cloned().collect();
    for pn in participants {
        let pn = (*pn).to_owned();
        match change {
            GroupChange::Add => {
                group.participants.insert(pn.clone(), GroupRole::Member);
            }
            GroupChange::Remove => {
                group.participants.remove(&pn);
                // A sender key a member held is no use to it any more, and a
                // new one is due if it comes back.
                group.keys_sent.retain(|(_, device)| device.0 != pn);
            }
            GroupChange::Promote => {
                group.participants.insert(pn.clone(), GroupRole::Admin);
            }
            GroupChange::Demote => {
                group.participants.insert(pn.clone(), GroupRole::Member);
            }
        }
        if !audience.contains(&pn) {
            audience.push(pn);
        }
    }
    let group = world.groups.get(id).expect("changed above");
    let listed: Vec<Node> = participants
        .iter()
        .map(|pn| group.participant_node(world, pn, None))
        .collect();
    let (author_jid, author_pn) = group.named(world, author);
    let mode = group.addressing_mode();
    let mut action = NodeBuilder::new(change.tag());
    if change == GroupChange::Add && participants == [author] {
        // Joining by oneself is joining by the invite link.
        action = action.attr("reason", "invite");
    }
    let action = action.children(listed).build();
    notify_members(world, &jid, (author, author_jid, author_pn), mode, &audience, action);
    info!(target: "whatsapp_sim", group = %jid, %author, ?change, ?participants, "group participants changed");
    Ok(())
}

/// Sends `action` as a `<notification type="w:gp2">` from group `jid`,
/// authored by `author` (phone number, and its name in the group), to the
/// devices of `audience`.
pub(crate) fn notify_members(
    world: &mut World,
    jid: &Jid,
    (author, author_jid, author_pn): (&str, Jid, Option<Jid>),
    mode: &str,
    audience: &[String],
    action: Node,
) {
    let notify = world
        .accounts
        .get(author)
        .map(|a| a.push_name.clone())
        .unwrap_or_default();
    let devices = companions_of(world, audience);
    for device in devices {
        let id = world.next_id();
        let mut node = NodeBuilder::new("notification")
            .attr("from", jid.clone())
            .attr("type", "w:gp2")
            .attr("id", id.as_str())
            .attr("participant", author_jid.clone())
            .attr("notify", notify.as_str())
            .attr("t", nodes::now())
            .attr("addressing_mode", mode);
        if let Some(pn) = &author_pn {
            node = node.attr("participant_pn", pn.clone());
        }
        let node = node.children([action.clone()]).build();
        world.deliver(device, "notification", node);
    }
}

/// One group message from `from`'s phone to the devices of every other member.
async fn send_group_message(inner: &Arc<Inner>, from: &str, id: &str, message: &wa::Message) -> Result<String> {
    let (jid, recipients, primary, push_name, (from_jid, from_pn), mode) = {
        let world = inner.world();
        let group = world
            .groups
            .get(id)
            .ok_or_else(|| SimError::Protocol(format!("no group {id}")))?;
        if !group.participants.contains_key(from) {
            return Err(SimError::Protocol(format!("{from} is not in group {id}")));
        }
        let others: Vec<String> = group.participants.keys().filter(|pn| *pn != from).cloned().collect();
        let recipients: Vec<(DeviceKey, bool)> = companions_of(&world, &others)
            .into_iter()
            .map(|device| {
                let has_key = group.keys_sent.contains(&(from.to_owned(), device.clone()));
                (device, has_key)
            })
            .collect();
        let sender = world
            .accounts
            .get(from)
            .ok_or_else(|| SimError::UnknownAccount(from.to_owned()))?;
        (
            group.jid(),
            recipients,
            sender.primary.clone(),
            sender.push_name.clone(),
            group.named(&world, from),
            group.addressing_mode(),
        )
    };
    let message_id = new_message_id();
    let (message, secret) = crate::message_secrets::with_secret(message);
    if let Some(secret) = secret {
        inner
            .world()
            .message_secrets
            .insert((from.to_owned(), message_id.clone()), secret);
    }
    let message = message.as_ref();
    let name = SenderKeyName::new(jid.to_string(), address(from, 0).to_string());
    let mut signal = primary.lock().await;
    // The SKDM is taken before the content is encrypted, so it starts at the
    // chain step the skmsg uses.
    let skdm = wa::Message {
        sender_key_distribution_message: buffa::MessageField::some(wa::message::SenderKeyDistributionMessage {
            group_id: Some(jid.to_string()),
            axolotl_sender_key_distribution_message: Some(signal.sender_keys.distribution_message(&name).await?),
        }),
        ..Default::default()
    };
    let skdm = MessageUtils::pad_message_v2(skdm.encode_to_vec());
    let content = MessageUtils::pad_message_v2(message.encode_to_vec());
    let skmsg = signal.sender_keys.encrypt(&name, &content).await?;
    for (device, has_key) in recipients {
        let mut encs = Vec::with_capacity(2);
        if !has_key {
            let (kind, ciphertext) = encrypt_for(inner, &mut signal, &device.0, device.1, &skdm).await?;
            encs.push(
                NodeBuilder::new("enc")
                    .attr("v", "2")
                    .attr("type", kind)
                    .bytes(ciphertext)
                    .build(),
            );
        }
        encs.push(enc("skmsg", skmsg.clone(), message));
        let mut node = content_attrs(
            NodeBuilder::new("message")
                .attr("from", jid.clone())
                .attr("participant", from_jid.clone())
                .attr("id", message_id.as_str())
                .attr("t", nodes::now())
                .attr("addressing_mode", mode),
            message,
        );
        if let Some(pn) = &from_pn {
            node = node.attr("participant_pn", pn.clone());
        }
        if !push_name.is_empty() {
            node = node.attr("notify", push_name.as_str());
        }
        let mut world = inner.world();
        if !has_key && let Some(group) = world.groups.get_mut(id) {
            group.keys_sent.insert((from.to_owned(), device.clone()));
        }
        world.deliver(device, "message", node.children(encs).build());
    }
    info!(target: "whatsapp_sim", %from, group = %jid, id = %message_id, "group message sent");
    Ok(message_id)
}
