//! A WhatsApp of our own, on loopback, for testing the unmodified
//! whatsapp-rust client: the server (Noise XX/IK/XX-fallback over a
//! WebSocket, a stanza router that answers every IQ a client sends), the
//! phone (links a client by its QR code, unlinks it) and contacts (accounts
//! with their own Signal identities that send and decrypt real end-to-end
//! encrypted messages).
//!
//! ```no_run
//! # async fn demo() -> Result<(), wasap_whatsapp_sim::SimError> {
//! let sim = wasap_whatsapp_sim::Simulator::start().await?;
//! // Point the client at sim.ws_url(); when it shows a QR code:
//! # let qr = String::new();
//! let linked = sim.phone("15550001111").scan(&qr).await?;
//! let alice = sim.contact("15550002222");
//! alice.send_text(&linked.user, "hello").await?;
//! assert!(sim.unhandled().is_empty());
//! # Ok(()) }
//! ```
//!
//! Files: `server.rs` (shared core), `state.rs` (what the server knows),
//! `conn.rs` (a connection), `noise.rs` (handshakes), `cert.rs` (the
//! server's keys), `login.rs`, `router.rs`, `iq/` (IQ handlers),
//! `messaging.rs` (messages, receipts, acks), `held_acks.rs` (message acks
//! held back on purpose), `media_server.rs` (the media
//! CDN on a port of its own), `media.rs` (media sent and received by
//! simulated phones), `phone.rs` (pairing),
//! `signal.rs` (simulated devices' Signal state), `sender_keys.rs` (their
//! group keys), `groups.rs` (groups, group messages, participant changes),
//! `app_state.rs` (an account's app state, delete-for-me; the patches
//! devices send in `iq/appstate_patch.rs`),
//! `message_secrets.rs` (message secrets, encrypted edits), `addressing.rs`
//! (phone numbers or LIDs), `accounts.rs` (the handles of a phone and of a
//! contact), `control.rs` (HTTP API).

mod accounts;
mod address_book;
mod addressing;
mod app_state;
mod calls;
mod cert;
mod chat_states;
mod conn;
pub mod control;
mod dedupe;
mod error;
mod group_admin;
mod group_receive;
mod groups;
mod held_acks;
mod iq;
mod login;
mod media;
mod media_server;
mod message_secrets;
mod messaging;
mod nodes;
mod noise;
mod pair_code;
mod phone;
mod polls;
mod profiles;
mod router;
mod sender_keys;
mod server;
mod signal;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use wacore_binary::Jid;
use waproto::whatsapp as wa;

pub use crate::accounts::{Contact, Phone};
pub use crate::address_book::SavedContact;
pub use crate::calls::CallRejected;
pub use crate::chat_states::ChatStateKind;
pub use crate::error::{Result, SimError};
pub use crate::group_admin::GroupSetting;
pub use crate::groups::{GroupChange, GroupInfo, GroupRole};
pub use crate::iq::AppStateChange;
pub use crate::media::{MediaKind, OutgoingMedia, ReceivedMedia, UploadedMedia, media_message};
pub use crate::noise::HandshakePattern;
pub use crate::polls::ReceivedPoll;
pub use crate::profiles::Profile;
use crate::server::Inner;
use crate::signal::SignalDevice;
use crate::state::{Account, Outbound};

/// A running simulator. Dropping it stops accepting connections.
pub struct Simulator {
    inner: Arc<Inner>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

/// A message a simulated device decrypted.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedMessage {
    pub id: String,
    /// The sending device, e.g. `15550001111:1@s.whatsapp.net`.
    pub from: String,
    /// The simulated account that received it (its phone number).
    pub to: String,
    /// The chat it was addressed to.
    pub chat: String,
    /// The text, for a text message.
    pub text: Option<String>,
    /// `peer` for the account's own devices' protocol traffic.
    pub category: Option<String>,
    #[serde(skip)]
    pub message: wa::Message,
}

/// A receipt a client sent to a simulated device.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedReceipt {
    pub ids: Vec<String>,
    pub from: String,
    /// `delivery`, `read`, `played`, `peer_msg`, …
    pub kind: String,
}

/// A presence or chat state a client sent.
#[derive(Debug, Clone, Serialize)]
pub struct PresenceSent {
    /// The sending device.
    pub from: String,
    /// `available`, `unavailable`, `subscribe`, or a chat state (`composing`,
    /// `recording`, `paused`).
    pub kind: String,
    pub to: Option<String>,
    pub name: Option<String>,
}

/// A client linked to an account.
#[derive(Debug, Clone, Serialize)]
pub struct LinkedDevice {
    /// `phone:device@s.whatsapp.net`
    pub jid: String,
    pub lid: String,
    pub user: String,
    pub device: u16,
    /// The name the client registered with (its device props' `os`), which
    /// the phone lists it under.
    pub name: String,
}

/// A connected client as the server sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub device: Option<LinkedDevice>,
    pub pattern: String,
    pub active: bool,
}

/// How a receipt a contact sends reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    Delivery,
    Read,
    /// A voice note or video was played.
    Played,
}

impl Simulator {
    /// Listens on a free loopback port.
    pub async fn start() -> Result<Simulator> {
        Simulator::bind("127.0.0.1:0".parse().expect("a valid address")).await
    }

    /// Listens on `addr` (the standalone binary picks its port).
    pub async fn bind(addr: SocketAddr) -> Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Inner::new();
        let (stop, stop_rx) = watch::channel(false);
        media_server::start(inner.clone(), addr.ip(), stop.subscribe()).await?;
        tokio::spawn(conn::accept_loop(listener, inner.clone(), stop_rx));
        Ok(Simulator { inner, addr, stop })
    }

    /// The URL to give the client's transport.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The media server's `host:port`, as the `media_conn` IQ names it.
    pub fn media_host(&self) -> String {
        self.inner.media.host().unwrap_or_default().to_owned()
    }

    /// The phone of account `pn` (created on first use).
    pub fn phone(&self, pn: &str) -> Phone {
        self.ensure_account(pn);
        Phone {
            inner: self.inner.clone(),
            pn: pn.to_owned(),
        }
    }

    /// A contact: the account `pn` (created on first use) on its phone.
    pub fn contact(&self, pn: &str) -> Contact {
        self.ensure_account(pn);
        Contact {
            inner: self.inner.clone(),
            pn: pn.to_owned(),
        }
    }

    fn ensure_account(&self, pn: &str) {
        let mut world = self.inner.world();
        if world.accounts.contains_key(pn) {
            return;
        }
        let device = SignalDevice::generate().expect("key generation does not fail");
        let identity = device.identity().clone();
        let lid = world.next_lid.to_string();
        world.next_lid += 1;
        world.lids.insert(lid.clone(), pn.to_owned());
        let mut account = Account {
            pn: pn.to_owned(),
            lid,
            push_name: format!("Sim {pn}"),
            primary: Arc::new(tokio::sync::Mutex::new(device)),
            identity,
            adv_raw_id: rand::random_range(1..u32::MAX),
            signed_key_index_list: Vec::new(),
            key_index_ts: 0,
            companions: Default::default(),
            next_device: 1,
            next_key_index: 1,
            inbox: Vec::new(),
            receipts: Vec::new(),
            app_state_key_id: rand::random::<[u8; 6]>().to_vec(),
            app_state_key: rand::random(),
        };
        account.refresh_key_index_list();
        world.accounts.insert(pn.to_owned(), account);
    }

    /// Every stanza the simulator did not handle (and every decryption it
    /// failed). A test asserts this is empty.
    pub fn unhandled(&self) -> Vec<String> {
        self.inner.world().unhandled.clone()
    }

    /// Unlinks a device (as from the phone's Linked Devices).
    pub fn unlink(&self, user: &str, device: u16) -> Result<()> {
        phone::unlink(&self.inner, user, device)
    }

    /// Bans account `user` for `seconds` (WhatsApp's ban `code`, with
    /// `message`), and cuts its devices' connections: each login until the
    /// ban ends is refused with `<failure reason="402">` naming it.
    pub fn ban(&self, user: &str, seconds: u64, code: u32, message: &str) {
        let mut world = self.inner.world();
        world.bans.insert(
            user.to_owned(),
            login::Ban {
                until: std::time::Instant::now() + Duration::from_secs(seconds),
                code,
                message: message.to_owned(),
            },
        );
        for conn in world.conns.values() {
            if conn.device.as_ref().is_some_and(|(u, _)| u == user) {
                let _ = conn.tx.send(Outbound::Drop);
            }
        }
    }

    /// Cuts a device's connection without a goodbye, like a network drop.
    /// Returns whether it was connected.
    pub fn drop_connection(&self, user: &str, device: u16) -> bool {
        let world = self.inner.world();
        match world.conn_of(&(user.to_owned(), device)) {
            Some((_, c)) => c.tx.send(Outbound::Drop).is_ok(),
            None => false,
        }
    }

    /// Waits until a device of account `user` has changed its app state as
    /// `matches` accepts (a patch the server took, decrypted); returns it.
    pub async fn wait_app_state_change(
        &self,
        user: &str,
        timeout: Duration,
        mut matches: impl FnMut(&AppStateChange) -> bool,
    ) -> Result<AppStateChange> {
        self.inner
            .wait_for(timeout, &format!("an app state change of {user}'s"), |w| {
                w.app_state_changes
                    .iter()
                    .find(|c| c.account == user && matches(c))
                    .cloned()
            })
            .await
    }

    /// The app state changes devices made, in order.
    pub fn app_state_changes(&self) -> Vec<AppStateChange> {
        self.inner.world().app_state_changes.clone()
    }

    /// Presences and chat states clients sent, in order.
    pub fn presences(&self) -> Vec<PresenceSent> {
        self.inner.world().presences.clone()
    }

    /// Waits for a presence or chat state `matches` accepts.
    pub async fn wait_presence(
        &self,
        timeout: Duration,
        mut matches: impl FnMut(&PresenceSent) -> bool,
    ) -> Result<PresenceSent> {
        self.inner
            .wait_for(timeout, "a presence", |w| {
                w.presences.iter().find(|p| matches(p)).cloned()
            })
            .await
    }

    /// Waits until at least `min` presences or chat states `matches`
    /// accepts were sent; returns them.
    pub async fn wait_presences(
        &self,
        timeout: Duration,
        min: usize,
        mut matches: impl FnMut(&PresenceSent) -> bool,
    ) -> Result<Vec<PresenceSent>> {
        self.inner
            .wait_for(timeout, &format!("{min} presences"), |w| {
                let found: Vec<PresenceSent> = w.presences.iter().filter(|p| matches(p)).cloned().collect();
                (found.len() >= min).then_some(found)
            })
            .await
    }

    /// Cuts a device's connection right after the next stanza delivered to
    /// it, before its answer arrives: the stanza stays unacknowledged and is
    /// delivered again at the next login. Returns whether it was connected.
    pub fn drop_after_next_delivery(&self, user: &str, device: u16) -> bool {
        let mut world = self.inner.world();
        let Some((id, _)) = world.conn_of(&(user.to_owned(), device)) else {
            return false;
        };
        world.conns.get_mut(&id).map(|c| c.drop_after_delivery = true).is_some()
    }

    /// Holds back (`hold`) or releases the server's acks of the messages
    /// the open connections of account `user` send (`held_acks.rs`): held,
    /// a message is taken all the same, and its sender hears nothing until
    /// the release; a connection that closes drops its held acks, and one
    /// opened later is not held. Returns how many acks were held when it
    /// was called (sent now when releasing).
    pub fn hold_message_acks(&self, user: &str, hold: bool) -> usize {
        held_acks::hold(&mut self.inner.world(), user, hold)
    }

    /// How many message acks the open connections of account `user` hold.
    pub fn held_message_acks(&self, user: &str) -> usize {
        held_acks::held(&self.inner.world(), user)
    }

    /// Waits until the open connections of account `user` hold at least
    /// `min` message acks (each for a message taken); returns how many.
    pub async fn wait_held_message_acks(&self, user: &str, min: usize, timeout: Duration) -> Result<usize> {
        self.inner
            .wait_for(timeout, &format!("{min} held acks of {user}'s messages"), |w| {
                let held = held_acks::held(w, user);
                (held >= min).then_some(held)
            })
            .await
    }

    /// The open connections.
    pub fn connections(&self) -> Vec<Connection> {
        let world = self.inner.world();
        world
            .conns
            .values()
            .map(|c| Connection {
                device: c.device.as_ref().map(|(u, d)| linked(&world, u, *d)),
                pattern: format!("{:?}", c.pattern),
                active: c.active,
            })
            .collect()
    }

    /// The handshakes of a device's logins so far, in order (see
    /// [`wait_online`](Self::wait_online), which reports the current one).
    pub fn logins(&self, user: &str, device: u16) -> Vec<HandshakePattern> {
        let world = self.inner.world();
        world
            .logins
            .get(&(user.to_owned(), device))
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until a device is connected, logged in and out of passive mode;
    /// returns the handshake it used.
    pub async fn wait_online(&self, user: &str, device: u16, timeout: Duration) -> Result<HandshakePattern> {
        let key = (user.to_owned(), device);
        self.inner
            .wait_for(timeout, &format!("{user}:{device} online"), |w| {
                w.conn_of(&key).filter(|(_, c)| c.active).map(|(_, c)| c.pattern)
            })
            .await
    }

    /// Waits until a device has no connection.
    pub async fn wait_offline(&self, user: &str, device: u16, timeout: Duration) -> Result<()> {
        let key = (user.to_owned(), device);
        self.inner
            .wait_for(timeout, &format!("{user}:{device} offline"), |w| {
                w.conn_of(&key).is_none().then_some(())
            })
            .await
    }

    /// Waits until a client waits to be paired (its QR refs are out).
    pub async fn wait_pairing_client(&self, timeout: Duration) -> Result<()> {
        self.inner
            .wait_for(timeout, "a client waiting to be paired", |w| {
                (!w.registrations.is_empty()).then_some(())
            })
            .await
    }

    /// Stanzas queued for a device and not yet acknowledged by it.
    pub fn pending(&self, user: &str, device: u16) -> usize {
        self.inner
            .world()
            .queues
            .get(&(user.to_owned(), device))
            .map_or(0, |q| q.len())
    }

    /// Waits until a device is no longer linked (unlinked or logged out).
    pub async fn wait_unlinked(&self, user: &str, device: u16, timeout: Duration) -> Result<()> {
        self.inner
            .wait_for(timeout, &format!("{user}:{device} unlinked"), |w| {
                w.accounts
                    .get(user)
                    .and_then(|a| a.companions.get(&device))
                    .is_none_or(|c| c.removed)
                    .then_some(())
            })
            .await
    }

    /// Waits until a device acknowledged everything delivered to it.
    pub async fn wait_delivered(&self, user: &str, device: u16, timeout: Duration) -> Result<()> {
        let key = (user.to_owned(), device);
        self.inner
            .wait_for(timeout, &format!("{user}:{device} to acknowledge everything"), |w| {
                w.queues.get(&key).is_none_or(|q| q.is_empty()).then_some(())
            })
            .await
    }

    /// Refuse every IK resume: clients finish with XX-fallback.
    pub fn refuse_ik(&self, refuse: bool) {
        self.inner.refuse_ik.store(refuse, Ordering::Relaxed);
    }

    /// Replace the server's static key: clients that cached the old one fail
    /// IK and fall back to XX.
    pub fn rotate_noise_key(&self) {
        self.inner.rotate_keys();
    }

    /// Whether simulated devices answer a decrypted message with a delivery
    /// receipt (on by default, as phones do).
    pub fn auto_delivery_receipts(&self, on: bool) {
        self.inner.auto_delivery_receipts.store(on, Ordering::Relaxed);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for c in self.inner.world().conns.values() {
            let _ = c.tx.send(Outbound::Drop);
        }
    }
}

pub(crate) fn linked(world: &state::World, user: &str, device: u16) -> LinkedDevice {
    let account = world.accounts.get(user);
    let lid = account.map(|a| a.lid.clone()).unwrap_or_default();
    let name = account
        .and_then(|a| a.companions.get(&device))
        .map(|c| c.name.clone())
        .unwrap_or_default();
    LinkedDevice {
        jid: Jid::pn_device(user, device).to_string(),
        lid: Jid::lid_device(lid.as_str(), device).to_string(),
        user: user.to_owned(),
        device,
        name,
    }
}
