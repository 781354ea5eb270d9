//! Calls, as WhatsApp signals them: a contact calls an account, and every
//! connected device of it gets a `<call from id t notify><offer call-id
//! call-creator [caller_pn]><audio enc rate/>…[<video/>]</offer></call>`
//! (`caller_pn` when the caller is named by its LID); the caller gives up, or
//! the call rings out, with a `<terminate call-id call-creator [reason]/>`.
//! A device rings back with `<receipt to id from><offer call-id
//! call-creator/></receipt>` and acks the `<call>` (class `call`); it
//! declines with `<call to id><reject call-id call-creator count/></call>`,
//! which is recorded ([`CallRejected`]). Calls are not queued for a device
//! that is not connected: a call rings now or not at all.
//!
//! A connection can also go deaf ([`Simulator::go_deaf`]): the socket stays
//! open, but nothing the client sends is answered and nothing more is sent to
//! it, the "connected but deaf" session a client's watchdog has to find.

use std::sync::Arc;
use std::time::Duration;

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use crate::nodes::{self, attr};
use crate::server::Inner;
use crate::{Contact, Result, SimError, Simulator, addressing};

/// A call a client declined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRejected {
    /// The declining device (`user:device@s.whatsapp.net`).
    pub device: String,
    /// Whom the reject went to (the `<call to>`: the caller's device).
    pub to: String,
    pub call_id: String,
    pub call_creator: String,
}

impl Contact {
    /// Calls every connected device of the account `to` (a voice call, or a
    /// `video` one); returns the call's id.
    pub fn call(&self, to: &str, video: bool) -> Result<String> {
        let to = self.account_of(to);
        let mut world = self.inner.world();
        let call_id = format!("CALL{}", world.next_id().trim_start_matches("sim-"));
        let stanza_id = world.next_id();
        let (caller, caller_pn) = addressing::named(&world, &self.pn);
        let notify = world
            .accounts
            .get(&self.pn)
            .map(|a| a.push_name.clone())
            .unwrap_or_default();
        let mut media = vec![
            NodeBuilder::new("audio")
                .attr("enc", "opus")
                .attr("rate", "16000")
                .build(),
            NodeBuilder::new("audio")
                .attr("enc", "opus")
                .attr("rate", "8000")
                .build(),
        ];
        if video {
            media.push(NodeBuilder::new("video").attr("enc", "vp8").build());
        }
        let mut offer = NodeBuilder::new("offer")
            .attr("call-id", call_id.as_str())
            .attr("call-creator", caller.with_device(0));
        if let Some(pn) = caller_pn {
            offer = offer.attr("caller_pn", pn);
        }
        let stanza = call_stanza(caller, &stanza_id, &notify, offer.children(media).build());
        ring(&world, &to, &stanza)?;
        Ok(call_id)
    }

    /// Stops the call `call_id` to `to`: the caller hung up (`reason` none),
    /// or it rang out (`timeout`).
    pub fn end_call(&self, to: &str, call_id: &str, reason: Option<&str>) -> Result<()> {
        let to = self.account_of(to);
        let mut world = self.inner.world();
        let stanza_id = world.next_id();
        let (caller, _) = addressing::named(&world, &self.pn);
        let mut terminate = NodeBuilder::new("terminate")
            .attr("call-id", call_id)
            .attr("call-creator", caller.with_device(0));
        if let Some(reason) = reason {
            terminate = terminate.attr("reason", reason);
        }
        let stanza = call_stanza(caller, &stanza_id, "", terminate.build());
        ring(&world, &to, &stanza)
    }
}

/// `<call from id t [notify]>` around one action.
fn call_stanza(caller: Jid, id: &str, notify: &str, action: Node) -> Node {
    let mut call = NodeBuilder::new("call").attr("from", caller).attr("id", id).attr(
        "t",
        std::time::UNIX_EPOCH
            .elapsed()
            .unwrap_or_default()
            .as_secs()
            .to_string(),
    );
    if !notify.is_empty() {
        call = call.attr("notify", notify);
    }
    call.children([action]).build()
}

/// Sends `stanza` to every connected (and not deaf) device of account `to`.
fn ring(world: &crate::state::World, to: &str, stanza: &Node) -> Result<()> {
    let account = world
        .accounts
        .get(to)
        .ok_or_else(|| SimError::UnknownAccount(to.to_owned()))?;
    for device in account.live_companions().map(|c| c.device) {
        if let Some((conn, c)) = world.conn_of(&(to.to_owned(), device))
            && c.active
        {
            world.send(conn, stanza.clone());
        }
    }
    Ok(())
}

/// A `<call>` a client sent: a `<reject>` is recorded; anything else is unhandled.
pub fn on_call(inner: &Arc<Inner>, conn: u64, node: &Node) {
    let reject = node.get_optional_child("reject");
    let device = inner.world().conns.get(&conn).and_then(|c| c.device.clone());
    let (Some(reject), Some((user, device))) = (reject, device) else {
        inner.unhandled(format!("call: {}", nodes::show(node)));
        return;
    };
    inner.world().call_rejects.push(CallRejected {
        device: Jid::pn_device(user.as_str(), device).to_string(),
        to: attr(node, "to").unwrap_or_default(),
        call_id: attr(reject, "call-id").unwrap_or_default(),
        call_creator: attr(reject, "call-creator").unwrap_or_default(),
    });
}

/// Whether a receipt is a device's ring-back for an offer (nothing to do:
/// the caller's phone would show "ringing").
pub fn is_offer_receipt(node: &Node) -> bool {
    node.get_optional_child("offer").is_some()
}

impl Simulator {
    /// The calls clients declined so far, in order.
    pub fn call_rejects(&self) -> Vec<CallRejected> {
        self.inner.world().call_rejects.clone()
    }

    /// Waits until clients declined at least `count` calls; all of them.
    pub async fn wait_call_rejects(&self, timeout: Duration, count: usize) -> Result<Vec<CallRejected>> {
        self.inner
            .wait_for(timeout, &format!("{count} rejected calls"), |w| {
                (w.call_rejects.len() >= count).then(|| w.call_rejects.clone())
            })
            .await
    }

    /// The device's connection goes deaf: it stays open, but what the client
    /// sends is dropped unanswered (its pings too) and nothing more is sent
    /// to it. Returns whether it was connected.
    pub fn go_deaf(&self, user: &str, device: u16) -> bool {
        let mut world = self.inner.world();
        let Some((conn, _)) = world.conn_of(&(user.to_owned(), device)) else {
            return false;
        };
        world.conns.get_mut(&conn).map(|c| c.deaf = true).is_some()
    }
}
