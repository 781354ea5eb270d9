//! What happens right after the handshake: a client with a login payload is
//! let in (`<success>`) or refused (`<failure reason="401">`, or
//! `<failure reason="402">` while its account is temporarily banned), a client with
//! registration data is offered pairing refs (`<pair-device>`); and the
//! bookkeeping when a connection closes.

use std::sync::Arc;

use base64::Engine as _;
use buffa::Message as _;
use tracing::{info, warn};
use wacore_binary::builder::NodeBuilder;
use waproto::whatsapp as wa;

use crate::nodes;
use crate::server::Inner;
use crate::state::{Outbound, Registration, ServerIq};

/// How many QR refs a pairing connection is offered (the client shows the
/// first for 60 s and each next one for 20 s).
const PAIRING_REFS: usize = 6;

pub async fn on_handshake(inner: &Arc<Inner>, conn: u64, payload: &wa::ClientPayload, client_static: [u8; 32]) {
    if let Some(reg) = payload.device_pairing_data.as_option() {
        offer_pairing(inner, conn, reg, client_static);
    } else if let Some(user) = payload.username {
        log_in(
            inner,
            conn,
            user.to_string(),
            payload.device.unwrap_or(0) as u16,
            client_static,
        );
    } else {
        inner.unhandled(format!(
            "login payload with neither username nor registration data: {payload:?}"
        ));
        refuse(inner, conn, "400");
    }
}

fn offer_pairing(
    inner: &Arc<Inner>,
    conn: u64,
    reg: &wa::client_payload::DevicePairingRegistrationData,
    noise_key: [u8; 32],
) {
    let key = |b: &Option<Vec<u8>>| b.as_deref().and_then(|b| <[u8; 32]>::try_from(b).ok());
    let (Some(identity), Some(signed_pre_key)) = (key(&reg.e_ident), key(&reg.e_skey_val)) else {
        inner.unhandled("registration data without identity or signed pre-key".into());
        refuse(inner, conn, "400");
        return;
    };
    let name = reg
        .device_props
        .as_deref()
        .and_then(|b| wa::DeviceProps::decode_from_slice(b).ok())
        .and_then(|p| p.os)
        .unwrap_or_default();
    let refs: Vec<String> = (0..PAIRING_REFS)
        .map(|_| {
            let raw: [u8; 16] = rand::random();
            format!("2@{}", base64::engine::general_purpose::STANDARD.encode(raw))
        })
        .collect();
    let mut world = inner.world();
    let id = world.next_id();
    let iq = NodeBuilder::new("iq")
        .attr("from", wacore_binary::SERVER_JID)
        .attr("type", "set")
        .attr("id", id.as_str())
        .attr("xmlns", "md")
        .children([NodeBuilder::new("pair-device")
            .children(
                refs.iter()
                    .map(|r| NodeBuilder::new("ref").bytes(r.as_bytes().to_vec()).build()),
            )
            .build()])
        .build();
    world.server_iqs.insert(id, ServerIq::Expect("pair-device"));
    world.registrations.retain(|r| r.conn != conn);
    world.registrations.push(Registration {
        conn,
        refs,
        noise_key,
        identity,
        registration_id: nodes::be_uint(reg.e_regid.as_deref().unwrap_or_default()),
        signed_pre_key_id: nodes::be_uint(reg.e_skey_id.as_deref().unwrap_or_default()),
        signed_pre_key,
        signed_pre_key_signature: reg.e_skey_sig.clone().unwrap_or_default(),
        name,
    });
    world.send(conn, iq);
    info!(target: "whatsapp_sim", conn, "offered pairing refs");
}

/// A temporary ban on an account, as WhatsApp reports it at login.
#[derive(Debug, Clone)]
pub struct Ban {
    pub until: std::time::Instant,
    /// WhatsApp's ban code (101: sent to too many people, ...).
    pub code: u32,
    pub message: String,
}

fn log_in(inner: &Arc<Inner>, conn: u64, user: String, device: u16, noise_key: [u8; 32]) {
    let mut world = inner.world();
    let now = std::time::Instant::now();
    world.bans.retain(|_, ban| ban.until > now);
    if let Some(ban) = world.bans.get(&user).cloned() {
        drop(world);
        // Whole seconds left, rounded up: the client waits at least until the ban ends.
        let left = ban.until.duration_since(now).as_millis().div_ceil(1000);
        warn!(target: "whatsapp_sim", conn, %user, device, left, "login of a banned account");
        let world = inner.world();
        if let Some(c) = world.conns.get(&conn) {
            let failure = NodeBuilder::new("failure")
                .attr("reason", "402")
                .attr("code", ban.code.to_string())
                .attr("expire", left.to_string())
                .attr("message", ban.message.as_str())
                .attr("location", "sim")
                .build();
            let _ = c.tx.send(Outbound::Node(failure));
            let _ = c.tx.send(Outbound::Close);
        }
        return;
    }
    let Some(account) = world.accounts.get(&user) else {
        drop(world);
        warn!(target: "whatsapp_sim", conn, %user, device, "login of an unknown account");
        refuse(inner, conn, "401");
        return;
    };
    let known = account
        .companions
        .get(&device)
        .filter(|c| !c.removed && c.noise_key == noise_key)
        .is_some();
    if !known {
        drop(world);
        warn!(target: "whatsapp_sim", conn, %user, device, "login of an unlinked device");
        refuse(inner, conn, "401");
        return;
    }
    let lid = account.lid.clone();
    let key = (user.clone(), device);
    // A second connection of the same device replaces the first, as on WhatsApp.
    if let Some((old, old_conn)) = world.conn_of(&key) {
        let conflict = NodeBuilder::new("stream:error")
            .children([NodeBuilder::new("conflict").attr("type", "replaced").build()])
            .build();
        let _ = old_conn.tx.send(Outbound::Node(conflict));
        let _ = old_conn.tx.send(Outbound::Close);
        if let Some(c) = world.conns.get_mut(&old) {
            c.device = None;
        }
    }
    if let Some(c) = world.conns.get_mut(&conn) {
        c.device = Some(key);
    }
    let success = NodeBuilder::new("success")
        .attr("t", nodes::now())
        .attr("location", "sim")
        .attr("creation", nodes::now())
        .attr("lid", format!("{lid}:{device}@lid"))
        .attr("props", "1")
        .attr("abprops", "1")
        .build();
    world.send(conn, success);
    info!(target: "whatsapp_sim", conn, %user, device, "logged in");
}

/// `<failure reason=…>` and the end of the connection.
fn refuse(inner: &Arc<Inner>, conn: u64, reason: &str) {
    let world = inner.world();
    if let Some(c) = world.conns.get(&conn) {
        let failure = NodeBuilder::new("failure")
            .attr("reason", reason)
            .attr("location", "sim")
            .build();
        let _ = c.tx.send(Outbound::Node(failure));
        let _ = c.tx.send(Outbound::Close);
    }
}

pub fn on_closed(inner: &Arc<Inner>, conn: u64) {
    let mut world = inner.world();
    world.conns.remove(&conn);
    world.registrations.retain(|r| r.conn != conn);
    for queue in world.queues.values_mut() {
        for item in queue.iter_mut().filter(|q| q.sent_on == Some(conn)) {
            // Unacknowledged: delivered again on the next connection.
            item.sent_on = None;
        }
    }
}
