//! An account's own profile and privacy: the blocklist (`blocklist`), the
//! privacy settings (`privacy`), profile pictures (`w:profile:picture`: any
//! account's, asked by `target`; the account's own, set), and the about
//! text (`status`). What a client changes is kept in `World::profiles`.

use std::sync::Arc;

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use crate::nodes::{self, attr};
use crate::profiles::{DEFAULT_PRIVACY, new_picture_id, picture_url, sha256_hex};
use crate::server::Inner;
use crate::state::DeviceKey;

pub fn handle(inner: &Arc<Inner>, node: &Node, xmlns: &str, kind: &str, device: &DeviceKey) -> Option<Node> {
    let me = device.0.clone();
    match (xmlns, kind) {
        ("blocklist", "get") => Some(blocklist(inner, node, &me)),
        ("blocklist", "set") => block(inner, node, &me),
        ("privacy", "get") => Some(privacy(inner, node, &me)),
        ("privacy", "set") => set_privacy(inner, node, &me),
        ("w:profile:picture", "get") => Some(picture(inner, node)),
        ("w:profile:picture", "set") => Some(set_picture(inner, node, &me)),
        ("status", "set") => set_about(inner, node, &me),
        _ => None,
    }
}

fn blocklist(inner: &Arc<Inner>, node: &Node, me: &str) -> Node {
    let world = inner.world();
    let items: Vec<Node> = world
        .profiles
        .get(me)
        .map(|p| {
            p.blocked
                .keys()
                .map(|jid| NodeBuilder::new("item").attr("jid", jid.as_str()).build())
                .collect()
        })
        .unwrap_or_default();
    nodes::iq_result(node, vec![NodeBuilder::new("list").children(items).build()])
}

/// `<item action="block" jid="…@lid" pn_jid="…"/>` or `action="unblock"`.
fn block(inner: &Arc<Inner>, node: &Node, me: &str) -> Option<Node> {
    let item = node.get_optional_child("item")?;
    let jid = attr(item, "jid")?;
    let action = attr(item, "action")?;
    let mut world = inner.world();
    let profile = world.profiles.entry(me.to_owned()).or_default();
    match action.as_str() {
        "block" => {
            profile.blocked.insert(jid, attr(item, "pn_jid"));
        }
        "unblock" => {
            profile.blocked.remove(&jid);
        }
        _ => return None,
    }
    Some(nodes::iq_result(node, vec![]))
}

fn privacy(inner: &Arc<Inner>, node: &Node, me: &str) -> Node {
    let world = inner.world();
    let changed = world.profiles.get(me).map(|p| p.privacy.clone()).unwrap_or_default();
    let categories = DEFAULT_PRIVACY.into_iter().map(|(name, default)| {
        let value = changed.get(name).map(String::as_str).unwrap_or(default);
        NodeBuilder::new("category")
            .attr("name", name)
            .attr("value", value)
            .build()
    });
    nodes::iq_result(node, vec![NodeBuilder::new("privacy").children(categories).build()])
}

fn set_privacy(inner: &Arc<Inner>, node: &Node, me: &str) -> Option<Node> {
    let category = node.get_optional_child("privacy")?.get_optional_child("category")?;
    let (name, value) = (attr(category, "name")?, attr(category, "value")?);
    let mut world = inner.world();
    let profile = world.profiles.entry(me.to_owned()).or_default();
    profile.privacy.insert(name.clone(), value.clone());
    let echo = NodeBuilder::new("category")
        .attr("name", name)
        .attr("value", value)
        .build();
    Some(nodes::iq_result(
        node,
        vec![NodeBuilder::new("privacy").children([echo]).build()],
    ))
}

/// The picture of the account `target` names: its id and URL, or 404.
fn picture(inner: &Arc<Inner>, node: &Node) -> Node {
    let world = inner.world();
    let target = node.attrs.get("target").and_then(|v| v.to_jid());
    let id = target
        .as_ref()
        .and_then(|jid| world.pn_of(jid))
        .and_then(|pn| world.profiles.get(&pn))
        .and_then(|p| p.picture_id.clone());
    match id {
        Some(id) => {
            let picture = NodeBuilder::new("picture")
                .attr("id", id.as_str())
                .attr("url", picture_url(&id))
                .attr("direct_path", format!("/v/{id}.jpg"))
                .build();
            nodes::iq_result(node, vec![picture])
        }
        None => nodes::iq_error(node, 404, "item-not-found"),
    }
}

/// `<picture type="image">{jpeg}</picture>` sets the account's own picture;
/// no child removes it.
fn set_picture(inner: &Arc<Inner>, node: &Node, me: &str) -> Node {
    let image = node
        .get_optional_child("picture")
        .and_then(nodes::bytes)
        .map(<[u8]>::to_vec);
    let mut world = inner.world();
    let profile = world.profiles.entry(me.to_owned()).or_default();
    match image {
        Some(image) => {
            let id = new_picture_id();
            profile.picture_sha256 = Some(sha256_hex(&image));
            profile.picture_id = Some(id.clone());
            nodes::iq_result(node, vec![NodeBuilder::new("picture").attr("id", id).build()])
        }
        None => {
            profile.picture_id = None;
            profile.picture_sha256 = None;
            nodes::iq_result(node, vec![])
        }
    }
}

fn set_about(inner: &Arc<Inner>, node: &Node, me: &str) -> Option<Node> {
    let text = node.get_optional_child("status")?.content_as_string()?.to_string();
    let mut world = inner.world();
    world.profiles.entry(me.to_owned()).or_default().about = Some(text);
    Some(nodes::iq_result(node, vec![]))
}

/// The usync `status` and `picture` results for account `pn`.
pub fn usync_result(world: &crate::state::World, protocol: &str, jid: &Jid) -> Option<Node> {
    let profile = world.pn_of(jid).and_then(|pn| world.profiles.get(&pn));
    match protocol {
        "status" => {
            let b = NodeBuilder::new("status").attr("t", nodes::now());
            Some(match profile.and_then(|p| p.about.clone()) {
                Some(about) => b.string_content(about).build(),
                None => b.build(),
            })
        }
        "picture" => profile
            .and_then(|p| p.picture_id.clone())
            .map(|id| NodeBuilder::new("picture").attr("id", id).build()),
        _ => None,
    }
}
