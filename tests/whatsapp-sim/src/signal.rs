//! A simulated primary device's Signal state, in memory: its identity,
//! pre-keys and sessions, with wacore-libsignal's store traits implemented
//! over plain maps so its `message_encrypt`/`message_decrypt` run unchanged;
//! its group sender keys are `sender_keys.rs`.

use std::collections::HashMap;

use async_trait::async_trait;
use wacore_libsignal::protocol::{
    CiphertextMessage, Direction, GenericSignedPreKey, IdentityChange, IdentityKey, IdentityKeyPair, IdentityKeyStore,
    KeyPair, PreKeyBundle, PreKeyId, PreKeyRecord, PreKeySignalMessage, PreKeyStore, ProtocolAddress, PublicKey,
    SessionRecord, SessionStore, SignalMessage, SignalProtocolError, SignedPreKeyId, SignedPreKeyRecord,
    SignedPreKeyStore, Timestamp, UsePQRatchet, message_decrypt, message_encrypt, process_prekey_bundle,
};

use crate::error::{Result, SimError};

type SigResult<T> = std::result::Result<T, SignalProtocolError>;

/// How many one-time pre-keys a simulated device publishes.
const PRE_KEYS: u32 = 50;

/// The keys a simulated device publishes for others to start sessions with.
#[derive(Clone, Debug)]
pub struct PublishedKeys {
    pub registration_id: u32,
    pub identity: [u8; 32],
    pub signed_pre_key_id: u32,
    pub signed_pre_key: [u8; 32],
    pub signed_pre_key_signature: Vec<u8>,
    /// One-time pre-keys not yet handed out, `(id, public key)`.
    pub pre_keys: Vec<(u32, [u8; 32])>,
}

/// A device's keys as the server hands them out: what starts a session.
#[derive(Clone, Debug)]
pub struct RemoteBundle {
    pub registration_id: u32,
    pub device_id: u32,
    pub identity: [u8; 32],
    pub signed_pre_key_id: u32,
    pub signed_pre_key: [u8; 32],
    pub signed_pre_key_signature: Vec<u8>,
    pub pre_key: Option<(u32, [u8; 32])>,
}

/// One simulated device's complete Signal state.
pub struct SignalDevice {
    identities: Identities,
    pre_keys: PreKeys,
    signed_pre_keys: SignedPreKeys,
    sessions: Sessions,
    published: PublishedKeys,
    /// The sender keys of the groups this device writes to.
    pub sender_keys: crate::sender_keys::SenderKeys,
}

impl SignalDevice {
    pub fn generate() -> Result<SignalDevice> {
        let mut rng = rand::rng();
        let identity = IdentityKeyPair::generate(&mut rng);
        let registration_id = rand::random_range(1..16_380u32);
        let signed = KeyPair::generate(&mut rng);
        let signature = identity
            .private_key()
            .calculate_signature(&signed.public_key.serialize(), &mut rng)?
            .to_vec();
        let signed_id = 1u32;
        let mut signed_pre_keys = HashMap::new();
        signed_pre_keys.insert(
            SignedPreKeyId::from(signed_id),
            SignedPreKeyRecord::new(signed_id.into(), Timestamp::from_epoch_millis(0), &signed, &signature),
        );
        let mut pre_keys = HashMap::new();
        let mut published_pre_keys = Vec::new();
        for id in 1..=PRE_KEYS {
            let pair = KeyPair::generate(&mut rng);
            published_pre_keys.push((id, bytes32(pair.public_key.public_key_bytes())));
            pre_keys.insert(PreKeyId::from(id), PreKeyRecord::new(id.into(), &pair));
        }
        let published = PublishedKeys {
            registration_id,
            identity: bytes32(identity.public_key().public_key_bytes()),
            signed_pre_key_id: signed_id,
            signed_pre_key: bytes32(signed.public_key.public_key_bytes()),
            signed_pre_key_signature: signature,
            pre_keys: published_pre_keys,
        };
        Ok(SignalDevice {
            identities: Identities {
                pair: identity,
                registration_id,
                known: HashMap::new(),
            },
            pre_keys: PreKeys(pre_keys),
            signed_pre_keys: SignedPreKeys(signed_pre_keys),
            sessions: Sessions(HashMap::new()),
            published,
            sender_keys: Default::default(),
        })
    }

    /// The identity key pair (for a primary device, the account key that
    /// signs the ADV identities of the account's companions).
    pub fn identity(&self) -> &IdentityKeyPair {
        &self.identities.pair
    }

    /// The bundle the server hands out for this device, taking one one-time
    /// pre-key off the list as the server does (none once they ran out).
    pub fn hand_out_bundle(&mut self, device_id: u32) -> RemoteBundle {
        let pre_key = (!self.published.pre_keys.is_empty()).then(|| self.published.pre_keys.remove(0));
        RemoteBundle {
            registration_id: self.published.registration_id,
            device_id,
            identity: self.published.identity,
            signed_pre_key_id: self.published.signed_pre_key_id,
            signed_pre_key: self.published.signed_pre_key,
            signed_pre_key_signature: self.published.signed_pre_key_signature.clone(),
            pre_key,
        }
    }

    pub fn has_session(&self, address: &ProtocolAddress) -> bool {
        self.sessions.0.contains_key(address)
    }

    /// Starts a session with a remote device from its bundle.
    pub async fn start_session(&mut self, address: &ProtocolAddress, bundle: &RemoteBundle) -> Result<()> {
        let pre_key = match bundle.pre_key {
            Some((id, key)) => Some((PreKeyId::from(id), public_key(&key)?)),
            None => None,
        };
        let bundle = PreKeyBundle::new(
            bundle.registration_id,
            bundle.device_id.into(),
            pre_key,
            bundle.signed_pre_key_id.into(),
            public_key(&bundle.signed_pre_key)?,
            bundle.signed_pre_key_signature.clone(),
            IdentityKey::new(public_key(&bundle.identity)?),
        )?;
        process_prekey_bundle(
            address,
            &mut self.sessions,
            &mut self.identities,
            &bundle,
            &mut rand::make_rng::<rand::rngs::StdRng>(),
            UsePQRatchet::No,
        )
        .await?;
        Ok(())
    }

    /// Encrypts for `address`: `("pkmsg" | "msg", ciphertext)`.
    pub async fn encrypt(&mut self, address: &ProtocolAddress, plaintext: &[u8]) -> Result<(&'static str, Vec<u8>)> {
        let message = message_encrypt(plaintext, address, &mut self.sessions, &mut self.identities).await?;
        let kind = match message {
            CiphertextMessage::PreKeySignalMessage(_) => "pkmsg",
            _ => "msg",
        };
        Ok((kind, message.serialize().to_vec()))
    }

    /// Decrypts a `pkmsg` or `msg` from `address`.
    pub async fn decrypt(&mut self, address: &ProtocolAddress, kind: &str, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let message = match kind {
            "pkmsg" => CiphertextMessage::PreKeySignalMessage(PreKeySignalMessage::try_from(ciphertext)?),
            "msg" => CiphertextMessage::SignalMessage(SignalMessage::try_from(ciphertext)?),
            other => return Err(SimError::Protocol(format!("unsupported enc type {other:?}"))),
        };
        let result = message_decrypt(
            &message,
            address,
            &mut self.sessions,
            &mut self.identities,
            &mut self.pre_keys,
            &self.signed_pre_keys,
            &mut rand::make_rng::<rand::rngs::StdRng>(),
            UsePQRatchet::No,
        )
        .await?;
        // The consumed one-time key is ours to delete (libsignal leaves that
        // to the caller).
        if let Some(id) = result.consumed_prekey_id {
            self.pre_keys.0.remove(&id);
        }
        Ok(result.plaintext)
    }
}

fn bytes32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&bytes[..32]);
    out
}

fn public_key(bytes: &[u8; 32]) -> Result<PublicKey> {
    Ok(PublicKey::from_djb_public_key_bytes(bytes)?)
}

struct Identities {
    pair: IdentityKeyPair,
    registration_id: u32,
    known: HashMap<ProtocolAddress, IdentityKey>,
}

#[async_trait]
impl IdentityKeyStore for Identities {
    async fn get_identity_key_pair(&self) -> SigResult<IdentityKeyPair> {
        Ok(self.pair.clone())
    }
    async fn get_local_registration_id(&self) -> SigResult<u32> {
        Ok(self.registration_id)
    }
    async fn save_identity(&mut self, address: &ProtocolAddress, identity: &IdentityKey) -> SigResult<IdentityChange> {
        let changed = self.known.get(address).is_some_and(|known| known != identity);
        self.known.insert(address.clone(), *identity);
        Ok(IdentityChange::from_changed(changed))
    }
    async fn is_trusted_identity(&self, _: &ProtocolAddress, _: &IdentityKey, _: Direction) -> SigResult<bool> {
        // Trust on first use and on every change: a re-paired device has a
        // new identity, and the simulator is not the place to refuse it.
        Ok(true)
    }
    async fn get_identity(&self, address: &ProtocolAddress) -> SigResult<Option<IdentityKey>> {
        Ok(self.known.get(address).copied())
    }
}

struct PreKeys(HashMap<PreKeyId, PreKeyRecord>);

#[async_trait]
impl PreKeyStore for PreKeys {
    async fn get_pre_key(&self, id: PreKeyId) -> SigResult<PreKeyRecord> {
        self.0.get(&id).cloned().ok_or(SignalProtocolError::InvalidPreKeyId)
    }
    async fn save_pre_key(&mut self, id: PreKeyId, record: &PreKeyRecord) -> SigResult<()> {
        self.0.insert(id, record.clone());
        Ok(())
    }
    async fn remove_pre_key(&mut self, id: PreKeyId) -> SigResult<()> {
        self.0.remove(&id);
        Ok(())
    }
}

struct SignedPreKeys(HashMap<SignedPreKeyId, SignedPreKeyRecord>);

#[async_trait]
impl SignedPreKeyStore for SignedPreKeys {
    async fn get_signed_pre_key(&self, id: SignedPreKeyId) -> SigResult<SignedPreKeyRecord> {
        self.0
            .get(&id)
            .cloned()
            .ok_or(SignalProtocolError::InvalidSignedPreKeyId)
    }
    async fn save_signed_pre_key(&mut self, id: SignedPreKeyId, record: &SignedPreKeyRecord) -> SigResult<()> {
        self.0.insert(id, record.clone());
        Ok(())
    }
}

struct Sessions(HashMap<ProtocolAddress, SessionRecord>);

#[async_trait]
impl SessionStore for Sessions {
    async fn load_session(&self, address: &ProtocolAddress) -> SigResult<Option<SessionRecord>> {
        Ok(self.0.get(address).cloned())
    }
    async fn has_session(&self, address: &ProtocolAddress) -> SigResult<bool> {
        Ok(self.0.contains_key(address))
    }
    async fn store_session(&mut self, address: &ProtocolAddress, record: SessionRecord) -> SigResult<()> {
        self.0.insert(address.clone(), record);
        Ok(())
    }
}
