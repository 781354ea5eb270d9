//! `w:sync:app:state`: a device syncs app state collections. Each requested
//! collection is answered with the account's patches after the version the
//! device asks from (`app_state.rs` keeps them: the push name in
//! `critical_block`, mutations such as delete-for-me in `regular_high`);
//! a collection the account has nothing in stays at the device's version.
//! The version each device synced to is recorded, so the phone knows when
//! its devices are up to date.

use std::sync::Arc;

use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

use crate::app_state;
use crate::nodes::{self, attr};
use crate::server::Inner;
use crate::state::DeviceKey;

pub fn sync(inner: &Arc<Inner>, node: &Node, device: &DeviceKey) -> Node {
    let requested: Vec<(String, u64)> = node
        .get_optional_child("sync")
        .map(|s| {
            s.get_children_by_tag("collection")
                .map(|c| {
                    let name = attr(c, "name").unwrap_or_default();
                    // Absent when the device asks for a snapshot: it has nothing.
                    let version = attr(c, "version").and_then(|v| v.parse().ok()).unwrap_or(0);
                    (name, version)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut world = inner.world();
    let Some(collections) = app_state::collections(&mut world, &device.0) else {
        return nodes::iq_error(node, 404, "item-not-found");
    };
    let mut synced = Vec::with_capacity(requested.len());
    let answers: Vec<Node> = requested
        .into_iter()
        .map(|(name, version)| {
            let (latest, patches) = match collections.get(&name) {
                Some(c) if c.version() > version => (c.version(), c.patches_after(version).to_vec()),
                _ => (version, Vec::new()),
            };
            let mut b = NodeBuilder::new("collection")
                .attr("name", name.as_str())
                .attr("version", latest.to_string());
            if !patches.is_empty() {
                b = b.children([NodeBuilder::new("patches")
                    .children(patches.into_iter().map(|p| NodeBuilder::new("patch").bytes(p).build()))
                    .build()]);
            }
            synced.push(((device.clone(), name), latest));
            b.build()
        })
        .collect();
    world.app_state_synced.extend(synced);
    nodes::iq_result(node, vec![NodeBuilder::new("sync").children(answers).build()])
}
