//! `usync`: who is on WhatsApp, their LIDs, and their device lists (with the
//! signed key-index list an account with companions carries).

use std::sync::Arc;

use tracing::warn;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use crate::nodes;
use crate::server::Inner;
use crate::state::{Account, DeviceKey, World};

pub fn handle(inner: &Arc<Inner>, node: &Node, _device: &DeviceKey) -> Option<Node> {
    let usync = node.get_optional_child("usync")?;
    let protocols: Vec<String> = usync
        .get_optional_child("query")
        .and_then(|q| q.children())
        .map(|c| c.iter().map(|p| p.tag.to_string()).collect())
        .unwrap_or_default();
    let world = inner.world();
    let users: Vec<Node> = usync
        .get_optional_child("list")
        .map(|l| {
            l.get_children_by_tag("user")
                .map(|u| user_result(&world, u, &protocols))
                .collect()
        })
        .unwrap_or_default();
    let mut result = NodeBuilder::new("usync")
        .attr("sid", nodes::attr(usync, "sid").unwrap_or_default())
        .attr("mode", nodes::attr(usync, "mode").unwrap_or_else(|| "query".into()))
        .attr("last", "true")
        .attr("index", "0");
    if let Some(context) = nodes::attr(usync, "context") {
        result = result.attr("context", context);
    }
    let result = result
        .children([NodeBuilder::new("list").children(users).build()])
        .build();
    Some(nodes::iq_result(node, vec![result]))
}

fn user_result(world: &World, user: &Node, protocols: &[String]) -> Node {
    let asked_jid = user.attrs.get("jid").and_then(|v| v.to_jid()).map(|j| j.to_non_ad());
    let asked_phone = user
        .get_optional_child("contact")
        .and_then(|c| c.content_as_string())
        .map(|p| p.trim_start_matches('+').to_string());
    let account = match (&asked_jid, &asked_phone) {
        (Some(jid), _) => world.account_of(jid),
        (None, Some(phone)) => world.accounts.get(phone),
        _ => None,
    };
    let jid = asked_jid
        .clone()
        .unwrap_or_else(|| Jid::pn(asked_phone.clone().unwrap_or_default()));
    let mut b = NodeBuilder::new("user").attr("jid", jid.clone());
    if jid.is_lid()
        && let Some(a) = account
    {
        b = b.attr("pn_jid", a.jid());
    }
    let mut children = Vec::new();
    for protocol in protocols {
        match protocol.as_str() {
            "contact" => {
                let content = user
                    .get_optional_child("contact")
                    .and_then(|c| c.content_as_string())
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("+{}", jid.user));
                children.push(
                    NodeBuilder::new("contact")
                        .attr("type", if account.is_some() { "in" } else { "out" })
                        .string_content(content)
                        .build(),
                );
            }
            "lid" => children.push(match account {
                Some(a) => NodeBuilder::new("lid").attr("val", a.lid_jid()).build(),
                None => NodeBuilder::new("lid").build(),
            }),
            "devices" => children.push(devices(account)),
            "status" | "picture" => children.extend(super::profile::usync_result(world, protocol, &jid)),
            // Not a business; the client reads an absent node as "no".
            "business" => {}
            other => warn!(target: "whatsapp_sim", "usync protocol {other:?} left unanswered"),
        }
    }
    b.children(children).build()
}

fn devices(account: Option<&Account>) -> Node {
    let Some(account) = account else {
        return NodeBuilder::new("devices")
            .children([NodeBuilder::new("device-list").build()])
            .build();
    };
    let mut list = vec![NodeBuilder::new("device").attr("id", "0").build()];
    let companions: Vec<_> = account.live_companions().collect();
    for c in &companions {
        list.push(
            NodeBuilder::new("device")
                .attr("id", c.device.to_string())
                .attr("key-index", c.key_index.to_string())
                .build(),
        );
    }
    let mut children = vec![NodeBuilder::new("device-list").children(list).build()];
    if !companions.is_empty() {
        children.push(
            NodeBuilder::new("key-index-list")
                .attr("ts", account.key_index_ts.to_string())
                .bytes(account.signed_key_index_list.clone())
                .build(),
        );
    }
    NodeBuilder::new("devices").children(children).build()
}
