//! Routes each stanza a client sends to its handler. Anything no handler
//! takes is recorded as unhandled (and logged as an error) so a test sees it.

use std::sync::Arc;

use tracing::debug;
use wacore_binary::{Jid, Node};

use crate::nodes;
use crate::server::Inner;
use crate::{calls, iq, messaging};

pub async fn handle(inner: &Arc<Inner>, conn: u64, node: Node) {
    match node.tag.as_ref() {
        "iq" => iq::handle(inner, conn, node).await,
        "message" => messaging::on_message(inner, conn, node).await,
        // A device ringing back for a call offer: the caller's phone shows "ringing".
        "receipt" if calls::is_offer_receipt(&node) => {}
        "receipt" => messaging::on_receipt(inner, conn, node),
        "call" => calls::on_call(inner, conn, &node),
        "ack" => messaging::on_ack(inner, conn, &node),
        // Availability and typing are fire-and-forget on WhatsApp too.
        "presence" | "chatstate" => record_presence(inner, conn, &node),
        "ib" if nodes::child_tags(&node) == "unified_session" => {}
        _ => inner.unhandled(format!("stanza: {}", nodes::show(&node))),
    }
}

/// `<presence type name [to]/>` or `<chatstate to><composing/></chatstate>`
/// (recorded as `composing`, `recording` or `paused`).
fn record_presence(inner: &Arc<Inner>, conn: u64, node: &Node) {
    debug!(target: "whatsapp_sim", conn, "{}", nodes::show(node));
    let mut world = inner.world();
    let from = world
        .conns
        .get(&conn)
        .and_then(|c| c.device.clone())
        .map(|(user, device)| Jid::pn_device(user.as_str(), device).to_string());
    let kind = if node.tag == "chatstate" {
        // Recording audio is `<composing media="audio"/>` on the wire.
        node.children().and_then(|c| c.first()).map(|c| {
            if c.tag == "composing" && nodes::attr(c, "media").as_deref() == Some("audio") {
                "recording".to_owned()
            } else {
                c.tag.to_string()
            }
        })
    } else {
        nodes::attr(node, "type")
    };
    world.presences.push(crate::PresenceSent {
        from: from.unwrap_or_default(),
        kind: kind.unwrap_or_else(|| "available".into()),
        to: nodes::attr(node, "to"),
        name: nodes::attr(node, "name"),
    });
}
