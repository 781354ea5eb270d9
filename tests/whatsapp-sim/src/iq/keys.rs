//! The `encrypt` namespace: a client uploads its pre-keys, asks how many the
//! server holds and for a digest of its bundle, rotates its signed pre-key,
//! and fetches other devices' bundles to start sessions.

use std::sync::Arc;

use sha1::{Digest, Sha1};
use tracing::info;
use wacore::iq::prekeys::{OneTimePreKeyNode, PreKeyBundleUserNode, SignedPreKeyNode};
use wacore::protocol::ProtocolNode;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use crate::nodes::{self, bytes};
use crate::server::Inner;
use crate::state::DeviceKey;

pub async fn handle(inner: &Arc<Inner>, node: &Node, kind: &str, child: &str, device: &DeviceKey) -> Option<Node> {
    match (kind, child) {
        ("get", "count") => Some(count(inner, node, device)),
        ("get", "digest") => Some(digest(inner, node, device)),
        ("get", "key") => Some(fetch(inner, node).await),
        ("set", "rotate") => rotate(inner, node, device),
        ("set", _) if node.get_optional_child("list").is_some() => upload(inner, node, device),
        _ => None,
    }
}

fn count(inner: &Arc<Inner>, node: &Node, (user, id): &DeviceKey) -> Node {
    let world = inner.world();
    let n = world
        .accounts
        .get(user)
        .and_then(|a| a.companions.get(id))
        .map_or(0, |c| c.pre_keys.len());
    nodes::iq_result(
        node,
        vec![NodeBuilder::new("count").attr("value", n.to_string()).build()],
    )
}

fn upload(inner: &Arc<Inner>, node: &Node, (user, id): &DeviceKey) -> Option<Node> {
    let signed = SignedPreKeyNode::try_from_node_ref(&node.get_optional_child("skey")?.as_node_ref()).ok()?;
    let keys: Vec<OneTimePreKeyNode> = node
        .get_optional_child("list")?
        .get_children_by_tag("key")
        .filter_map(|k| OneTimePreKeyNode::try_from_node_ref(&k.as_node_ref()).ok())
        .collect();
    let identity = node
        .get_optional_child("identity")
        .and_then(bytes)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())?;
    let registration = node
        .get_optional_child("registration")
        .and_then(bytes)
        .map(nodes::be_uint)?;
    let mut world = inner.world();
    let companion = world.accounts.get_mut(user)?.companions.get_mut(id)?;
    companion.identity = identity;
    companion.registration_id = registration;
    companion.signed_pre_key_id = signed.id;
    companion.signed_pre_key = <[u8; 32]>::try_from(signed.public_bytes.as_slice()).ok()?;
    companion.signed_pre_key_signature = signed.signature;
    let uploaded = keys.len();
    for key in keys {
        if let Ok(public) = <[u8; 32]>::try_from(key.public_bytes.as_slice()) {
            companion.pre_keys.insert(key.id, public);
        }
    }
    info!(target: "whatsapp_sim", %user, device = id, uploaded, "pre-keys uploaded");
    Some(nodes::iq_result(node, vec![]))
}

fn rotate(inner: &Arc<Inner>, node: &Node, (user, id): &DeviceKey) -> Option<Node> {
    let skey = node.get_optional_child("rotate")?.get_optional_child("skey")?;
    let signed = SignedPreKeyNode::try_from_node_ref(&skey.as_node_ref()).ok()?;
    let mut world = inner.world();
    let companion = world.accounts.get_mut(user)?.companions.get_mut(id)?;
    companion.signed_pre_key_id = signed.id;
    companion.signed_pre_key = <[u8; 32]>::try_from(signed.public_bytes.as_slice()).ok()?;
    companion.signed_pre_key_signature = signed.signature;
    Some(nodes::iq_result(node, vec![]))
}

/// The bundle as the server holds it, with WhatsApp Web's SHA-1 over
/// identity, signed pre-key, signature and every pre-key.
fn digest(inner: &Arc<Inner>, node: &Node, (user, id): &DeviceKey) -> Node {
    let world = inner.world();
    let Some(c) = world.accounts.get(user).and_then(|a| a.companions.get(id)) else {
        return nodes::iq_error(node, 404, "item-not-found");
    };
    let mut hash = Sha1::new();
    hash.update(c.identity);
    hash.update(c.signed_pre_key);
    hash.update(&c.signed_pre_key_signature);
    for key in c.pre_keys.values() {
        hash.update(key);
    }
    let digest = NodeBuilder::new("digest")
        .children([
            NodeBuilder::new("registration")
                .bytes(c.registration_id.to_be_bytes().to_vec())
                .build(),
            NodeBuilder::new("type").bytes(vec![5]).build(),
            NodeBuilder::new("identity").bytes(c.identity.to_vec()).build(),
            SignedPreKeyNode::new(
                c.signed_pre_key_id,
                c.signed_pre_key.to_vec(),
                c.signed_pre_key_signature.clone(),
            )
            .into_node(),
            NodeBuilder::new("list")
                .children(
                    c.pre_keys
                        .keys()
                        .map(|id| NodeBuilder::new("id").bytes(id.to_be_bytes()[1..].to_vec()).build()),
                )
                .build(),
            NodeBuilder::new("hash").bytes(hash.finalize().to_vec()).build(),
        ])
        .build();
    nodes::iq_result(node, vec![digest])
}

/// Bundles for each requested device; a one-time pre-key is handed out once.
async fn fetch(inner: &Arc<Inner>, node: &Node) -> Node {
    let wanted: Vec<Jid> = node
        .get_optional_child("key")
        .map(|k| {
            k.get_children_by_tag("user")
                .filter_map(|u| u.attrs.get("jid")?.to_jid())
                .collect()
        })
        .unwrap_or_default();
    let mut users = Vec::new();
    for jid in wanted {
        match bundle_of(inner, &jid).await {
            Some(user) => users.push(user.into_node()),
            None => users.push(
                NodeBuilder::new("user")
                    .attr("jid", jid.clone())
                    .children([NodeBuilder::new("error")
                        .attr("code", "404")
                        .attr("text", "item-not-found")
                        .build()])
                    .build(),
            ),
        }
    }
    nodes::iq_result(node, vec![NodeBuilder::new("list").children(users).build()])
}

async fn bundle_of(inner: &Arc<Inner>, jid: &Jid) -> Option<PreKeyBundleUserNode> {
    let primary = {
        let mut world = inner.world();
        let pn = world.pn_of(jid)?;
        let account = world.accounts.get_mut(&pn)?;
        if jid.device != 0 {
            let c = account.companions.get_mut(&jid.device).filter(|c| !c.removed)?;
            let pre_key = c.pre_keys.pop_first();
            return Some(PreKeyBundleUserNode {
                jid: jid.clone(),
                registration_id: c.registration_id,
                identity_key: c.identity.to_vec(),
                signed_pre_key: SignedPreKeyNode::new(
                    c.signed_pre_key_id,
                    c.signed_pre_key.to_vec(),
                    c.signed_pre_key_signature.clone(),
                ),
                one_time_pre_key: pre_key.map(|(id, key)| OneTimePreKeyNode::new(id, key.to_vec())),
                device_identity: Some(c.signed_identity.clone()),
            });
        }
        account.primary.clone()
    };
    let bundle = primary.lock().await.hand_out_bundle(0);
    Some(PreKeyBundleUserNode {
        jid: jid.clone(),
        registration_id: bundle.registration_id,
        identity_key: bundle.identity.to_vec(),
        signed_pre_key: SignedPreKeyNode::new(
            bundle.signed_pre_key_id,
            bundle.signed_pre_key.to_vec(),
            bundle.signed_pre_key_signature,
        ),
        one_time_pre_key: bundle.pre_key.map(|(id, key)| OneTimePreKeyNode::new(id, key.to_vec())),
        device_identity: None,
    })
}
