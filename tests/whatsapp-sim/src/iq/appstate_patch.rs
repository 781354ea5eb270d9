//! `w:sync:app:state` with patches: a device changes its account's app
//! state (a delete-for-me, say) by sending a patch of its own built on the
//! version it has. The collection takes it as its next version
//! (`app_state.rs` checks it the way WhatsApp's server does) and the answer
//! names that version; a patch built on an older version gets WhatsApp's
//! 409, after which the client syncs and builds again. What each taken
//! patch said, decrypted, is recorded for the tests
//! ([`crate::Simulator::app_state_changes`]).

use std::sync::Arc;

use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

use crate::app_state::{self, Refused};
use crate::nodes::{self, attr};
use crate::server::Inner;
use crate::state::DeviceKey;

/// One app state change a device made, as the server decrypted it.
#[derive(Debug, Clone)]
pub struct AppStateChange {
    /// The account (phone number) and the device that sent it.
    pub account: String,
    pub device: u16,
    pub collection: String,
    /// The mutation's index, e.g. `["deleteMessageForMe", chat, id, fromMe, participant]`.
    pub index: Vec<String>,
    pub value: waproto::whatsapp::SyncActionValue,
}

/// Whether the `<sync>` of `node` carries patches (rather than asking for them).
pub fn carries_patches(node: &Node) -> bool {
    node.get_optional_child("sync")
        .and_then(|s| s.children())
        .is_some_and(|c| c.iter().any(|c| c.get_optional_child("patch").is_some()))
}

pub fn upload(inner: &Arc<Inner>, node: &Node, device: &DeviceKey) -> Node {
    let collections: Vec<&Node> = node
        .get_optional_child("sync")
        .map(|s| s.get_children_by_tag("collection").collect())
        .unwrap_or_default();
    let mut world = inner.world();
    let pn = device.0.clone();
    let Some((key_id, key)) = world
        .accounts
        .get(&pn)
        .map(|a| (a.app_state_key_id.clone(), a.app_state_key))
    else {
        return nodes::iq_error(node, 404, "item-not-found");
    };
    let mut answers = Vec::with_capacity(collections.len());
    let mut changes = Vec::new();
    let mut invalid = Vec::new();
    {
        let Some(held) = app_state::collections(&mut world, &pn) else {
            return nodes::iq_error(node, 404, "item-not-found");
        };
        for collection in collections {
            let name = attr(collection, "name").unwrap_or_default();
            let base = attr(collection, "version").and_then(|v| v.parse().ok()).unwrap_or(0);
            let patch = collection.get_optional_child("patch").and_then(nodes::bytes);
            let taken = match (held.get_mut(&name), patch) {
                (Some(held), Some(patch)) => held.accept(&name, patch, base, &key_id, &key),
                (None, _) => Err(Refused::Invalid(format!("no collection {name}"))),
                (_, None) => Err(Refused::Invalid("a collection without its patch".to_owned())),
            };
            let answer = NodeBuilder::new("collection").attr("name", name.as_str());
            answers.push(match taken {
                Ok(taken) => {
                    changes.extend(taken.mutations.into_iter().map(|(index, value)| AppStateChange {
                        account: pn.clone(),
                        device: device.1,
                        collection: name.clone(),
                        index,
                        value,
                    }));
                    answer.attr("version", taken.version.to_string()).build()
                }
                Err(refused) => {
                    let (code, text) = match refused {
                        Refused::Conflict => (409, "conflict".to_owned()),
                        Refused::Invalid(why) => {
                            invalid.push(format!("{name}: {why}"));
                            (400, "bad-request".to_owned())
                        }
                    };
                    answer
                        .attr("type", "error")
                        .children([NodeBuilder::new("error")
                            .attr("code", code.to_string())
                            .attr("text", text)
                            .build()])
                        .build()
                }
            });
        }
    }
    world.app_state_changes.extend(changes);
    drop(world);
    // A device that computes app state wrongly is a finding, not a flake.
    for why in invalid {
        inner.unhandled(format!("app state patch refused: {why}: {}", nodes::show(node)));
    }
    nodes::iq_result(node, vec![NodeBuilder::new("sync").children(answers).build()])
}
