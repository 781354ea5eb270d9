//! Linking by phone number: the client asks for a code (`companion_hello`),
//! a person types it into the phone, the phone answers (`primary_hello`),
//! the client sends its key bundle (`companion_finish`), and the pairing
//! ends like a QR scan, with an ADV secret both sides derived instead of one
//! the QR carried. The code-based crypto is wacore's `PairCodeUtils`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::info;
use wacore::libsignal::crypto::aes_256_gcm_decrypt;
use wacore::pair_code::PairCodeUtils;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Node, SERVER_JID};
use wacore_libsignal::protocol::{KeyPair, PublicKey};

use crate::LinkedDevice;
use crate::error::{Result, SimError};
use crate::nodes::{self, attr, bytes};
use crate::server::Inner;

/// How long the phone waits for the client's `companion_finish`.
const FINISH_TIMEOUT: Duration = Duration::from_secs(30);

/// A client that asked for a code, waiting for it to be typed into a phone.
pub struct PendingCode {
    pub conn: u64,
    pub phone: String,
    pub pairing_ref: Vec<u8>,
    pub wrapped_companion_ephemeral: Vec<u8>,
    /// Set once the phone answered: who waits for the key bundle.
    pub finish: Option<oneshot::Sender<(Vec<u8>, Vec<u8>)>>,
}

/// `link_code_companion_reg` IQs from a client that is not logged in.
pub fn handle_iq(inner: &Arc<Inner>, conn: u64, node: &Node) -> Option<Node> {
    let reg = node.get_optional_child("link_code_companion_reg")?;
    match attr(reg, "stage").as_deref() {
        Some("companion_hello") => {
            let phone = reg
                .attrs
                .get("jid")
                .and_then(|v| v.to_jid())
                .map(|j| j.user.to_string())?;
            let wrapped = reg
                .get_optional_child("link_code_pairing_wrapped_companion_ephemeral_pub")
                .and_then(bytes)?
                .to_vec();
            let pairing_ref = rand::random::<[u8; 16]>().to_vec();
            let mut world = inner.world();
            world.pair_codes.retain(|p| p.conn != conn);
            world.pair_codes.push(PendingCode {
                conn,
                phone: phone.clone(),
                pairing_ref: pairing_ref.clone(),
                wrapped_companion_ephemeral: wrapped,
                finish: None,
            });
            info!(target: "whatsapp_sim", conn, %phone, "a client asked for a pairing code");
            Some(nodes::iq_result(
                node,
                vec![
                    NodeBuilder::new("link_code_companion_reg")
                        .children([NodeBuilder::new("link_code_pairing_ref").bytes(pairing_ref).build()])
                        .build(),
                ],
            ))
        }
        Some("companion_finish") => {
            let pairing_ref = reg.get_optional_child("link_code_pairing_ref").and_then(bytes)?;
            let bundle = reg
                .get_optional_child("link_code_pairing_wrapped_key_bundle")
                .and_then(bytes)?;
            let identity = reg.get_optional_child("companion_identity_public").and_then(bytes)?;
            let mut world = inner.world();
            let pending = world.pair_codes.iter_mut().find(|p| p.pairing_ref == pairing_ref)?;
            let waiter = pending.finish.take()?;
            let _ = waiter.send((bundle.to_vec(), identity.to_vec()));
            Some(nodes::iq_result(node, vec![]))
        }
        _ => None,
    }
}

/// The phone of `pn` takes the code the client shows and links it.
pub async fn enter_code(inner: &Arc<Inner>, pn: &str, code: &str) -> Result<LinkedDevice> {
    let code = code.trim().replace('-', "").to_uppercase();
    let (conn, pairing_ref, wrapped, identity, rx) = {
        let mut world = inner.world();
        let identity = world
            .accounts
            .get(pn)
            .ok_or_else(|| SimError::UnknownAccount(pn.to_owned()))?
            .identity
            .clone();
        let pending = world
            .pair_codes
            .iter_mut()
            .rev()
            .find(|p| p.phone == pn)
            .ok_or_else(|| SimError::Pairing(format!("no client asked for a code for {pn}")))?;
        let (tx, rx) = oneshot::channel();
        pending.finish = Some(tx);
        (
            pending.conn,
            pending.pairing_ref.clone(),
            pending.wrapped_companion_ephemeral.clone(),
            identity,
            rx,
        )
    };
    // PBKDF2 with 131 072 rounds, twice: off the async threads.
    let ephemeral = KeyPair::generate(&mut rand::rng());
    let ephemeral_public: [u8; 32] = ephemeral.public_key.public_key_bytes().try_into().expect("32 bytes");
    let code_for_keys = code.clone();
    let (companion_ephemeral, wrapped_primary) = tokio::task::spawn_blocking(move || {
        let companion = PairCodeUtils::decrypt_primary_ephemeral_pub(&wrapped, &code_for_keys);
        (
            companion,
            PairCodeUtils::encrypt_ephemeral_pub(&ephemeral_public, &code_for_keys),
        )
    })
    .await
    .map_err(|e| SimError::Pairing(e.to_string()))?;
    let companion_ephemeral = companion_ephemeral.map_err(|e| SimError::Pairing(e.to_string()))?;

    let hello = NodeBuilder::new("notification")
        .attr("from", SERVER_JID)
        .attr("id", crate::messaging::new_message_id())
        .attr("t", nodes::now())
        .attr("type", "link_code_companion_reg")
        .children([NodeBuilder::new("link_code_companion_reg")
            .attr("stage", "primary_hello")
            .children([
                NodeBuilder::new("link_code_pairing_ref")
                    .bytes(pairing_ref.clone())
                    .build(),
                NodeBuilder::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                    .bytes(wrapped_primary.to_vec())
                    .build(),
                NodeBuilder::new("primary_identity_pub")
                    .bytes(identity.public_key().public_key_bytes().to_vec())
                    .build(),
            ])
            .build()])
        .build();
    inner.world().send(conn, hello);

    let (bundle, companion_identity) = match tokio::time::timeout(FINISH_TIMEOUT, rx).await {
        Ok(Ok(answer)) => answer,
        _ => return Err(SimError::Pairing("the client did not finish the code pairing".into())),
    };
    let adv_secret = open_bundle(
        &ephemeral,
        &companion_ephemeral,
        &identity,
        &bundle,
        &companion_identity,
    )?;
    let reg = {
        let mut world = inner.world();
        world.pair_codes.retain(|p| p.conn != conn);
        let pos = world
            .registrations
            .iter()
            .position(|r| r.conn == conn)
            .ok_or_else(|| SimError::Pairing("the client's connection is gone".into()))?;
        world.registrations.remove(pos)
    };
    if reg.identity.as_slice() != companion_identity.as_slice() {
        return Err(SimError::Pairing(
            "the key bundle names another identity than the client registered".into(),
        ));
    }
    crate::phone::complete(inner, pn, conn, reg, &adv_secret).await
}

/// Decrypts the client's key bundle and derives the ADV secret from it, the
/// mirror of `PairCodeUtils::prepare_key_bundle`.
fn open_bundle(
    ephemeral: &KeyPair,
    companion_ephemeral: &[u8; 32],
    identity: &wacore_libsignal::protocol::IdentityKeyPair,
    wrapped: &[u8],
    companion_identity: &[u8],
) -> Result<[u8; 32]> {
    if wrapped.len() < 32 + 12 + 16 {
        return Err(SimError::Pairing("key bundle too short".into()));
    }
    let ephemeral_shared = ephemeral
        .private_key
        .calculate_agreement(&PublicKey::from_djb_public_key_bytes(companion_ephemeral)?)?;
    let mut key = [0u8; 32];
    wacore::crypto::hkdf_sha256_into(
        &ephemeral_shared,
        Some(&wrapped[..32]),
        b"link_code_pairing_key_bundle_encryption_key",
        &mut key,
    )
    .map_err(|e| SimError::Pairing(e.to_string()))?;
    let nonce: [u8; 12] = wrapped[32..44].try_into().expect("12 bytes");
    let mut bundle = Vec::new();
    aes_256_gcm_decrypt(&key, &nonce, b"", &wrapped[44..], &mut bundle)
        .map_err(|e| SimError::Pairing(format!("key bundle: {e}")))?;
    if bundle.len() != 96
        || &bundle[..32] != companion_identity
        || bundle[32..64] != *identity.public_key().public_key_bytes()
    {
        return Err(SimError::Pairing("the key bundle does not name both identities".into()));
    }
    let identity_shared = identity
        .private_key()
        .calculate_agreement(&PublicKey::from_djb_public_key_bytes(companion_identity)?)?;
    let mut secret = Vec::with_capacity(96);
    secret.extend_from_slice(&ephemeral_shared);
    secret.extend_from_slice(&identity_shared);
    secret.extend_from_slice(&bundle[64..]);
    let mut adv_secret = [0u8; 32];
    wacore::crypto::hkdf_sha256_into(&secret, None, b"adv_secret", &mut adv_secret)
        .map_err(|e| SimError::Pairing(e.to_string()))?;
    Ok(adv_secret)
}
