//! What the simulated WhatsApp knows: accounts and their devices, pending
//! registrations, per-device delivery queues, open connections, and the
//! record of stanzas it could not handle. Plain data behind one lock; no
//! I/O happens while it is held.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use buffa::Message as _;
use tokio::sync::mpsc::UnboundedSender;
use wacore_binary::{Jid, Node, Server};
use wacore_libsignal::protocol::IdentityKeyPair;
use waproto::whatsapp as wa;

use crate::noise::HandshakePattern;
use crate::signal::SignalDevice;
use crate::{ReceivedMessage, ReceivedReceipt};

/// A device of an account: `(phone number, device id)`; 0 is the primary.
pub type DeviceKey = (String, u16);

/// The first LID handed out; LIDs are opaque numbers unrelated to the phone number.
const FIRST_LID: u64 = 100_000_000_000_001;

#[derive(Default)]
pub struct World {
    pub accounts: BTreeMap<String, Account>,
    /// LID user to phone number.
    pub lids: HashMap<String, String>,
    pub next_lid: u64,
    pub registrations: Vec<Registration>,
    /// The calls clients declined, in order (`calls.rs`).
    pub call_rejects: Vec<crate::CallRejected>,
    pub pair_codes: Vec<crate::pair_code::PendingCode>,
    pub queues: HashMap<DeviceKey, VecDeque<Queued>>,
    pub conns: HashMap<u64, Conn>,
    /// IQs the server sent and the client still has to answer, by id.
    pub server_iqs: HashMap<String, ServerIq>,
    pub unhandled: Vec<String>,
    /// Presence and chat-state stanzas clients sent, in order.
    pub presences: Vec<crate::PresenceSent>,
    /// Groups, by the user part of their JID (`groups.rs`).
    pub groups: BTreeMap<String, crate::groups::Group>,
    /// Each account's app state collections, made at its first sync (`app_state.rs`).
    pub app_state: HashMap<String, crate::app_state::Collections>,
    /// The version of each collection each device last synced to.
    pub app_state_synced: HashMap<(DeviceKey, String), u64>,
    /// App state changes devices made (their patches, decrypted), in order.
    pub app_state_changes: Vec<crate::iq::AppStateChange>,
    /// The secret of each message a simulated phone sent, by `(sender, id)`
    /// (`message_secrets.rs`).
    pub message_secrets: HashMap<(String, String), Vec<u8>>,
    /// Accounts the server names by their LID (`addressing.rs`).
    pub lid_addressed: HashSet<String>,
    /// Ids of messages sent with a broken ciphertext on purpose
    /// (`Contact::send_undecryptable`): the client's retry receipt for one of
    /// them is expected, not an error.
    pub undecryptable: HashSet<String>,
    /// Accounts under a temporary ban: their devices' logins are refused
    /// (`<failure reason="402">`) until it ends (`login.rs`).
    pub bans: HashMap<String, crate::login::Ban>,
    /// Each device's logins (connections that left passive mode), in order,
    /// with the handshake each used: a test can tell the first login after
    /// pairing from a reconnect that came right after it.
    pub logins: HashMap<DeviceKey, Vec<HandshakePattern>>,
    /// Accounts' about, picture, blocklist and privacy, by phone number (`profiles.rs`).
    pub profiles: HashMap<String, crate::profiles::Profile>,
    /// The message ids each account's clients sent, taken once (`dedupe.rs`).
    pub taken: crate::dedupe::TakenIds,
    pub next_id: u64,
}

/// A WhatsApp account: a simulated primary device (the phone, or a contact)
/// and the companion devices (real clients) linked to it.
pub struct Account {
    pub pn: String,
    pub lid: String,
    pub push_name: String,
    pub primary: Arc<tokio::sync::Mutex<SignalDevice>>,
    /// The primary device's identity: the account key that signs companions.
    pub identity: IdentityKeyPair,
    /// The account's ADV id, shared by every companion identity it signs.
    pub adv_raw_id: u32,
    /// The signed list of valid companion key indexes, and its timestamp.
    pub signed_key_index_list: Vec<u8>,
    pub key_index_ts: i64,
    pub companions: BTreeMap<u16, Companion>,
    pub next_device: u16,
    pub next_key_index: u32,
    /// What the primary device decrypted.
    pub inbox: Vec<ReceivedMessage>,
    /// Receipts addressed to the primary device.
    pub receipts: Vec<ReceivedReceipt>,
    /// The app state sync key the phone shares with its companions.
    pub app_state_key_id: Vec<u8>,
    pub app_state_key: [u8; 32],
}

impl Account {
    pub fn jid(&self) -> Jid {
        Jid::pn(self.pn.as_str())
    }

    pub fn lid_jid(&self) -> Jid {
        Jid::lid(self.lid.as_str())
    }

    pub fn live_companions(&self) -> impl Iterator<Item = &Companion> {
        self.companions.values().filter(|c| !c.removed)
    }

    pub fn identity_public(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.identity.public_key().public_key_bytes());
        out
    }

    /// Re-signs the list of valid key indexes after a companion came or went.
    pub fn refresh_key_index_list(&mut self) {
        let valid: Vec<u32> = self.live_companions().map(|c| c.key_index).collect();
        self.key_index_ts = wacore::time::now_secs();
        let details = wa::ADVKeyIndexList {
            raw_id: Some(self.adv_raw_id),
            timestamp: Some(self.key_index_ts as u64),
            current_index: Some(self.next_key_index.saturating_sub(1)),
            valid_indexes: valid,
            ..Default::default()
        }
        .encode_to_vec();
        // The client does not verify this signature (the list comes over
        // the Noise channel); it is made with the account key anyway.
        let signature = self
            .identity
            .private_key()
            .calculate_signature(&[&[6u8, 2][..], &details].concat(), &mut rand::rng())
            .map(|s| s.to_vec())
            .ok();
        self.signed_key_index_list = wa::ADVSignedKeyIndexList {
            details: Some(details),
            account_signature: signature,
            ..Default::default()
        }
        .encode_to_vec();
    }
}

/// A linked device: a real client paired through the phone.
pub struct Companion {
    pub device: u16,
    pub key_index: u32,
    pub noise_key: [u8; 32],
    pub identity: [u8; 32],
    pub registration_id: u32,
    pub signed_pre_key_id: u32,
    pub signed_pre_key: [u8; 32],
    pub signed_pre_key_signature: Vec<u8>,
    /// One-time pre-keys uploaded and not yet handed out.
    pub pre_keys: BTreeMap<u32, [u8; 32]>,
    /// The ADV identity with the account's and the device's signatures.
    pub signed_identity: Vec<u8>,
    /// The name the client registered with (its device props' `os`).
    pub name: String,
    pub removed: bool,
}

/// A client connected without an account, waiting for a phone to scan it.
pub struct Registration {
    pub conn: u64,
    pub refs: Vec<String>,
    pub noise_key: [u8; 32],
    pub identity: [u8; 32],
    pub registration_id: u32,
    pub signed_pre_key_id: u32,
    pub signed_pre_key: [u8; 32],
    pub signed_pre_key_signature: Vec<u8>,
    pub name: String,
}

/// A stanza on its way to a device, kept until the device acknowledges it.
pub struct Queued {
    pub id: String,
    pub class: &'static str,
    /// The stanza's `type`, which the ack repeats for receipts.
    pub kind: Option<String>,
    pub node: Node,
    /// The connection it was last sent on, if any.
    pub sent_on: Option<u64>,
}

/// What a connection task accepts.
pub enum Outbound {
    Node(Node),
    /// Send the close frame and end the connection.
    Close,
    /// Cut the TCP connection without a close frame.
    Drop,
}

/// An open client connection.
pub struct Conn {
    pub tx: UnboundedSender<Outbound>,
    pub device: Option<DeviceKey>,
    /// Set once the client left passive mode: only then is it delivered to.
    pub active: bool,
    pub pattern: HandshakePattern,
    /// Cut the connection right after the next stanza delivered on it.
    pub drop_after_delivery: bool,
    /// Cut: whatever still arrives on it is lost, like bytes in flight.
    pub deaf: bool,
    /// While `Some`, the server's acks of the client's messages are kept
    /// here instead of sent (`held_acks.rs`); they die with the connection.
    pub held_acks: Option<Vec<Node>>,
}

/// How the server handles the answer to one of its IQs.
pub enum ServerIq {
    /// Any `result` is fine (e.g. the ack of `pair-device`).
    Expect(&'static str),
    /// Someone waits for the answer.
    Waiter(tokio::sync::oneshot::Sender<Node>),
}

impl World {
    pub fn new() -> World {
        World {
            next_lid: FIRST_LID,
            ..World::default()
        }
    }

    pub fn next_id(&mut self) -> String {
        self.next_id += 1;
        format!("sim-{:X}", self.next_id)
    }

    /// The account a JID names, by phone number or by LID.
    pub fn account_of(&self, jid: &Jid) -> Option<&Account> {
        self.pn_of(jid).and_then(|pn| self.accounts.get(&pn))
    }

    pub fn pn_of(&self, jid: &Jid) -> Option<String> {
        match jid.server {
            Server::Pn => Some(jid.user.to_string()),
            Server::Lid => self.lids.get(jid.user.as_str()).cloned(),
            _ => None,
        }
    }

    /// The connection bound to a device, if it is connected.
    pub fn conn_of(&self, device: &DeviceKey) -> Option<(u64, &Conn)> {
        self.conns
            .iter()
            .find(|(_, c)| c.device.as_ref() == Some(device))
            .map(|(id, c)| (*id, c))
    }

    /// Queues a stanza for a device and sends it now if the device is online.
    pub fn deliver(&mut self, to: DeviceKey, class: &'static str, node: Node) {
        let id = node
            .attrs
            .get("id")
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default();
        // A deaf connection (`calls.rs`) is sent nothing: the stanza waits.
        let live = self.conn_of(&to).filter(|(_, c)| c.active && !c.deaf).map(|(id, _)| id);
        let kind = node.attrs.get("type").map(|v| v.as_str().into_owned());
        let mut queued = Queued {
            id,
            class,
            kind,
            node,
            sent_on: None,
        };
        if let Some(conn) = live
            && let Some(c) = self.conns.get_mut(&conn)
            && c.tx.send(Outbound::Node(queued.node.clone())).is_ok()
        {
            queued.sent_on = Some(conn);
            if c.drop_after_delivery {
                // The stanza reached the client; its answer never will.
                let _ = c.tx.send(Outbound::Drop);
                c.deaf = true;
            }
        }
        self.queues.entry(to).or_default().push_back(queued);
    }

    /// Sends a stanza on a connection, outside any queue.
    pub fn send(&self, conn: u64, node: Node) {
        if let Some(c) = self.conns.get(&conn).filter(|c| !c.deaf) {
            let _ = c.tx.send(Outbound::Node(node));
        }
    }
}
