//! Message traffic. Out of the simulator: a simulated primary device (a
//! contact, or the phone) encrypts a `wa::Message` for every linked device
//! of the recipient and queues one `<message>` per device. Into it: a
//! client's `<message>` fans out per `<to>`; entries for a simulated device
//! are decrypted and recorded, entries for another real client are forwarded.
//! Receipts and acks travel the same way, the way WhatsApp's server does.

use std::sync::Arc;

use buffa::Message as _;
use tracing::{info, warn};
use wacore::messages::MessageUtils;
use wacore::types::message::EditAttribute;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::{PreKeySignalMessage, ProtocolAddress};
use waproto::whatsapp as wa;

use crate::error::{Result, SimError};
use crate::nodes::{self, attr, bytes};
use crate::server::Inner;
use crate::signal::{RemoteBundle, SignalDevice};
use crate::state::{DeviceKey, World};
use crate::{ReceivedMessage, ReceivedReceipt};
use crate::{addressing, message_secrets};

/// The Signal address a simulated device keeps its session with a device under.
pub fn address(user: &str, device: u16) -> ProtocolAddress {
    ProtocolAddress::new(&format!("{user}@s.whatsapp.net"), u32::from(device).into())
}

/// A message id in WhatsApp's shape (`3EB0` + 18 upper-case hex digits).
pub fn new_message_id() -> String {
    let raw: [u8; 9] = rand::random();
    format!("3EB0{}", hex::encode_upper(raw))
}

/// Encrypts `message` from `from`'s primary device for every linked device of
/// `to` and queues it for each; returns the message id.
pub async fn send_from_primary(
    inner: &Arc<Inner>,
    from: &str,
    to: &str,
    message: &wa::Message,
    category: Option<&str>,
) -> Result<String> {
    let devices: Vec<u16> = {
        let world = inner.world();
        world
            .accounts
            .get(from)
            .ok_or_else(|| SimError::UnknownAccount(from.to_owned()))?;
        let recipient = world
            .accounts
            .get(to)
            .ok_or_else(|| SimError::UnknownAccount(to.to_owned()))?;
        recipient.live_companions().map(|c| c.device).collect()
    };
    if devices.is_empty() {
        return Err(SimError::Protocol(format!("{to} has no linked device to deliver to")));
    }
    send_to_devices(inner, from, to, &devices, message, category).await
}

/// Sends to one device (e.g. the phone's key share to a new companion).
pub async fn send_to_device(
    inner: &Arc<Inner>,
    from: &str,
    to: DeviceKey,
    message: &wa::Message,
    category: Option<&str>,
) -> Result<String> {
    send_to_devices(inner, from, &to.0, &[to.1], message, category).await
}

async fn send_to_devices(
    inner: &Arc<Inner>,
    from: &str,
    to: &str,
    devices: &[u16],
    message: &wa::Message,
    category: Option<&str>,
) -> Result<String> {
    send_encrypted(inner, from, to, devices, message, category, false).await
}

/// Like [`send_from_primary`], but every device gets a ciphertext it cannot
/// decrypt: encrypted as usual (so the sender's session moves on as for any
/// message), then its MAC broken ([`break_mac`]). The client answers with a
/// retry receipt, which [`on_receipt`] then expects.
pub async fn send_undecryptable_from_primary(
    inner: &Arc<Inner>,
    from: &str,
    to: &str,
    message: &wa::Message,
) -> Result<String> {
    let devices: Vec<u16> = {
        let world = inner.world();
        let recipient = world
            .accounts
            .get(to)
            .ok_or_else(|| SimError::UnknownAccount(to.to_owned()))?;
        recipient.live_companions().map(|c| c.device).collect()
    };
    if devices.is_empty() {
        return Err(SimError::Protocol(format!("{to} has no linked device to deliver to")));
    }
    send_encrypted(inner, from, to, &devices, message, None, true).await
}

async fn send_encrypted(
    inner: &Arc<Inner>,
    from: &str,
    to: &str,
    devices: &[u16],
    message: &wa::Message,
    category: Option<&str>,
    garble: bool,
) -> Result<String> {
    let (primary, push_name, (from_jid, from_pn)) = {
        let world = inner.world();
        let sender = world
            .accounts
            .get(from)
            .ok_or_else(|| SimError::UnknownAccount(from.to_owned()))?;
        // The account's own devices know it by its phone number.
        let named = match category {
            None => addressing::named(&world, from),
            Some(_) => (Jid::pn(from), None),
        };
        (sender.primary.clone(), sender.push_name.clone(), named)
    };
    let id = new_message_id();
    if garble {
        inner.world().undecryptable.insert(id.clone());
    }
    // What a contact says carries a message secret, as from a phone; the
    // account's own protocol traffic does not.
    let (message, secret) = match category {
        None => message_secrets::with_secret(message),
        Some(_) => (std::borrow::Cow::Borrowed(message), None),
    };
    if let Some(secret) = secret {
        inner
            .world()
            .message_secrets
            .insert((from.to_owned(), id.clone()), secret);
    }
    let message = message.as_ref();
    let plaintext = MessageUtils::pad_message_v2(message.encode_to_vec());
    let mut signal = primary.lock().await;
    for &device in devices {
        let (kind, mut ciphertext) = encrypt_for(inner, &mut signal, to, device, &plaintext).await?;
        if garble {
            break_mac(kind, &mut ciphertext)?;
        }
        let mut node = content_attrs(
            NodeBuilder::new("message")
                .attr("from", from_jid.clone())
                .attr("id", id.as_str())
                .attr("t", nodes::now()),
            message,
        );
        if let Some(pn) = &from_pn {
            node = node.attr("sender_pn", pn.clone());
        }
        if !push_name.is_empty() {
            node = node.attr("notify", push_name.as_str());
        }
        if let Some(category) = category {
            node = node.attr("category", category);
        }
        let node = node.children([enc(kind, ciphertext, message)]).build();
        inner.world().deliver((to.to_owned(), device), "message", node);
    }
    info!(target: "whatsapp_sim", %from, %to, %id, "message sent");
    Ok(id)
}

/// Encrypts `plaintext` from a simulated device for a companion of `user`
/// over their pairwise session, starting it from the companion's bundle
/// when there is none yet: `("pkmsg" | "msg", ciphertext)`.
pub(crate) async fn encrypt_for(
    inner: &Arc<Inner>,
    signal: &mut SignalDevice,
    user: &str,
    device: u16,
    plaintext: &[u8],
) -> Result<(&'static str, Vec<u8>)> {
    let addr = address(user, device);
    if !signal.has_session(&addr) {
        let bundle = companion_bundle(&mut inner.world(), user, device)
            .ok_or_else(|| SimError::Protocol(format!("no keys for {user}:{device}")))?;
        signal.start_session(&addr, &bundle).await?;
    }
    signal.encrypt(&addr, plaintext).await
}

/// Flips the last byte of the Signal message's MAC in `ciphertext`: a `msg`
/// is a Signal message; a `pkmsg` carries one as a field (its last byte is
/// not the MAC), so the field is found and broken there, which keeps the
/// envelope parseable. The client then fails on the MAC (`BadMac`) and asks
/// for a retry, as it does when a real ciphertext is damaged.
fn break_mac(kind: &str, ciphertext: &mut [u8]) -> Result<()> {
    let end = match kind {
        "pkmsg" => {
            let envelope = PreKeySignalMessage::try_from(&ciphertext[..])?;
            let inner = envelope.message().serialized();
            ciphertext
                .windows(inner.len())
                .position(|window| window == inner)
                .map(|at| at + inner.len())
                .ok_or_else(|| SimError::Protocol("the pkmsg does not hold its message".to_owned()))?
        }
        _ => ciphertext.len(),
    };
    if let Some(last) = end.checked_sub(1).and_then(|at| ciphertext.get_mut(at)) {
        *last ^= 0xff;
    }
    Ok(())
}

/// The `<message>` attributes a message's content decides, as whatsapp-rust
/// sets them when it sends (and the server passes them on): `type` (`text`,
/// `media`, `reaction`, ...) and, for edits and revokes, `edit`.
pub(crate) fn content_attrs(b: NodeBuilder, message: &wa::Message) -> NodeBuilder {
    let b = b.attr("type", wacore::send::stanza_type_from_message(message));
    match EditAttribute::infer_from_message(message) {
        Some(edit) if edit != EditAttribute::Empty => b.attr("edit", edit.to_string_val()),
        _ => b,
    }
}

/// An `<enc v="2">` with its Signal `type` and, for media, its `mediatype`.
pub(crate) fn enc(kind: &str, ciphertext: Vec<u8>, message: &wa::Message) -> Node {
    let mut b = NodeBuilder::new("enc").attr("v", "2").attr("type", kind);
    if let Some(media) = wacore::send::media_type_from_message(message) {
        b = b.attr("mediatype", media);
    }
    b.bytes(ciphertext).build()
}

/// A companion's bundle as the server hands it out (one one-time key used up).
fn companion_bundle(world: &mut World, user: &str, device: u16) -> Option<RemoteBundle> {
    let c = world.accounts.get_mut(user)?.companions.get_mut(&device)?;
    Some(RemoteBundle {
        registration_id: c.registration_id,
        device_id: u32::from(device),
        identity: c.identity,
        signed_pre_key_id: c.signed_pre_key_id,
        signed_pre_key: c.signed_pre_key,
        signed_pre_key_signature: c.signed_pre_key_signature.clone(),
        pre_key: c.pre_keys.pop_first(),
    })
}

/// A client sent a `<message>`.
pub async fn on_message(inner: &Arc<Inner>, conn: u64, node: Node) {
    let Some(sender) = logged_in(inner, conn, &node) else {
        return;
    };
    let (Some(to), Some(id)) = (node.attrs.get("to").and_then(|v| v.to_jid()), attr(&node, "id")) else {
        inner.unhandled(format!("message without to/id: {}", nodes::show(&node)));
        return;
    };
    // An id this account's clients sent before is acknowledged, not
    // delivered again, as WhatsApp does (a resend after a crash).
    if !crate::dedupe::is_retry_resend(&node) && !inner.world().taken.first_time(&sender.0, &id) {
        info!(target: "whatsapp_sim", from = %sender.0, %id, "a message id taken before: acknowledged only");
        ack_message(inner, conn, &id, to);
        return;
    }
    let mut entries: Vec<(Jid, &Node)> = Vec::new();
    if let Some(participants) = node.get_optional_child("participants") {
        for to_node in participants.get_children_by_tag("to") {
            if let (Some(jid), Some(enc)) = (
                to_node.attrs.get("jid").and_then(|v| v.to_jid()),
                to_node.get_optional_child("enc"),
            ) {
                entries.push((jid, enc));
            }
        }
    }
    for enc in node.get_children_by_tag("enc") {
        entries.push((to.clone(), enc));
    }
    if entries.is_empty() {
        inner.unhandled(format!("message with nothing we can route: {}", nodes::show(&node)));
    }
    let device_identity = node.get_optional_child("device-identity").cloned();
    let message_type = attr(&node, "type").unwrap_or_else(|| "text".into());
    let category = attr(&node, "category");
    for (device_jid, enc) in entries {
        if device_jid.server == wacore_binary::Server::Group {
            crate::group_receive::receive_group_message(inner, &sender, &device_jid, &id, enc).await;
            continue;
        }
        let target = inner.world().pn_of(&device_jid);
        let Some(target) = target else {
            inner.unhandled(format!("message to an address we do not know: {device_jid}"));
            continue;
        };
        if device_jid.device == 0 {
            receive_on_primary(inner, &sender, &target, &to, &id, enc, category.as_deref()).await;
        } else {
            forward(
                inner,
                &sender,
                (target, device_jid.device),
                &to,
                &id,
                &message_type,
                enc,
                device_identity.as_ref(),
            );
        }
    }
    ack_message(inner, conn, &id, to);
}

/// The server's ack of a client's `<message>` `id` to `to`, sent now or,
/// while the connection's acks are held, once they are released.
fn ack_message(inner: &Arc<Inner>, conn: u64, id: &str, to: Jid) {
    let ack = NodeBuilder::new("ack")
        .attr("class", "message")
        .attr("id", id)
        .attr("from", to)
        .attr("t", nodes::now())
        .build();
    crate::held_acks::ack_or_hold(&mut inner.world(), conn, ack);
}

/// Decrypts an entry addressed to a simulated primary device and records it.
async fn receive_on_primary(
    inner: &Arc<Inner>,
    sender: &DeviceKey,
    account: &str,
    chat: &Jid,
    id: &str,
    enc: &Node,
    category: Option<&str>,
) {
    let primary = inner.world().accounts.get(account).map(|a| a.primary.clone());
    let Some(primary) = primary else {
        inner.unhandled(format!("message for {account}, which has no simulated device"));
        return;
    };
    let kind = attr(enc, "type").unwrap_or_default();
    let ciphertext = bytes(enc).unwrap_or_default();
    let decrypted = primary
        .lock()
        .await
        .decrypt(&address(&sender.0, sender.1), &kind, ciphertext)
        .await;
    let message = match decrypted.and_then(|p| {
        wacore::messages::decode_plaintext(&p, 2).map_err(|e| SimError::Protocol(format!("plaintext: {e}")))
    }) {
        Ok(m) => m,
        Err(e) => {
            inner.unhandled(format!(
                "{account} could not decrypt {kind} {id} from {}:{}: {e}",
                sender.0, sender.1
            ));
            return;
        }
    };
    let from_self = sender.0 == account;
    let inner_message = wacore::messages::unwrap_device_sent(message.clone());
    // A sender key for a group: kept for the group message that follows.
    if crate::group_receive::take_sender_key(&mut *primary.lock().await, sender, &inner_message).await {
        return;
    }
    let text = text_of(&inner_message);
    let received = ReceivedMessage {
        id: id.to_owned(),
        from: Jid::pn_device(sender.0.as_str(), sender.1).to_string(),
        to: account.to_owned(),
        chat: chat.to_non_ad().to_string(),
        text,
        category: category.map(str::to_owned),
        message: inner_message,
    };
    info!(target: "whatsapp_sim", %account, %id, from = %received.from, text = ?received.text, "simulated device received");
    if let Some(a) = inner.world().accounts.get_mut(account) {
        a.inbox.push(received);
    }
    // A phone acknowledges what it decrypted for someone else; the copy of
    // the sender's own message and peer traffic get no delivery receipt.
    if !from_self && category.is_none() && inner.auto_delivery_receipts.load(std::sync::atomic::Ordering::Relaxed) {
        send_receipt(inner, account, sender, &[id.to_owned()], None);
    }
}

/// A receipt from a simulated device to one device of a client.
pub fn send_receipt(inner: &Arc<Inner>, from: &str, to: &DeviceKey, ids: &[String], kind: Option<&str>) {
    let Some((first, rest)) = ids.split_first() else { return };
    let (from_jid, _) = addressing::named(&inner.world(), from);
    let mut b = NodeBuilder::new("receipt")
        .attr("from", from_jid)
        .attr("id", first.as_str())
        .attr("t", nodes::now());
    if let Some(kind) = kind {
        b = b.attr("type", kind);
    }
    if !rest.is_empty() {
        b = b.children([NodeBuilder::new("list")
            .children(
                rest.iter()
                    .map(|id| NodeBuilder::new("item").attr("id", id.as_str()).build()),
            )
            .build()]);
    }
    inner.world().deliver(to.clone(), "receipt", b.build());
}

/// Passes an entry on to another real client's device.
#[allow(clippy::too_many_arguments)]
fn forward(
    inner: &Arc<Inner>,
    sender: &DeviceKey,
    target: DeviceKey,
    to: &Jid,
    id: &str,
    message_type: &str,
    enc: &Node,
    device_identity: Option<&Node>,
) {
    let mut b = NodeBuilder::new("message")
        .attr("from", Jid::pn_device(sender.0.as_str(), sender.1))
        .attr("id", id)
        .attr("t", nodes::now())
        .attr("type", message_type);
    if sender.0 == target.0 {
        // A copy for the sender's own other device names the chat.
        b = b.attr("recipient", to.to_non_ad());
    }
    let mut children = vec![enc.clone()];
    if attr(enc, "type").as_deref() == Some("pkmsg")
        && let Some(identity) = device_identity
    {
        children.push(identity.clone());
    }
    let mut world = inner.world();
    let known = world
        .accounts
        .get(&target.0)
        .and_then(|a| a.companions.get(&target.1))
        .is_some_and(|c| !c.removed);
    if known {
        world.deliver(target, "message", b.children(children).build());
    } else {
        drop(world);
        warn!(target: "whatsapp_sim", "message {id} for the unknown device {}:{}", target.0, target.1);
    }
}

/// A client sent a `<receipt>` for something it received.
pub fn on_receipt(inner: &Arc<Inner>, conn: u64, node: Node) {
    let Some(sender) = logged_in(inner, conn, &node) else {
        return;
    };
    let (Some(to), Some(id)) = (node.attrs.get("to").and_then(|v| v.to_jid()), attr(&node, "id")) else {
        inner.unhandled(format!("receipt without to/id: {}", nodes::show(&node)));
        return;
    };
    let kind = attr(&node, "type").unwrap_or_else(|| "delivery".into());
    let mut ids = vec![id.clone()];
    if let Some(list) = node.get_optional_child("list") {
        ids.extend(list.get_children_by_tag("item").filter_map(|i| attr(i, "id")));
    }
    // A retry receipt is expected for a message garbled on purpose (the
    // sender does not send it again: the test wanted it undecryptable); for
    // any other, the client failed to decrypt what it should have.
    let expected_retry = kind == "retry" && inner.world().undecryptable.contains(&id);
    if kind == "retry" && !expected_retry {
        inner.unhandled(format!(
            "the client could not decrypt {id} and asks for a retry: {}",
            nodes::show(&node)
        ));
    }
    let mut world = inner.world();
    // On WhatsApp a receipt is what acknowledges a delivered message; a retry
    // receipt is not (the client's transport ack that follows it is).
    if kind != "retry"
        && let Some(queue) = world.queues.get_mut(&sender)
    {
        queue.retain(|q| !(q.class == "message" && ids.contains(&q.id)));
    }
    // A receipt for a group message goes to the group, naming its sender
    // as `participant`: that sender's phone is who gets it.
    let recipient = world.pn_of(&to).or_else(|| {
        node.attrs
            .get("participant")
            .and_then(|v| v.to_jid())
            .and_then(|p| world.pn_of(&p))
    });
    if let Some(pn) = recipient
        && let Some(account) = world.accounts.get_mut(&pn)
    {
        account.receipts.push(ReceivedReceipt {
            ids,
            from: Jid::pn_device(sender.0.as_str(), sender.1).to_string(),
            kind: kind.clone(),
        });
    }
    let mut ack = NodeBuilder::new("ack")
        .attr("class", "receipt")
        .attr("id", id.as_str())
        .attr("from", to);
    if kind != "delivery" {
        ack = ack.attr("type", kind.as_str());
    }
    world.send(conn, ack.build());
}

/// A client acknowledged a stanza we delivered: it leaves the queue.
pub fn on_ack(inner: &Arc<Inner>, conn: u64, node: &Node) {
    let id = attr(node, "id").unwrap_or_default();
    let class = attr(node, "class").unwrap_or_default();
    // Calls are not queued (`calls.rs`): their acks close nothing.
    if class == "call" {
        return;
    }
    let kind = attr(node, "type");
    let mut world = inner.world();
    let device = world.conns.get(&conn).and_then(|c| c.device.clone());
    let Some(device) = device else { return };
    let Some(queue) = world.queues.get_mut(&device) else {
        return;
    };
    // A receipt's ack names its type; a message's ack may name the
    // message type, so the type only narrows the match for receipts.
    let matches = |q: &&crate::state::Queued| q.id == id && q.class == class && (class != "receipt" || q.kind == kind);
    match queue.iter().position(|q| matches(&q)) {
        Some(pos) => {
            queue.remove(pos);
        }
        None => {
            drop(world);
            warn!(target: "whatsapp_sim", conn, %id, %class, "ack for nothing pending");
        }
    }
}

/// The device a connection is logged in as; records the stanza otherwise.
fn logged_in(inner: &Arc<Inner>, conn: u64, node: &Node) -> Option<DeviceKey> {
    let device = inner.world().conns.get(&conn).and_then(|c| c.device.clone());
    if device.is_none() {
        inner.unhandled(format!("{} before login: {}", node.tag, nodes::show(node)));
    }
    device
}

/// The text of a text message.
pub fn text_of(message: &wa::Message) -> Option<String> {
    message
        .conversation
        .clone()
        .or_else(|| message.extended_text_message.as_option().and_then(|m| m.text.clone()))
}
