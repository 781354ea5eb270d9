//! The phone: it links a client by scanning its QR code (the ADV identity
//! signed by the account, its HMAC under the QR's secret, and the check of
//! the client's counter-signature), shares the app state key with the new
//! device, and later unlinks devices.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use buffa::Message as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::oneshot;
use tracing::info;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, SERVER_JID};
use wacore_libsignal::protocol::PublicKey;
use waproto::whatsapp as wa;

use crate::LinkedDevice;
use crate::error::{Result, SimError};
use crate::nodes::{self, attr};
use crate::server::Inner;
use crate::state::{Companion, Outbound, ServerIq};

/// ADV signature prefixes: the account signs `[6, 0]`, the device `[6, 1]`.
const ACCOUNT_PREFIX: [u8; 2] = [6, 0];
const DEVICE_PREFIX: [u8; 2] = [6, 1];

/// How long the phone waits for the client's `pair-device-sign`.
const SIGN_TIMEOUT: Duration = Duration::from_secs(15);

/// The QR payload: `ref,noise,identity,adv-secret[,client-type]`.
pub struct QrCode {
    pub pairing_ref: String,
    pub noise_key: [u8; 32],
    pub identity: [u8; 32],
    pub adv_secret: [u8; 32],
}

impl QrCode {
    pub fn parse(qr: &str) -> Result<QrCode> {
        let body = qr
            .strip_prefix(wacore::companion_reg::NATIVE_CAMERA_DEEP_LINK_PREFIX)
            .unwrap_or(qr);
        let parts: Vec<&str> = body.trim().split(',').collect();
        if parts.len() < 4 {
            return Err(SimError::Pairing(format!("not a WhatsApp QR payload: {qr:?}")));
        }
        let key = |s: &str, what: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| SimError::Pairing(format!("bad {what} in the QR payload")))
        };
        Ok(QrCode {
            pairing_ref: parts[0].to_owned(),
            noise_key: key(parts[1], "noise key")?,
            identity: key(parts[2], "identity key")?,
            adv_secret: key(parts[3], "ADV secret")?,
        })
    }
}

/// Links the client that shows `qr` to `pn`'s account.
pub async fn scan(inner: &Arc<Inner>, pn: &str, qr: &str) -> Result<LinkedDevice> {
    let qr = QrCode::parse(qr)?;
    let (conn, reg) = {
        let mut world = inner.world();
        let pos = world
            .registrations
            .iter()
            .position(|r| r.refs.contains(&qr.pairing_ref))
            .ok_or_else(|| SimError::Pairing("no connected client shows this QR code".into()))?;
        let reg = world.registrations.remove(pos);
        (reg.conn, reg)
    };
    if reg.noise_key != qr.noise_key || reg.identity != qr.identity {
        return Err(SimError::Pairing(
            "the QR code's keys are not those the client registered".into(),
        ));
    }
    complete(inner, pn, conn, reg, &qr.adv_secret).await
}

/// Signs the new device into the account, sends `pair-success`, checks the
/// reply, then restarts the client's stream (515) as WhatsApp does.
pub(crate) async fn complete(
    inner: &Arc<Inner>,
    pn: &str,
    conn: u64,
    reg: crate::state::Registration,
    adv_secret: &[u8; 32],
) -> Result<LinkedDevice> {
    let (iq, id, device, key_index, account_key, lid, rx) = {
        let mut world = inner.world();
        let account = world
            .accounts
            .get_mut(pn)
            .ok_or_else(|| SimError::UnknownAccount(pn.to_owned()))?;
        let device = account.next_device;
        let key_index = account.next_key_index;
        account.next_device += 1;
        account.next_key_index += 1;
        let details = wa::ADVDeviceIdentity {
            raw_id: Some(account.adv_raw_id),
            timestamp: Some(wacore::time::now_secs() as u64),
            key_index: Some(key_index),
            account_type: Some(wa::ADVEncryptionType::E2EE),
            device_type: Some(wa::ADVEncryptionType::E2EE),
        }
        .encode_to_vec();
        let account_key = account.identity_public();
        let account_signature = account
            .identity
            .private_key()
            .calculate_signature(
                &[&ACCOUNT_PREFIX[..], &details, &reg.identity].concat(),
                &mut rand::rng(),
            )?
            .to_vec();
        let signed = wa::ADVSignedDeviceIdentity {
            details: Some(details),
            account_signature_key: Some(account_key.to_vec()),
            account_signature: Some(account_signature),
            ..Default::default()
        }
        .encode_to_vec();
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(adv_secret).map_err(|e| SimError::Pairing(e.to_string()))?;
        mac.update(&signed);
        let container = wa::ADVSignedDeviceIdentityHMAC {
            details: Some(signed),
            hmac: Some(mac.finalize().into_bytes().to_vec()),
            account_type: Some(wa::ADVEncryptionType::E2EE),
        }
        .encode_to_vec();
        let lid = account.lid.clone();
        let id = world.next_id();
        let iq = NodeBuilder::new("iq")
            .attr("from", SERVER_JID)
            .attr("type", "set")
            .attr("id", id.as_str())
            .attr("xmlns", "md")
            .attr("t", nodes::now())
            .children([NodeBuilder::new("pair-success")
                .children([
                    NodeBuilder::new("device-identity").bytes(container).build(),
                    NodeBuilder::new("device")
                        .attr("jid", Jid::pn_device(pn, device))
                        .attr("lid", Jid::lid_device(lid.as_str(), device))
                        .build(),
                    NodeBuilder::new("platform").attr("name", "android").build(),
                ])
                .build()])
            .build();
        let (tx, rx) = oneshot::channel();
        world.server_iqs.insert(id.clone(), ServerIq::Waiter(tx));
        (iq, id, device, key_index, account_key, lid, rx)
    };
    inner.world().send(conn, iq);
    let reply = match tokio::time::timeout(SIGN_TIMEOUT, rx).await {
        Ok(Ok(reply)) => reply,
        _ => {
            inner.world().server_iqs.remove(&id);
            return Err(SimError::Pairing("the client did not answer pair-success".into()));
        }
    };
    let signed_identity = check_sign_reply(&reply, &reg.identity, &account_key)?;

    {
        let mut world = inner.world();
        let account = world
            .accounts
            .get_mut(pn)
            .ok_or_else(|| SimError::UnknownAccount(pn.to_owned()))?;
        account.companions.insert(
            device,
            Companion {
                device,
                key_index,
                noise_key: reg.noise_key,
                identity: reg.identity,
                registration_id: reg.registration_id,
                signed_pre_key_id: reg.signed_pre_key_id,
                signed_pre_key: reg.signed_pre_key,
                signed_pre_key_signature: reg.signed_pre_key_signature.clone(),
                pre_keys: Default::default(),
                signed_identity,
                name: reg.name.clone(),
                removed: false,
            },
        );
        account.refresh_key_index_list();
        // The second half of pairing: the client reconnects and logs in.
        if let Some(c) = world.conns.get(&conn) {
            let restart = NodeBuilder::new("stream:error").attr("code", "515").build();
            let _ = c.tx.send(Outbound::Node(restart));
            let _ = c.tx.send(Outbound::Close);
        }
    }
    info!(target: "whatsapp_sim", %pn, device, "device linked");
    share_app_state_key(inner, pn, device).await?;
    Ok(LinkedDevice {
        jid: Jid::pn_device(pn, device).to_string(),
        lid: Jid::lid_device(lid.as_str(), device).to_string(),
        user: pn.to_owned(),
        device,
        name: reg.name.clone(),
    })
}

/// The client's `pair-device-sign`: its device signature over the identity
/// the account signed must verify with the key it registered.
fn check_sign_reply(reply: &wacore_binary::Node, identity: &[u8; 32], account_key: &[u8; 32]) -> Result<Vec<u8>> {
    if attr(reply, "type").as_deref() != Some("result") {
        return Err(SimError::Pairing(format!(
            "the client refused the pairing: {}",
            nodes::show(reply)
        )));
    }
    let bytes = reply
        .get_optional_child_by_tag(&["pair-device-sign", "device-identity"])
        .and_then(nodes::bytes)
        .ok_or_else(|| {
            SimError::Pairing(format!(
                "pair-device-sign without device-identity: {}",
                nodes::show(reply)
            ))
        })?;
    let signed = wa::ADVSignedDeviceIdentity::decode_from_slice(bytes)?;
    let details = signed.details.as_deref().unwrap_or_default();
    let signature = signed.device_signature.as_deref().unwrap_or_default();
    let message = [&DEVICE_PREFIX[..], details, identity, account_key].concat();
    let key = PublicKey::from_djb_public_key_bytes(identity)?;
    if !key.verify_signature(&message, signature) {
        return Err(SimError::Pairing(
            "the device signature in pair-device-sign does not verify".into(),
        ));
    }
    Ok(bytes.to_vec())
}

/// The phone sends the new device the app state key (a peer protocol
/// message), which the client waits for before its first app state sync.
async fn share_app_state_key(inner: &Arc<Inner>, pn: &str, device: u16) -> Result<()> {
    let (key_id, key, raw_id) = {
        let world = inner.world();
        let a = world
            .accounts
            .get(pn)
            .ok_or_else(|| SimError::UnknownAccount(pn.to_owned()))?;
        (a.app_state_key_id.clone(), a.app_state_key, a.adv_raw_id)
    };
    let share = wa::message::AppStateSyncKeyShare {
        keys: vec![wa::message::AppStateSyncKey {
            key_id: buffa::MessageField::some(wa::message::AppStateSyncKeyId { key_id: Some(key_id) }),
            key_data: buffa::MessageField::some(wa::message::AppStateSyncKeyData {
                key_data: Some(key.to_vec()),
                fingerprint: buffa::MessageField::some(wa::message::AppStateSyncKeyFingerprint {
                    raw_id: Some(raw_id),
                    current_index: Some(0),
                    device_indexes: vec![0],
                }),
                timestamp: Some(wacore::time::now_millis()),
            }),
        }],
    };
    let message = wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
            app_state_sync_key_share: buffa::MessageField::some(share),
            ..Default::default()
        }),
        ..Default::default()
    };
    crate::messaging::send_to_device(inner, pn, (pn.to_owned(), device), &message, Some("peer")).await?;
    Ok(())
}

/// Unlinks a device from the phone: it is logged out now if connected, or
/// refused at its next login.
pub fn unlink(inner: &Arc<Inner>, pn: &str, device: u16) -> Result<()> {
    let mut world = inner.world();
    let account = world
        .accounts
        .get_mut(pn)
        .ok_or_else(|| SimError::UnknownAccount(pn.to_owned()))?;
    let companion = account
        .companions
        .get_mut(&device)
        .filter(|c| !c.removed)
        .ok_or_else(|| SimError::Protocol(format!("{pn} has no linked device {device}")))?;
    companion.removed = true;
    account.refresh_key_index_list();
    let key = (pn.to_owned(), device);
    world.queues.remove(&key);
    if let Some((_, c)) = world.conn_of(&key) {
        let removed = NodeBuilder::new("stream:error")
            .attr("code", "401")
            .children([NodeBuilder::new("conflict").attr("type", "device_removed").build()])
            .build();
        let _ = c.tx.send(Outbound::Node(removed));
        let _ = c.tx.send(Outbound::Close);
    }
    info!(target: "whatsapp_sim", %pn, device, "device unlinked by the phone");
    Ok(())
}
