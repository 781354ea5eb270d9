//! The server's Noise identity: its static key pair and the certificate chain
//! it presents in every XX handshake.
//!
//! The chain has the shape WhatsApp's has (an intermediate issued by serial 0,
//! a leaf issued by the intermediate whose key is the server's static key),
//! signed with a root key of the simulator's own. The client checks those
//! signatures against WhatsApp's root key unless it was built with
//! `danger-skip-cert-chain-verify`, which is therefore required to pair
//! with the simulator; IK logins of a registered device check no chain.

use buffa::Message as _;
use wacore_libsignal::protocol::KeyPair;
use waproto::whatsapp as wa;

/// The server's static key and the certificate chain naming it.
pub struct ServerKeys {
    pub(crate) static_key: KeyPair,
    pub(crate) cert_chain: Vec<u8>,
}

impl ServerKeys {
    /// A fresh static key with a chain valid from a day ago for ten years (the
    /// client refuses IK against a cached chain outside its validity window).
    pub fn generate() -> ServerKeys {
        let mut rng = rand::rng();
        let root = KeyPair::generate(&mut rng);
        let intermediate = KeyPair::generate(&mut rng);
        let static_key = KeyPair::generate(&mut rng);
        let now = wacore::time::now_secs().max(0) as u64;
        let not_before = now.saturating_sub(86_400);
        let not_after = now + 10 * 365 * 86_400;

        let intermediate_details = wa::cert_chain::noise_certificate::Details {
            serial: Some(1),
            issuer_serial: Some(0),
            key: Some(intermediate.public_key.public_key_bytes().to_vec()),
            not_before: Some(not_before),
            not_after: Some(not_after),
        }
        .encode_to_vec();
        let leaf_details = wa::cert_chain::noise_certificate::Details {
            serial: Some(2),
            issuer_serial: Some(1),
            key: Some(static_key.public_key.public_key_bytes().to_vec()),
            not_before: Some(not_before),
            not_after: Some(not_after),
        }
        .encode_to_vec();
        let sign = |key: &KeyPair, details: &[u8]| {
            key.calculate_signature(details, &mut rand::rng())
                .map(|s| s.to_vec())
                .unwrap_or_else(|_| vec![0; 64])
        };
        let chain = wa::CertChain {
            intermediate: buffa::MessageField::some(wa::cert_chain::NoiseCertificate {
                signature: Some(sign(&root, &intermediate_details)),
                details: Some(intermediate_details),
            }),
            leaf: buffa::MessageField::some(wa::cert_chain::NoiseCertificate {
                signature: Some(sign(&intermediate, &leaf_details)),
                details: Some(leaf_details),
            }),
        };
        ServerKeys {
            static_key,
            cert_chain: chain.encode_to_vec(),
        }
    }

    /// The server's static public key (what a client caches for IK).
    pub fn static_public(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.static_key.public_key.public_key_bytes());
        out
    }
}
