//! End-to-end Signal protocol over the database store.
//!
//! The conformance suite checks that the `Backend` gives back the bytes it was
//! given; this module checks the store in the hands of the cryptography that
//! depends on it. Each device's Signal state is wired exactly as
//! whatsapp-rust's client wires it (the device row behind a `Device`, the
//! write-back `SignalStoreCache` flushed into the backend after every
//! operation, and the library's own libsignal store adapters), with every
//! device a separate device id in the SAME database, which also shows that the
//! rows of one device never leak into another.
//!
//! What it proves:
//! - two devices establish a session by X3DH from a pre-key bundle assembled
//!   from the receiver's stored device row and one-time pre-key, the first
//!   messages being `PreKeySignalMessage`s;
//! - the pre-key message still decrypts after the pool is closed, the receiver
//!   has rotated its signed pre-key (the old one kept through
//!   `store_signed_prekey`), and the database is reopened: identity keys,
//!   registration ids, pre-keys and signed pre-keys all come from the database;
//! - the consumed one-time pre-key is deleted for that device only;
//! - the double ratchet keeps turning in both directions across another
//!   reopen, including messages that were in flight and skipped message keys
//!   (out-of-order delivery), which exist only inside the stored session record;
//! - a device with no stored session cannot decrypt (negative control);
//! - group messaging with sender keys: distribution messages carried over the
//!   pairwise sessions, then group messages from two senders to several
//!   receivers, before and after a reopen, through `put_sender_key` /
//!   `get_sender_key`.
//!
//! A lost, stale or misattributed write (session, identity, pre-key, signed
//! pre-key, sender key or device row) fails the test: a decrypt after a reopen
//! breaks, or a direct check of the rows the protocol must have written does.

use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use async_lock::RwLock;
use wasap::store::{DeviceBackend, Store};
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::store::Device;
use whatsapp_rust::store::signal_adapter::SignalProtocolStoreAdapter;
use whatsapp_rust::store::signal_cache::SignalStoreCache;
use whatsapp_rust::wacore;
use whatsapp_rust::wacore::libsignal::protocol::{
    CiphertextMessage, IdentityKey, KeyPair, PreKeyBundle, PreKeySignalMessage, ProtocolAddress,
    SenderKeyDistributionMessage, SenderKeyName, SignalMessage, UsePQRatchet, group_decrypt, message_decrypt,
    message_encrypt, process_prekey_bundle, process_sender_key_distribution_message,
};
use whatsapp_rust::wacore::libsignal::store::record_helpers::{
    encode_pre_key_record_to, new_signed_pre_key_record, prekey_structure_to_record,
};
use whatsapp_rust::wacore::store::traits::{Backend, DeviceStore, SignalStore};
use whatsapp_rust::wacore::types::jid::{JidExt, make_sender_key_name};
use whatsapp_rust::{Jid, waproto};

/// The companion-device number every test device uses in its Signal address.
const DEVICE: u16 = 1;
/// One-time pre-keys each device stores, with ids `1..=PREKEYS` (as every real
/// device numbers its own, so the ids collide across devices on purpose).
const PREKEYS: u32 = 5;

fn rng() -> rand010::rngs::StdRng {
    rand010::make_rng::<rand010::rngs::StdRng>()
}

/// A serialized pairwise ciphertext as it would travel in an `<enc>` node.
struct Wire {
    prekey: bool,
    bytes: Vec<u8>,
}

/// One device's Signal state over the database. Dropping it discards every
/// in-memory piece (device snapshot, cache); only the database remains.
struct Peer {
    backend: DeviceBackend,
    cache: Arc<SignalStoreCache>,
    stores: SignalProtocolStoreAdapter,
    /// The non-AD phone-number JID, read back from the device row.
    pn: Jid,
    /// The pairwise Signal address of this device.
    address: ProtocolAddress,
}

/// Creates a device the way pairing would: fresh identity, registration id and
/// signed pre-key in the device row, plus one-time pre-keys stored the way the
/// client's pre-key upload stores them. Returns the device id.
async fn provision(store: &Store, phone: &str) -> Result<i32> {
    let id = store.allocate_device_id().await?;
    let backend = store.device(id);
    let mut core = wacore::store::Device::new();
    core.pn = Some(Jid::pn(phone));
    backend.save(&core).await?;

    let mut prekeys = Vec::new();
    let mut rng = rng();
    for prekey_id in 1..=PREKEYS {
        let mut record = Vec::new();
        encode_pre_key_record_to(prekey_id, &KeyPair::generate(&mut rng), &mut record);
        prekeys.push((prekey_id, Bytes::from(record)));
    }
    backend.store_prekeys_batch(&prekeys, true).await?;
    Ok(id)
}

/// Rotates a device's signed pre-key directly in the database, as
/// whatsapp-rust's `rotate_signed_pre_key` does: the outgoing key is retained
/// with `store_signed_prekey` so pre-key messages minted against it still
/// decrypt, and the device row gets the new key. Returns the retired id.
async fn rotate_signed_prekey(store: &Store, id: i32) -> Result<u32> {
    let backend = store.device(id);
    let mut core = backend.load().await?.context("device row is missing")?;
    let old_id = core.signed_pre_key_id;
    let old = new_signed_pre_key_record(
        old_id,
        &core.signed_pre_key,
        core.signed_pre_key_signature,
        wacore::time::now_utc(),
    );
    backend
        .store_signed_prekey(old_id, &waproto::codec::signed_pre_key_record_to_vec(&old))
        .await?;

    let mut rng = rng();
    let fresh = KeyPair::generate(&mut rng);
    let signature = core
        .identity_key
        .private_key
        .calculate_signature(&fresh.public_key.serialize(), &mut rng)?;
    core.signed_pre_key = fresh;
    core.signed_pre_key_id = old_id + 1;
    core.signed_pre_key_signature = signature[..].try_into()?;
    backend.save(&core).await?;
    Ok(old_id)
}

impl Peer {
    /// Loads a device and builds its Signal stores from the database alone.
    async fn open(store: &Store, id: i32) -> Result<Peer> {
        let backend = store.device(id);
        let core = backend.load().await?.context("device row is missing")?;
        let pn = core.pn.clone().context("device row lost its phone-number JID")?;
        let address = Jid::pn_device(pn.user.clone(), DEVICE).to_protocol_address();
        let shared: Arc<dyn Backend> = Arc::new(backend.clone());
        let device = Device { core, backend: shared };
        let cache = Arc::new(SignalStoreCache::new());
        let stores = SignalProtocolStoreAdapter::new(Arc::new(RwLock::new(device)), cache.clone());
        Ok(Peer {
            backend,
            cache,
            stores,
            pn,
            address,
        })
    }

    /// Writes everything the cache holds back to the database, as the client
    /// does after each send and each received batch.
    async fn flush(&self) -> Result<()> {
        self.cache.flush(&self.backend).await
    }

    /// The pre-key bundle the server would hand out for this device, built from
    /// what this device stored: its device row and one of its one-time pre-keys.
    async fn bundle(&self, prekey_id: u32) -> Result<PreKeyBundle> {
        let core = self.backend.load().await?.context("device row is missing")?;
        let stored = self
            .backend
            .load_prekey(prekey_id)
            .await?
            .context("one-time pre-key is missing")?;
        let prekey = prekey_structure_to_record(waproto::codec::pre_key_record_decode(&stored)?)?;
        Ok(PreKeyBundle::new(
            core.registration_id,
            u32::from(DEVICE).into(),
            Some((prekey_id.into(), prekey.public_key()?)),
            core.signed_pre_key_id.into(),
            core.signed_pre_key.public_key,
            core.signed_pre_key_signature.to_vec(),
            IdentityKey::new(core.identity_key.public_key),
        )?)
    }

    /// X3DH: starts an outgoing session with `bundle`'s owner.
    async fn start_session(&mut self, to: &ProtocolAddress, bundle: &PreKeyBundle) -> Result<()> {
        process_prekey_bundle(
            to,
            &mut self.stores.session_store,
            &mut self.stores.identity_store,
            bundle,
            &mut rng(),
            UsePQRatchet::No,
        )
        .await?;
        self.flush().await
    }

    async fn encrypt(&mut self, to: &ProtocolAddress, plaintext: &str) -> Result<Wire> {
        self.encrypt_bytes(to, plaintext.as_bytes()).await
    }

    async fn decrypt(&mut self, from: &ProtocolAddress, wire: &Wire) -> Result<String> {
        Ok(String::from_utf8(self.decrypt_bytes(from, wire).await?)?)
    }

    async fn encrypt_bytes(&mut self, to: &ProtocolAddress, plaintext: &[u8]) -> Result<Wire> {
        let message = message_encrypt(
            plaintext,
            to,
            &mut self.stores.session_store,
            &mut self.stores.identity_store,
        )
        .await?;
        self.flush().await?;
        let (_, prekey, bytes) = wacore::send::extract_ciphertext(message).context("not a pairwise ciphertext")?;
        Ok(Wire {
            prekey,
            bytes: bytes.into_vec(),
        })
    }

    /// Decrypts like the receive path: a consumed one-time pre-key is buffered
    /// and deleted by the flush that makes the new session durable.
    async fn decrypt_bytes(&mut self, from: &ProtocolAddress, wire: &Wire) -> Result<Vec<u8>> {
        let parsed = if wire.prekey {
            CiphertextMessage::PreKeySignalMessage(PreKeySignalMessage::try_from(&wire.bytes[..])?)
        } else {
            CiphertextMessage::SignalMessage(SignalMessage::try_from(&wire.bytes[..])?)
        };
        let stores = &mut self.stores;
        let decrypted = message_decrypt(
            &parsed,
            from,
            &mut stores.session_store,
            &mut stores.identity_store,
            &mut stores.pre_key_store,
            &stores.signed_pre_key_store,
            &mut rng(),
            UsePQRatchet::No,
        )
        .await?;
        if let Some(prekey_id) = decrypted.consumed_prekey_id {
            stores.pre_key_store.buffer_consumed_prekey(prekey_id, from).await;
        }
        self.flush().await?;
        Ok(decrypted.plaintext)
    }

    /// The sender-key chain name of this device's messages in `group`.
    fn sender_key_name(&self, group: &Jid) -> SenderKeyName {
        make_sender_key_name(group, &self.pn.to_protocol_address())
    }

    /// Creates this device's sender key for `group`; returns the SKDM bytes.
    async fn create_sender_key(&mut self, group: &Jid) -> Result<Vec<u8>> {
        let name = self.sender_key_name(group);
        let skdm =
            wacore::send::create_sender_key_distribution_message_for_group(&mut self.stores.sender_key_store, &name)
                .await?;
        self.flush().await?;
        Ok(skdm)
    }

    async fn process_sender_key(&mut self, name: &SenderKeyName, skdm: &[u8]) -> Result<()> {
        let skdm = SenderKeyDistributionMessage::try_from(skdm)?;
        process_sender_key_distribution_message(name, &skdm, &mut self.stores.sender_key_store).await?;
        self.flush().await
    }

    async fn group_encrypt(&mut self, group: &Jid, plaintext: &str) -> Result<Vec<u8>> {
        let name = self.sender_key_name(group);
        let message = wacore::send::encrypt_group_message(
            &mut self.stores.sender_key_store,
            &name,
            plaintext.as_bytes(),
            &mut rng(),
        )
        .await?;
        self.flush().await?;
        Ok(message.serialized().to_vec())
    }

    async fn group_decrypt(&mut self, name: &SenderKeyName, ciphertext: &[u8]) -> Result<String> {
        let plaintext = group_decrypt(ciphertext, &mut self.stores.sender_key_store, name).await?;
        self.flush().await?;
        Ok(String::from_utf8(plaintext)?)
    }
}

/// Sends `text` from one device to another and checks it arrives intact.
async fn send(from: &mut Peer, to: &mut Peer, text: &str) -> Result<Wire> {
    let wire = from.encrypt(&to.address, text).await?;
    let received = to.decrypt(&from.address, &wire).await?;
    ensure!(received == text, "decrypted {received:?}, sent {text:?}");
    Ok(wire)
}

/// Delivers an SKDM from `sender` to `receiver` inside a pairwise message (as
/// WhatsApp does), and has the receiver install it.
async fn distribute(sender: &mut Peer, receiver: &mut Peer, group: &Jid, skdm: &[u8]) -> Result<()> {
    let wire = sender.encrypt_bytes(&receiver.address, skdm).await?;
    let carried = receiver.decrypt_bytes(&sender.address, &wire).await?;
    ensure!(carried == skdm, "the SKDM was corrupted in transit");
    receiver
        .process_sender_key(&sender.sender_key_name(group), &carried)
        .await
}

async fn identity_of(store: &Store, id: i32) -> Result<[u8; 32]> {
    let core = store.device(id).load().await?.context("device row is missing")?;
    Ok(core.identity_key.public_key.public_key_bytes().try_into()?)
}

#[tokio::test]
async fn pairwise_session_survives_reopen() -> Result<()> {
    let db = wasap_tests::TestDb::new().await;
    let store = Store::open(db.url()).await?;
    let alice_id = provision(&store, "15550001001").await?;
    let bob_id = provision(&store, "15550001002").await?;
    let carol_id = provision(&store, "15550001003").await?;
    let bob_identity = identity_of(&store, bob_id).await?;
    let bob_registration = store.device(bob_id).load().await?.context("bob")?.registration_id;

    // Alice fetches Bob's bundle and sends two pre-key messages Bob has not
    // read yet.
    let mut alice = Peer::open(&store, alice_id).await?;
    let bob = Peer::open(&store, bob_id).await?;
    let bundle = bob.bundle(3).await?;
    alice.start_session(&bob.address, &bundle).await?;
    let first = alice.encrypt(&bob.address, "hello bob").await?;
    let second = alice.encrypt(&bob.address, "are you there?").await?;
    ensure!(
        first.prekey && second.prekey,
        "an unacknowledged session sends pre-key messages"
    );
    ensure!(
        alice.backend.load_identity(bob.address.as_str()).await? == Some(bob_identity),
        "alice must have stored bob's identity key"
    );
    ensure!(alice.backend.get_session(bob.address.as_str()).await?.is_some());
    let (alice_address, bob_address) = (alice.address.clone(), bob.address.clone());
    drop((alice, bob));

    // Bob rotates his signed pre-key while the messages are in flight, then
    // the process "restarts": nothing survives but the database.
    let retired = rotate_signed_prekey(&store, bob_id).await?;
    store.close().await;
    let store = Store::open(db.url()).await?;
    let mut alice = Peer::open(&store, alice_id).await?;
    let mut bob = Peer::open(&store, bob_id).await?;
    ensure!(alice.address == alice_address && bob.address == bob_address);
    let bob_core = bob.backend.load().await?.context("bob")?;
    ensure!(bob_core.signed_pre_key_id == retired + 1, "the rotation was not saved");
    ensure!(bob_core.registration_id == bob_registration, "registration id changed");
    ensure!(
        identity_of(&store, bob_id).await? == bob_identity,
        "identity key changed"
    );
    ensure!(
        bob.backend.load_signed_prekey(retired).await?.is_some(),
        "retired key lost"
    );

    // Bob's side of X3DH: his identity, the retired signed pre-key and the
    // one-time pre-key all come from the reopened database.
    ensure!(bob.decrypt(&alice.address, &first).await? == "hello bob");
    ensure!(bob.decrypt(&alice.address, &second).await? == "are you there?");
    ensure!(
        bob.backend.load_prekey(3).await?.is_none(),
        "consumed pre-key must be deleted"
    );
    ensure!(
        bob.backend.load_prekey(4).await?.is_some(),
        "only the consumed pre-key goes"
    );
    ensure!(
        alice.backend.load_prekey(3).await?.is_some(),
        "another device's pre-key 3 went"
    );
    ensure!(
        bob.backend.load_identity(alice.address.as_str()).await? == Some(identity_of(&store, alice_id).await?),
        "bob must have stored alice's identity key"
    );

    // Ratchet a few times each way; once Bob has answered, Alice's session is
    // acknowledged and she sends ordinary messages.
    send(&mut bob, &mut alice, "yes, hi alice").await?;
    for round in 0..3 {
        let wire = send(&mut alice, &mut bob, &format!("alice round {round}")).await?;
        ensure!(!wire.prekey, "an acknowledged session must not send pre-key messages");
        send(&mut bob, &mut alice, &format!("bob round {round} a")).await?;
        send(&mut bob, &mut alice, &format!("bob round {round} b")).await?;
    }

    // Leave messages in flight and skipped: Bob reads only the last of three,
    // so the keys of the first two live only in his stored session record.
    let mut in_flight_a = Vec::new();
    for n in 1..=3 {
        in_flight_a.push(alice.encrypt(&bob.address, &format!("queued {n}")).await?);
    }
    ensure!(bob.decrypt(&alice.address, &in_flight_a[2]).await? == "queued 3");
    let in_flight_b = bob.encrypt(&alice.address, "bob's unread reply").await?;

    // Negative control and isolation: Carol, in the same database, has no
    // session with Alice and cannot read her messages.
    let mut carol = Peer::open(&store, carol_id).await?;
    ensure!(
        carol.decrypt(&alice.address, &in_flight_a[0]).await.is_err(),
        "a device without the session must not decrypt"
    );
    for (peer, remote, expected) in [
        (&bob, &alice.address, true),
        (&alice, &bob.address, true),
        (&carol, &alice.address, false),
        (&alice, &alice.address, false),
        (&bob, &bob.address, false),
    ] {
        let present = peer.backend.get_session(remote.as_str()).await?.is_some();
        ensure!(present == expected, "session {remote} present: {present}");
    }
    drop((alice, bob, carol));

    // Second restart, mid-conversation.
    store.close().await;
    let store = Store::open(db.url()).await?;
    let mut alice = Peer::open(&store, alice_id).await?;
    let mut bob = Peer::open(&store, bob_id).await?;
    ensure!(bob.decrypt(&alice.address, &in_flight_a[0]).await? == "queued 1");
    ensure!(bob.decrypt(&alice.address, &in_flight_a[1]).await? == "queued 2");
    ensure!(alice.decrypt(&bob.address, &in_flight_b).await? == "bob's unread reply");
    ensure!(
        bob.decrypt(&alice.address, &in_flight_a[1]).await.is_err(),
        "a replayed message must not decrypt twice"
    );
    for round in 0..3 {
        send(&mut alice, &mut bob, &format!("after restart, alice {round}")).await?;
        send(&mut bob, &mut alice, &format!("after restart, bob {round}")).await?;
    }
    drop((alice, bob));
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn group_sender_keys_survive_reopen() -> Result<()> {
    let db = wasap_tests::TestDb::new().await;
    let store = Store::open(db.url()).await?;
    let ids = [
        provision(&store, "15550002001").await?,
        provision(&store, "15550002002").await?,
        provision(&store, "15550002003").await?,
    ];
    let group = Jid::group("120363000000000042");
    let [mut alice, mut bob, mut carol] = [
        Peer::open(&store, ids[0]).await?,
        Peer::open(&store, ids[1]).await?,
        Peer::open(&store, ids[2]).await?,
    ];

    // Pairwise sessions Alice → Bob and Alice → Carol carry the SKDMs; Bob
    // sends his own back over the session Alice opened.
    for (receiver, prekey) in [(&mut bob, 1), (&mut carol, 2)] {
        let bundle = receiver.bundle(prekey).await?;
        alice.start_session(&receiver.address, &bundle).await?;
    }

    // Alice distributes her sender key to both; Bob distributes his to Alice.
    let skdm = alice.create_sender_key(&group).await?;
    distribute(&mut alice, &mut bob, &group, &skdm).await?;
    distribute(&mut alice, &mut carol, &group, &skdm).await?;
    let bob_skdm = bob.create_sender_key(&group).await?;
    distribute(&mut bob, &mut alice, &group, &bob_skdm).await?;

    let alice_chain = alice.sender_key_name(&group);
    let bob_chain = bob.sender_key_name(&group);
    let mut from_alice = Vec::new();
    for n in 1..=3 {
        from_alice.push(alice.group_encrypt(&group, &format!("group message {n}")).await?);
    }
    for (n, ciphertext) in from_alice.iter().enumerate() {
        let text = bob.group_decrypt(&alice_chain, ciphertext).await?;
        ensure!(text == format!("group message {}", n + 1), "bob read {text:?}");
    }
    // Carol reads out of order and leaves message 2 unread across the restart.
    ensure!(carol.group_decrypt(&alice_chain, &from_alice[2]).await? == "group message 3");
    ensure!(carol.group_decrypt(&alice_chain, &from_alice[0]).await? == "group message 1");
    let from_bob = bob.group_encrypt(&group, "bob to the group").await?;
    ensure!(alice.group_decrypt(&bob_chain, &from_bob).await? == "bob to the group");
    let bob_unread = bob.group_encrypt(&group, "bob, unread before restart").await?;

    // Each device holds exactly the chains it was given.
    for (peer, chain, expected) in [
        (&alice, &alice_chain, true),
        (&alice, &bob_chain, true),
        (&bob, &alice_chain, true),
        (&bob, &bob_chain, true),
        (&carol, &alice_chain, true),
        (&carol, &bob_chain, false),
    ] {
        let present = peer.backend.get_sender_key(chain.cache_key()).await?.is_some();
        ensure!(
            present == expected,
            "sender key {} present: {present}",
            chain.cache_key()
        );
    }
    drop((alice, bob, carol));

    store.close().await;
    let store = Store::open(db.url()).await?;
    let [mut alice, mut bob, mut carol] = [
        Peer::open(&store, ids[0]).await?,
        Peer::open(&store, ids[1]).await?,
        Peer::open(&store, ids[2]).await?,
    ];
    ensure!(carol.group_decrypt(&alice_chain, &from_alice[1]).await? == "group message 2");
    ensure!(alice.group_decrypt(&bob_chain, &bob_unread).await? == "bob, unread before restart");
    ensure!(
        carol.group_decrypt(&bob_chain, &bob_unread).await.is_err(),
        "carol never got bob's sender key"
    );
    for n in 4..=6 {
        let text = format!("group message {n}");
        let ciphertext = alice.group_encrypt(&group, &text).await?;
        ensure!(bob.group_decrypt(&alice_chain, &ciphertext).await? == text);
        ensure!(carol.group_decrypt(&alice_chain, &ciphertext).await? == text);
    }
    let from_bob = bob.group_encrypt(&group, "bob after restart").await?;
    ensure!(alice.group_decrypt(&bob_chain, &from_bob).await? == "bob after restart");
    drop((alice, bob, carol));
    store.close().await;
    Ok(())
}
