//! `w:g2`: what a client asks about groups, answered from the server's group
//! state (`groups.rs`): one group's metadata (`<query request="interactive"/>`
//! to the group's JID) and every group the account is in (`<participating/>`
//! to `g.us`). A group the account is not in is `forbidden`, as on WhatsApp.

use std::sync::Arc;

use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

use crate::nodes;
use crate::server::Inner;
use crate::state::DeviceKey;

pub fn handle(inner: &Arc<Inner>, node: &Node, child: &str, (user, _): &DeviceKey) -> Option<Node> {
    let world = inner.world();
    match child {
        "query" => {
            let to = node.attrs.get("to").and_then(|v| v.to_jid())?;
            let Some(group) = world.groups.get(to.user.as_str()) else {
                return Some(nodes::iq_error(node, 404, "item-not-found"));
            };
            if !group.participants.contains_key(user) {
                return Some(nodes::iq_error(node, 403, "forbidden"));
            }
            Some(nodes::iq_result(node, vec![group.info_node(&world)]))
        }
        "participating" => {
            let groups = world
                .groups
                .values()
                .filter(|g| g.participants.contains_key(user))
                .map(|g| g.info_node(&world));
            Some(nodes::iq_result(
                node,
                vec![NodeBuilder::new("groups").children(groups).build()],
            ))
        }
        _ => None,
    }
}
