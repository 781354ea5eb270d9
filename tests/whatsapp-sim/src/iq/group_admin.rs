//! `w:g2` requests that manage groups, as whatsapp-rust's `client.groups()`
//! sends them (wacore's `iq::groups` builders), answered from the server's
//! group state (`group_admin.rs` enforces the rules and notifies members):
//!
//! - to `g.us`: `set <create subject>` (a new group), `set <leave><group id/>`,
//!   `set <invite code/>` (join by code), `get <invite code/>` (its group);
//! - to a group: `set <add|remove|promote|demote><participant jid/>`,
//!   `get|set <invite/>` (the code; `set` resets it), `set <subject>`,
//!   `set <description id prev><body/>` (or `delete="true"`),
//!   `set <locked|unlocked|announcement|not_announcement/>`,
//!   `set <membership_approval_mode><group_join state/>`,
//!   `get <membership_approval_requests/>`,
//!   `set <membership_requests_action><approve|reject><participant/>`;
//! - `w:profile:picture` `set` with `target="<group>"`: the group's photo.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use crate::group_admin::{
    BAD_INVITE, CONFLICT, GroupSetting, NOT_FOUND, Refusal, announce, change_setting, group_for, join_by_code, leave,
    new_invite_code,
};
use crate::groups::{Group, GroupChange, GroupRole, change_participants_in, group_id};
use crate::nodes::{self, attr};
use crate::server::Inner;
use crate::state::{DeviceKey, World};

/// Answers a group management IQ; `None` when it is not one.
pub fn handle(inner: &Arc<Inner>, node: &Node, kind: &str, child: &str, (user, _): &DeviceKey) -> Option<Node> {
    let to = node.attrs.get("to").and_then(|v| v.to_jid())?;
    let request = node.children()?.first()?;
    let mut world = inner.world();
    let world = &mut *world;
    let answer = if to.user.is_empty() {
        to_server(world, node, kind, child, request, user)?
    } else {
        to_group(world, node, kind, child, request, &group_id(&to.user), user)?
    };
    Some(answer.unwrap_or_else(|(code, text)| nodes::iq_error(node, code, text)))
}

/// The account a participant's JID names, by phone number.
fn account_of(world: &World, jid: &str) -> Option<String> {
    let jid: Jid = jid.parse().ok()?;
    let pn = if jid.server == wacore_binary::Server::Lid {
        world.lids.get(jid.user.as_str())?.clone()
    } else {
        jid.user.to_string()
    };
    world.accounts.contains_key(&pn).then_some(pn)
}

fn participant_jids(node: &Node) -> Vec<String> {
    node.children()
        .map(|c| c.iter().filter_map(|p| attr(p, "jid")).collect())
        .unwrap_or_default()
}

fn to_server(
    world: &mut World,
    node: &Node,
    kind: &str,
    child: &str,
    request: &Node,
    user: &str,
) -> Option<Result<Node, Refusal>> {
    Some(match (kind, child) {
        ("set", "create") => Ok(create(world, node, request, user)),
        ("set", "leave") => {
            let group = request.children()?.first().and_then(|g| attr(g, "id"))?;
            let id = group_id(&group);
            leave(world, &id, user).map(|()| nodes::iq_result(node, vec![]))
        }
        ("set", "invite") => {
            let code = attr(request, "code")?;
            join_by_code(world, &code, user).map(|(id, waiting)| {
                let tag = if waiting {
                    "membership_approval_request"
                } else {
                    "group"
                };
                let answer = NodeBuilder::new(tag).attr("jid", Jid::group(id.as_str())).build();
                nodes::iq_result(node, vec![answer])
            })
        }
        ("get", "invite") => {
            let code = attr(request, "code")?;
            match world.groups.values().find(|g| g.invite == code) {
                Some(group) => Ok(nodes::iq_result(node, vec![group.info_node(world)])),
                None => Err(BAD_INVITE),
            }
        }
        _ => return None,
    })
}

/// A new group, its creator the super admin, with the participants that
/// have an account.
fn create(world: &mut World, node: &Node, request: &Node, user: &str) -> Node {
    let subject = attr(request, "subject").unwrap_or_default();
    let mut participants: BTreeMap<String, GroupRole> = participant_jids(request)
        .iter()
        .filter_map(|jid| account_of(world, jid))
        .map(|pn| (pn, GroupRole::Member))
        .collect();
    participants.insert(user.to_owned(), GroupRole::SuperAdmin);
    let id = loop {
        let id = format!("120363{:012}", rand::random_range(0..1_000_000_000_000u64));
        if !world.groups.contains_key(&id) {
            break id;
        }
    };
    let group = Group {
        id: id.clone(),
        subject,
        creator: user.to_owned(),
        created: wacore::time::now_secs(),
        participants,
        keys_sent: HashSet::new(),
        lid_addressing: false,
        description: None,
        announce: false,
        locked: false,
        approval: false,
        invite: new_invite_code(),
        requests: Vec::new(),
        photo: None,
    };
    let info = group.info_node(world);
    world.groups.insert(id, group);
    nodes::iq_result(node, vec![info])
}

fn to_group(
    world: &mut World,
    node: &Node,
    kind: &str,
    child: &str,
    request: &Node,
    id: &str,
    user: &str,
) -> Option<Result<Node, Refusal>> {
    let setting = |world: &mut World, setting: GroupSetting, prev: Option<&str>| {
        change_setting(world, id, user, setting, prev).map(|()| nodes::iq_result(node, vec![]))
    };
    Some(match (kind, child) {
        ("set", action @ ("add" | "remove" | "promote" | "demote")) => {
            participants(world, node, request, id, user, action)
        }
        ("get" | "set", "invite") => invite(world, node, kind == "set", id, user),
        ("set", "subject") => {
            let subject = request.content_as_string().map(|s| s.to_string()).unwrap_or_default();
            setting(world, GroupSetting::Subject(subject), None)
        }
        ("set", "description") => {
            let text = request
                .get_optional_child("body")
                .and_then(|b| b.content_as_string())
                .map(|s| s.to_string());
            let text = if attr(request, "delete").as_deref() == Some("true") {
                None
            } else {
                text
            };
            let prev = attr(request, "prev");
            setting(world, GroupSetting::Description(text), prev.as_deref())
        }
        ("set", "locked") => setting(world, GroupSetting::Locked(true), None),
        ("set", "unlocked") => setting(world, GroupSetting::Locked(false), None),
        ("set", "announcement") => setting(world, GroupSetting::Announce(true), None),
        ("set", "not_announcement") => setting(world, GroupSetting::Announce(false), None),
        ("set", "membership_approval_mode") => {
            let on = request
                .get_optional_child("group_join")
                .and_then(|g| attr(g, "state"))
                .is_some_and(|s| s == "on");
            setting(world, GroupSetting::Approval(on), None)
        }
        ("get", "membership_approval_requests") => group_for(world, id, user, true).map(|group| {
            let requests = group.requests.iter().map(|(pn, at)| {
                NodeBuilder::new("membership_approval_request")
                    .attr("jid", Jid::pn(pn.as_str()))
                    .attr("request_time", at.to_string())
                    .build()
            });
            let list = NodeBuilder::new("membership_approval_requests")
                .children(requests)
                .build();
            nodes::iq_result(node, vec![list])
        }),
        ("set", "membership_requests_action") => requests_action(world, node, request, id, user),
        _ => return None,
    })
}

/// `<invite/>`: the group's code, a new one when `reset`.
fn invite(world: &mut World, node: &Node, reset: bool, id: &str, user: &str) -> Result<Node, Refusal> {
    let group = group_for(world, id, user, true)?;
    if reset {
        group.invite = new_invite_code();
    }
    let code = group.invite.clone();
    if reset {
        let action = NodeBuilder::new("invite").attr("code", code.as_str()).build();
        announce(world, id, user, &[], action);
    }
    Ok(nodes::iq_result(
        node,
        vec![NodeBuilder::new("invite").attr("code", code).build()],
    ))
}

/// `<add|remove|promote|demote>`: each participant's own answer, and one
/// notification of those changed.
fn participants(
    world: &mut World,
    node: &Node,
    request: &Node,
    id: &str,
    user: &str,
    action: &str,
) -> Result<Node, Refusal> {
    group_for(world, id, user, true)?;
    let mut answers = Vec::new();
    let mut changed = Vec::new();
    for jid in participant_jids(request) {
        let group = &world.groups[id];
        let error = match account_of(world, &jid) {
            None => Some(404),
            Some(pn) => {
                let member = group.participants.contains_key(&pn);
                let error = match action {
                    "add" if member => Some(409),
                    "add" => None,
                    _ if !member => Some(404),
                    _ => None,
                };
                if error.is_none() {
                    changed.push(pn);
                }
                error
            }
        };
        let mut answer = NodeBuilder::new("participant").attr("jid", jid.as_str());
        if let Some(code) = error {
            answer = answer.attr("error", code.to_string());
        }
        answers.push(answer.build());
    }
    if !changed.is_empty() {
        let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
        // The group exists: checked above.
        let _ = change_participants_in(world, id, user, GroupChange::from_tag(action), &changed);
    }
    let tag = GroupChange::from_tag(action).tag();
    Ok(nodes::iq_result(
        node,
        vec![NodeBuilder::new(tag).children(answers).build()],
    ))
}

/// `<membership_requests_action><approve|reject>`.
fn requests_action(world: &mut World, node: &Node, request: &Node, id: &str, user: &str) -> Result<Node, Refusal> {
    let decision = request.children().and_then(|c| c.first()).ok_or(CONFLICT)?;
    let approve = decision.tag == "approve";
    let group = group_for(world, id, user, true)?;
    let mut answers = Vec::new();
    let mut admitted = Vec::new();
    for jid in participant_jids(decision) {
        let pn = jid.split('@').next().unwrap_or_default().to_owned();
        let mut answer = NodeBuilder::new("participant").attr("jid", jid.as_str());
        if group.requests.iter().any(|(r, _)| *r == pn) {
            group.requests.retain(|(r, _)| *r != pn);
            if approve {
                admitted.push(pn);
            }
        } else {
            answer = answer.attr("error", NOT_FOUND.0.to_string());
        }
        answers.push(answer.build());
    }
    if !admitted.is_empty() {
        let admitted: Vec<&str> = admitted.iter().map(String::as_str).collect();
        let _ = change_participants_in(world, id, user, GroupChange::Add, &admitted);
    }
    let tag = if approve { "approve" } else { "reject" };
    let answer = NodeBuilder::new("membership_requests_action")
        .children([NodeBuilder::new(tag).children(answers).build()])
        .build();
    Ok(nodes::iq_result(node, vec![answer]))
}

/// Whether a `w:profile:picture` request is about a group.
pub fn targets_group(node: &Node) -> bool {
    node.attrs
        .get("target")
        .and_then(|v| v.to_jid())
        .is_some_and(|jid| jid.server == wacore_binary::Server::Group)
}

/// `w:profile:picture` `set` for a group: its photo, an admin's (or any
/// member's, unless the group is locked).
pub fn picture(inner: &Arc<Inner>, node: &Node, (user, _): &DeviceKey) -> Option<Node> {
    let target = node.attrs.get("target").and_then(|v| v.to_jid())?;
    if target.server != wacore_binary::Server::Group {
        return None;
    }
    let id = group_id(&target.user);
    let mut world = inner.world();
    let world = &mut *world;
    let answer = (|| {
        let group = group_for(world, &id, user, false)?;
        if group.locked && group.participants.get(user) == Some(&GroupRole::Member) {
            return Err(crate::group_admin::NOT_ADMIN);
        }
        let photo = format!("{}", rand::random_range(1_000_000_000u64..9_999_999_999));
        group.photo = Some(photo.clone());
        let jid = group.jid();
        let members: Vec<String> = group.participants.keys().cloned().collect();
        // Members' devices hear of it in a `picture` notification, not a `w:gp2` one.
        for device in crate::groups::companions_of(world, &members) {
            let id = world.next_id();
            let set = NodeBuilder::new("set")
                .attr("jid", jid.clone())
                .attr("id", photo.as_str())
                .attr("author", Jid::pn(user))
                .build();
            let notification = NodeBuilder::new("notification")
                .attr("from", jid.clone())
                .attr("type", "picture")
                .attr("id", id.as_str())
                .attr("t", nodes::now())
                .children([set])
                .build();
            world.deliver(device, "notification", notification);
        }
        Ok(nodes::iq_result(
            node,
            vec![NodeBuilder::new("picture").attr("id", photo).build()],
        ))
    })();
    Some(answer.unwrap_or_else(|(code, text)| nodes::iq_error(node, code, text)))
}
