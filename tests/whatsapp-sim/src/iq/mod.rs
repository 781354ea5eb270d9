//! The IQs a client sends, routed by namespace and answered; the answers to
//! the server's own IQs matched to whoever waits for them. An IQ nobody
//! handles is answered with an error at once (the client would otherwise
//! wait 75 s) and recorded as unhandled.

mod appstate;
mod appstate_patch;
mod group_admin;
mod groups;
mod keys;
mod media_conn;
mod misc;
mod profile;
mod usync;

use std::sync::Arc;

use wacore_binary::Node;

use crate::nodes::{self, attr};
use crate::server::Inner;
use crate::state::{DeviceKey, ServerIq};
pub use appstate_patch::AppStateChange;

pub async fn handle(inner: &Arc<Inner>, conn: u64, node: Node) {
    let kind = attr(&node, "type").unwrap_or_default();
    if kind == "result" || kind == "error" {
        answer_to_server(inner, node);
        return;
    }
    let xmlns = attr(&node, "xmlns").unwrap_or_default();
    let child = node
        .children()
        .and_then(|c| c.first())
        .map(|c| c.tag.to_string())
        .unwrap_or_default();
    let device = inner.world().conns.get(&conn).and_then(|c| c.device.clone());
    let reply = match (xmlns.as_str(), kind.as_str(), child.as_str(), device) {
        ("passive", "set", "active" | "passive", Some(device)) => {
            misc::passive(inner, conn, &node, &device, child == "active");
            return;
        }
        ("w:p", "get", _, _) => Some(nodes::iq_result(&node, vec![])),
        ("encrypt", _, _, Some(device)) => keys::handle(inner, &node, &kind, &child, &device).await,
        ("usync", "get", "usync", Some(device)) => usync::handle(inner, &node, &device),
        ("abt", "get", "props", _) => Some(misc::ab_props(&node)),
        ("w", "get", "props", _) => Some(misc::props(&node)),
        ("blocklist", _, _, Some(device)) => profile::handle(inner, &node, &xmlns, &kind, &device),
        ("privacy", _, "privacy", Some(device)) => profile::handle(inner, &node, &xmlns, &kind, &device),
        ("blocklist", "get", _, _) => Some(misc::blocklist(&node)),
        ("privacy", "get", "privacy", _) => Some(misc::privacy(&node)),
        ("privacy", "set", "tokens", _) => Some(misc::privacy_tokens(&node)),
        ("md", "set", "link_code_companion_reg", None) => crate::pair_code::handle_iq(inner, conn, &node),
        ("md", "set", "remove-companion-device", Some(device)) => {
            Some(misc::remove_companion_device(inner, conn, &node, &device))
        }
        ("w:sync:app:state", "set", "sync", Some(device)) if appstate_patch::carries_patches(&node) => {
            Some(appstate_patch::upload(inner, &node, &device))
        }
        ("w:sync:app:state", "set", "sync", Some(device)) => Some(appstate::sync(inner, &node, &device)),
        ("w:g2", "get", "query" | "participating", Some(device)) => groups::handle(inner, &node, &child, &device),
        ("w:g2", _, _, Some(device)) => group_admin::handle(inner, &node, &kind, &child, &device),
        ("w:profile:picture", "set", _, Some(device)) if group_admin::targets_group(&node) => {
            group_admin::picture(inner, &node, &device)
        }
        ("w:profile:picture" | "status", _, _, Some(device)) => profile::handle(inner, &node, &xmlns, &kind, &device),
        ("w:m", "set", "media_conn", Some(_)) => media_conn::handle(inner, &node),
        _ => None,
    };
    let reply = reply.unwrap_or_else(|| {
        inner.unhandled(format!("iq: {}", nodes::show(&node)));
        nodes::iq_error(&node, 501, "feature-not-implemented")
    });
    inner.world().send(conn, reply);
}

/// A `result` or `error` from the client: the answer to one of our IQs.
fn answer_to_server(inner: &Arc<Inner>, node: Node) {
    let id = attr(&node, "id").unwrap_or_default();
    let pending = inner.world().server_iqs.remove(&id);
    match pending {
        Some(ServerIq::Waiter(tx)) => {
            let _ = tx.send(node);
        }
        Some(ServerIq::Expect(what)) => {
            if attr(&node, "type").as_deref() == Some("error") {
                inner.unhandled(format!("the client refused our {what}: {}", nodes::show(&node)));
            }
        }
        None => inner.unhandled(format!("iq answer to nothing we asked: {}", nodes::show(&node))),
    }
}

/// The device a connection is logged in as, for handlers that need it.
#[allow(dead_code)]
pub type Device = DeviceKey;
