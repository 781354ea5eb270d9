//! The responder side of WhatsApp's Noise handshakes (XX, IK, XX-fallback)
//! and the transport cipher that follows, built on wacore-noise's
//! `NoiseHandshake` (the same state the client runs, here as the responder).
//!
//! This module is pure: the connection task feeds it the client's frames and
//! sends what it returns.

use buffa::Message as _;
use wacore_binary::consts::{NOISE_PATTERN_IK, NOISE_PATTERN_XX, NOISE_PATTERN_XXFALLBACK, WA_CONN_HEADER};
use wacore_libsignal::protocol::KeyPair;
use wacore_noise::{NoiseCipher, NoiseHandshake};
use waproto::whatsapp as wa;

use crate::cert::ServerKeys;
use crate::error::{Result, SimError};

/// Which handshake the connection completed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakePattern {
    /// Full handshake: a first connection, a pairing, or a device without a
    /// cached server key.
    Xx,
    /// Resumed handshake of a registered device that cached our static key.
    Ik,
    /// IK that the server refused (the client's cached key is not ours, or the
    /// simulator was told to refuse IK), finished as XX on the same ephemeral.
    XxFallback,
}

/// A finished handshake: the transport cipher and the client's login payload.
pub struct Accepted {
    pub transport: Transport,
    pub pattern: HandshakePattern,
    pub client_static: [u8; 32],
    pub payload: wa::ClientPayload,
}

/// What reading the ClientHello produced.
pub enum AfterHello {
    /// IK accepted: reply with `server_hello` and the connection is up.
    Done {
        server_hello: Vec<u8>,
        accepted: Box<Accepted>,
    },
    /// XX or XX-fallback: reply with `server_hello`, then read the ClientFinish.
    AwaitFinish {
        server_hello: Vec<u8>,
        state: Box<PendingXx>,
    },
}

/// The responder between ServerHello and ClientFinish.
pub struct PendingXx {
    noise: NoiseHandshake,
    server_ephemeral: KeyPair,
    pattern: HandshakePattern,
}

/// Reads the ClientHello. `allow_ik` false makes every IK attempt fall back
/// to XX (the way WhatsApp refuses a resume it cannot honour).
pub fn read_client_hello(keys: &ServerKeys, hello: &[u8], allow_ik: bool) -> Result<AfterHello> {
    let msg = wa::HandshakeMessage::decode_from_slice(hello)?;
    let hello = msg
        .client_hello
        .into_option()
        .ok_or_else(|| SimError::Handshake("first message is not a ClientHello".into()))?;
    let client_ephemeral = key32(hello.ephemeral.as_deref(), "client ephemeral")?;
    match (hello.r#static, hello.payload) {
        (Some(encrypted_static), Some(encrypted_payload)) => {
            if allow_ik && let Some(done) = try_ik(keys, &client_ephemeral, &encrypted_static, &encrypted_payload)? {
                return Ok(done);
            }
            xx_server_hello(keys, &client_ephemeral, HandshakePattern::XxFallback)
        }
        _ => xx_server_hello(keys, &client_ephemeral, HandshakePattern::Xx),
    }
}

/// IK: `<- s ... -> e, es, s, ss` then `<- e, ee, se`. `None` when the
/// client's first message was not encrypted to our static key.
fn try_ik(
    keys: &ServerKeys,
    client_ephemeral: &[u8; 32],
    encrypted_static: &[u8],
    encrypted_payload: &[u8],
) -> Result<Option<AfterHello>> {
    let static_private = keys.static_key.private_key.serialize();
    let mut noise = NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER)?;
    noise.authenticate(&keys.static_public());
    noise.authenticate(client_ephemeral);
    noise.mix_shared_secret(static_private, client_ephemeral)?;
    let Ok(client_static) = noise.decrypt(encrypted_static) else {
        return Ok(None);
    };
    let client_static = key32(Some(&client_static), "client static")?;
    noise.mix_shared_secret(static_private, &client_static)?;
    let Ok(payload) = noise.decrypt(encrypted_payload) else {
        return Ok(None);
    };
    let payload = wa::ClientPayload::decode_from_slice(&payload)?;

    let ephemeral = KeyPair::generate(&mut rand::rng());
    noise.authenticate(ephemeral.public_key.public_key_bytes());
    noise.mix_shared_secret(ephemeral.private_key.serialize(), client_ephemeral)?;
    noise.mix_shared_secret(ephemeral.private_key.serialize(), &client_static)?;
    let encrypted_cert = noise.encrypt(&keys.cert_chain)?;
    let server_hello = server_hello_bytes(ephemeral.public_key.public_key_bytes(), None, encrypted_cert);
    let (k1, k2) = noise.finish()?;
    Ok(Some(AfterHello::Done {
        server_hello,
        accepted: Box::new(Accepted {
            transport: Transport::new(k2, k1),
            pattern: HandshakePattern::Ik,
            client_static,
            payload,
        }),
    }))
}

/// XX (and XX-fallback, which differs only in the protocol name):
/// `-> e` then `<- e, ee, s, es`.
fn xx_server_hello(keys: &ServerKeys, client_ephemeral: &[u8; 32], pattern: HandshakePattern) -> Result<AfterHello> {
    let name = if pattern == HandshakePattern::Xx {
        NOISE_PATTERN_XX
    } else {
        NOISE_PATTERN_XXFALLBACK
    };
    let mut noise = NoiseHandshake::new(name, &WA_CONN_HEADER)?;
    noise.authenticate(client_ephemeral);
    let ephemeral = KeyPair::generate(&mut rand::rng());
    noise.authenticate(ephemeral.public_key.public_key_bytes());
    noise.mix_shared_secret(ephemeral.private_key.serialize(), client_ephemeral)?;
    let encrypted_static = noise.encrypt(&keys.static_public())?;
    noise.mix_shared_secret(keys.static_key.private_key.serialize(), client_ephemeral)?;
    let encrypted_cert = noise.encrypt(&keys.cert_chain)?;
    let server_hello = server_hello_bytes(
        ephemeral.public_key.public_key_bytes(),
        Some(encrypted_static),
        encrypted_cert,
    );
    Ok(AfterHello::AwaitFinish {
        server_hello,
        state: Box::new(PendingXx {
            noise,
            server_ephemeral: ephemeral,
            pattern,
        }),
    })
}

/// `-> s, se` and the login payload.
pub fn read_client_finish(pending: PendingXx, finish: &[u8]) -> Result<Accepted> {
    let PendingXx {
        mut noise,
        server_ephemeral,
        pattern,
    } = pending;
    let msg = wa::HandshakeMessage::decode_from_slice(finish)?;
    let finish = msg
        .client_finish
        .into_option()
        .ok_or_else(|| SimError::Handshake("second message is not a ClientFinish".into()))?;
    let encrypted_static = finish
        .r#static
        .ok_or_else(|| SimError::Handshake("ClientFinish without static".into()))?;
    let client_static = key32(Some(&noise.decrypt(&encrypted_static)?), "client static")?;
    noise.mix_shared_secret(server_ephemeral.private_key.serialize(), &client_static)?;
    let encrypted_payload = finish
        .payload
        .ok_or_else(|| SimError::Handshake("ClientFinish without payload".into()))?;
    let payload = wa::ClientPayload::decode_from_slice(&noise.decrypt(&encrypted_payload)?)?;
    let (k1, k2) = noise.finish()?;
    Ok(Accepted {
        transport: Transport::new(k2, k1),
        pattern,
        client_static,
        payload,
    })
}

fn server_hello_bytes(ephemeral: &[u8], encrypted_static: Option<Vec<u8>>, payload: Vec<u8>) -> Vec<u8> {
    wa::HandshakeMessage {
        server_hello: buffa::MessageField::some(wa::handshake_message::ServerHello {
            ephemeral: Some(ephemeral.to_vec()),
            r#static: encrypted_static,
            payload: Some(payload),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn key32(bytes: Option<&[u8]>, what: &str) -> Result<[u8; 32]> {
    bytes
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| SimError::Handshake(format!("{what} is not 32 bytes")))
}

/// The post-handshake frame cipher: AES-GCM with a per-direction counter.
pub struct Transport {
    write: NoiseCipher,
    read: NoiseCipher,
}

impl Transport {
    fn new(write: NoiseCipher, read: NoiseCipher) -> Transport {
        Transport { write, read }
    }

    /// The two directions, for the writer task and the reader.
    pub fn split(self) -> (Sealer, Opener) {
        (
            Sealer {
                cipher: self.write,
                counter: 0,
            },
            Opener {
                cipher: self.read,
                counter: 0,
            },
        )
    }
}

/// Encrypts the server's frames.
pub struct Sealer {
    cipher: NoiseCipher,
    counter: u32,
}

impl Sealer {
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let out = self.cipher.encrypt_with_counter(self.counter, plaintext)?;
        self.counter += 1;
        Ok(out)
    }
}

/// Decrypts the client's frames.
pub struct Opener {
    cipher: NoiseCipher,
    counter: u32,
}

impl Opener {
    pub fn decrypt(&mut self, mut frame: Vec<u8>) -> Result<Vec<u8>> {
        self.cipher.decrypt_in_place_with_counter(self.counter, &mut frame)?;
        self.counter += 1;
        Ok(frame)
    }
}
