//! The small IQs of a login: passive/active, props, blocklist, privacy, and
//! the client's own logout (`remove-companion-device`).

use std::sync::Arc;

use tracing::info;
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

use crate::nodes;
use crate::server::Inner;
use crate::state::{DeviceKey, Outbound};

/// `<active/>` opens delivery: everything queued for the device goes out,
/// then `<ib><offline count/>` tells the client the backlog is complete.
pub fn passive(inner: &Arc<Inner>, conn: u64, node: &Node, device: &DeviceKey, active: bool) {
    let mut world = inner.world();
    let result = nodes::iq_result(node, vec![]);
    let Some(c) = world.conns.get_mut(&conn) else {
        return;
    };
    let logged_in = active && !c.active;
    c.active = active;
    let tx = c.tx.clone();
    let pattern = c.pattern;
    if logged_in {
        world.logins.entry(device.clone()).or_default().push(pattern);
    }
    let _ = tx.send(Outbound::Node(result));
    if !active {
        return;
    }
    let mut count = 0;
    if let Some(queue) = world.queues.get_mut(device) {
        for item in queue.iter_mut() {
            let mut node = item.node.clone();
            node.attrs.insert("offline", "1");
            if tx.send(Outbound::Node(node)).is_ok() {
                item.sent_on = Some(conn);
                count += 1;
            }
        }
    }
    let offline = NodeBuilder::new("ib")
        .children([NodeBuilder::new("offline").attr("count", count.to_string()).build()])
        .build();
    let _ = tx.send(Outbound::Node(offline));
    info!(target: "whatsapp_sim", conn, user = %device.0, device = device.1, count, "active; offline backlog delivered");
}

pub fn ab_props(node: &Node) -> Node {
    let props = NodeBuilder::new("props")
        .attr("protocol", "1")
        .attr("ab_key", "sim")
        .attr("hash", "sim")
        .attr("refresh", "86400")
        .attr("refresh_id", "1")
        .build();
    nodes::iq_result(node, vec![props])
}

pub fn props(node: &Node) -> Node {
    let props = NodeBuilder::new("props")
        .attr("protocol", "2")
        .attr("hash", "sim")
        .build();
    nodes::iq_result(node, vec![props])
}

pub fn blocklist(node: &Node) -> Node {
    nodes::iq_result(node, vec![NodeBuilder::new("list").build()])
}

pub fn privacy(node: &Node) -> Node {
    // Before login; a logged-in device gets its account's (`iq/profile.rs`).
    let categories = crate::profiles::DEFAULT_PRIVACY.into_iter().map(|(name, value)| {
        NodeBuilder::new("category")
            .attr("name", name)
            .attr("value", value)
            .build()
    });
    nodes::iq_result(node, vec![NodeBuilder::new("privacy").children(categories).build()])
}

/// Trusted-contact tokens the client issues to a contact: each comes back
/// with its token bytes.
pub fn privacy_tokens(node: &Node) -> Node {
    let tokens = node
        .get_optional_child("tokens")
        .map(|t| {
            t.get_children_by_tag("token")
                .map(|token| {
                    let mut b = NodeBuilder::new("token");
                    for key in ["jid", "t", "type"] {
                        if let Some(v) = nodes::attr(token, key) {
                            b = b.attr(key, v);
                        }
                    }
                    b.bytes(rand::random::<[u8; 16]>().to_vec()).build()
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    nodes::iq_result(node, vec![NodeBuilder::new("tokens").children(tokens).build()])
}

/// The client logs itself out: the device is removed from the account.
pub fn remove_companion_device(inner: &Arc<Inner>, conn: u64, node: &Node, device: &DeviceKey) -> Node {
    let target = node
        .children()
        .and_then(|c| c.first())
        .and_then(|c| c.attrs.get("jid"))
        .and_then(|v| v.to_jid());
    let mut world = inner.world();
    let (user, id) = match &target {
        Some(jid) => (world.pn_of(jid).unwrap_or_default(), jid.device),
        None => device.clone(),
    };
    if let Some(companion) = world.accounts.get_mut(&user).and_then(|a| a.companions.get_mut(&id)) {
        companion.removed = true;
    }
    world.queues.remove(&(user.clone(), id));
    info!(target: "whatsapp_sim", conn, %user, device = id, "device logged itself out");
    nodes::iq_result(node, vec![])
}
