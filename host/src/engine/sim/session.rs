//! The simulated engine and its sessions: one [`SimSession`] per open connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::incoming::new_message_id;
use super::network::{SentRecord, SimError, SimNetwork};
use super::offline::{Held, OfflineQueue};
use super::sends;
use crate::engine::{BlockedContact, ContactProfile, OwnProfile, PrivacyCategory, PrivacySetting};
use crate::engine::{
    ChatState, ContactCard, Engine, EngineError, EngineEvent, GroupInfo, InboundEvent, InboundSink, MediaFetch,
    MessageRef, NumberCheck, OutgoingForward, OutgoingLocation, OutgoingMedia, OutgoingText, SentMessage, Session,
    SessionRequest,
};
use crate::store::DeviceBackend;

/// The simulated engine: opens sessions on a [`SimNetwork`].
pub struct SimEngine {
    network: SimNetwork,
    qr_interval: Duration,
}

impl SimEngine {
    /// An engine on `network` whose QR codes rotate every `qr_interval`.
    pub fn new(network: SimNetwork, qr_interval: Duration) -> SimEngine {
        SimEngine { network, qr_interval }
    }
}

#[async_trait]
impl Engine for SimEngine {
    async fn open(&self, request: SessionRequest) -> Result<Arc<dyn Session>, EngineError> {
        let device = &request.device;
        if !device.exists().await.map_err(store_error)? {
            device.create().await.map_err(store_error)?;
        }
        let stored = device.load().await.map_err(store_error)?;
        // A device with a phone number was paired on an earlier start: it
        // logs straight in, as a real linked device does.
        let linked = stored
            .as_ref()
            .and_then(|d| d.pn.as_ref().map(|pn| (pn.to_string(), d.push_name.clone())));

        let session = Arc::new(SimSession {
            instance_id: request.instance_id.clone(),
            device: request.device.clone(),
            events: request.events,
            inbound: request.inbound,
            polls: request.polls,
            address_book: request.address_book,
            offline: OfflineQueue::start(request.device.clone()),
            network: self.network.clone(),
            state: Mutex::new(if linked.is_some() {
                State::Connected
            } else {
                State::AwaitingScan
            }),
            closed: AtomicBool::new(false),
            presence: AtomicU64::new(0),
            panic_on_presence: AtomicBool::new(false),
            silent_since_ms: std::sync::atomic::AtomicI64::new(0),
            qr_task: Mutex::new(None),
        });
        self.network.register(&request.instance_id, session.clone());

        match linked {
            Some((jid, push_name)) => {
                let push_name = Some(push_name).filter(|n| !n.is_empty());
                // Logged in: first the news, then what the server held for
                // the device while it was away (not acknowledged before a
                // drop or a crash), as WhatsApp's offline queue does.
                let session = session.clone();
                tokio::spawn(async move {
                    let _ = session.events.send(EngineEvent::Connected { jid, push_name }).await;
                    session.redeliver().await;
                });
            }
            None => session.start_qr_rotation(self.qr_interval),
        }
        Ok(session)
    }

    fn forget(&self, instance_id: &str) {
        self.network.forget(instance_id);
    }

    fn media_from_ticket(&self, _instance_id: &str, ticket: bytes::Bytes) -> Option<Arc<dyn MediaFetch>> {
        Some(super::incoming::media_from_ticket(ticket))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingScan,
    Connected,
}

/// One simulated connection.
pub struct SimSession {
    instance_id: String,
    device: DeviceBackend,
    events: mpsc::Sender<EngineEvent>,
    /// The instance's inbound journal: a delivery is acknowledged (and
    /// forgotten by the simulated server) once it accepted it.
    inbound: Arc<dyn InboundSink>,
    /// The instance's polls: those this session sent, and their votes.
    pub(super) polls: crate::polls::PollBook,
    /// The instance's contact list, as the contact sync teaches it (`address_book.rs`).
    pub(super) address_book: Arc<dyn crate::engine::AddressBook>,
    /// What the simulated server holds for the device until acknowledged.
    offline: OfflineQueue,
    network: SimNetwork,
    state: Mutex<State>,
    closed: AtomicBool,
    presence: AtomicU64,
    panic_on_presence: AtomicBool,
    /// When the simulated server went silent on this connection (unix ms; 0:
    /// it answers), as `POST /sim/instances/{id}/silence` makes it.
    silent_since_ms: std::sync::atomic::AtomicI64,
    qr_task: Mutex<Option<JoinHandle<()>>>,
}

impl SimSession {
    pub(super) fn panic_on_next_presence(&self) {
        self.panic_on_presence.store(true, Ordering::Release);
    }

    /// The simulated server stops answering on this connection, which stays
    /// open: from now on it shows no sign of life.
    pub(super) fn go_silent(&self) {
        let _ = self
            .silent_since_ms
            .compare_exchange(0, crate::clock::now_ms(), Ordering::AcqRel, Ordering::Acquire);
    }

    fn state(&self) -> State {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, state: State) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = state;
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    async fn emit(&self, event: EngineEvent) {
        if !self.is_closed() {
            let _ = self.events.send(event).await;
        }
    }

    fn start_qr_rotation(self: &Arc<Self>, interval: Duration) {
        let session = Arc::downgrade(self);
        let events = self.events.clone();
        let task = tokio::spawn(async move {
            loop {
                let Some(this) = session.upgrade() else { return };
                if this.is_closed() || this.state() != State::AwaitingScan {
                    return;
                }
                drop(this);
                let event = EngineEvent::Qr {
                    code: new_qr_code(),
                    valid_for: interval,
                };
                if events.send(event).await.is_err() {
                    return;
                }
                tokio::time::sleep(interval).await;
            }
        });
        *self.qr_task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    pub(super) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(task) = self.qr_task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }

    /// The phone confirms the link: the pairing is saved in the device store
    /// (as the real engine saves it), then the session reports paired and connected.
    pub(super) async fn complete_pairing(&self, phone: &str, push_name: Option<String>) -> Result<String, SimError> {
        if self.is_closed() || self.state() != State::AwaitingScan {
            return Err(SimError::NotPairing(self.instance_id.clone()));
        }
        let jid = format!("{phone}:1@s.whatsapp.net");
        let mut device = self
            .device
            .load()
            .await
            .map_err(|e| SimError::Store(e.to_string()))?
            .ok_or_else(|| SimError::Store("the device row is missing".to_owned()))?;
        device.pn = Some(
            jid.parse()
                .map_err(|e| SimError::Store(format!("bad phone {phone}: {e}")))?,
        );
        device.push_name = push_name.clone().unwrap_or_default();
        self.device
            .save(&device)
            .await
            .map_err(|e| SimError::Store(e.to_string()))?;

        self.set_state(State::Connected);
        if let Some(task) = self.qr_task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        self.emit(EngineEvent::Paired {
            jid: jid.clone(),
            push_name: push_name.clone(),
        })
        .await;
        self.emit(EngineEvent::Connected {
            jid: jid.clone(),
            push_name,
        })
        .await;
        Ok(jid)
    }

    /// Ends the connection with `event` (dropped, or unlinked from the phone).
    pub(super) async fn drop_connection(&self, event: EngineEvent) {
        if self.is_closed() {
            return;
        }
        self.emit(event).await;
        self.mark_closed();
    }

    /// Delivers an inbound event: the simulated server keeps it, hands it
    /// over, and forgets it once wasap acknowledges it (it is journalled);
    /// returns then. Not acknowledged (the connection closed meanwhile), it is
    /// delivered again on the next connection.
    pub(super) async fn deliver(&self, mut event: InboundEvent) -> Result<(), SimError> {
        self.require_connected()
            .map_err(|_| SimError::NotConnected(self.instance_id.clone()))?;
        // Both names of every account it names, as the network knows them.
        crate::engine::lids::complete(&mut event.kind, &self.network).await;
        // The server keeps the message while it hands it over (both at
        // once: whichever lands, a crash loses nothing the route answered
        // for). WhatsApp's servers keep a message whatever wasap's disk says;
        // the simulated one keeps it in wasap's database, and when that
        // cannot write (a full disk, say) the message goes on unkept: it is
        // then lost only if wasap dies before it is journalled.
        let (held, accepted) = tokio::join!(self.offline.hold(&event), self.inbound.accept(vec![event.clone()]));
        let held = match held {
            Ok(held) => Some(held),
            Err(e) => {
                tracing::warn!(instance = %self.instance_id, error = %e, "the simulated server cannot keep a message; handed over unkept");
                None
            }
        };
        self.acknowledged(held, accepted.is_ok()).await;
        Ok(())
    }

    /// Hands over an event WhatsApp neither keeps nor wants acknowledged (a
    /// chat state): nothing is held for a later connection.
    pub(super) async fn pass_on(&self, mut kind: crate::events::EventKind) -> Result<(), SimError> {
        self.require_connected()
            .map_err(|_| SimError::NotConnected(self.instance_id.clone()))?;
        crate::engine::lids::complete(&mut kind, &self.network).await;
        self.inbound.pass_on(kind).await;
        Ok(())
    }

    /// The server hears whether wasap took a delivery: it forgets a taken
    /// one, and keeps the rest for the next connection.
    async fn acknowledged(&self, held: Option<Held>, accepted: bool) {
        // An ack needs the connection it came over.
        if accepted
            && !self.is_closed()
            && let Some(held) = held
        {
            self.offline.release(held).await;
        }
    }

    /// Delivers again, in order, what the simulated server holds for the
    /// device, until done or the connection closes.
    async fn redeliver(&self) {
        let held = match self.offline.held().await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(instance = %self.instance_id, error = %e, "cannot read the simulated server's offline queue");
                return;
            }
        };
        if !held.is_empty() {
            tracing::info!(instance = %self.instance_id, messages = held.len(), "delivering what was not acknowledged");
        }
        for (held, event) in held {
            if self.is_closed() {
                return;
            }
            let accepted = self.inbound.accept(vec![event]).await.is_ok();
            self.acknowledged(Some(held), accepted).await;
        }
    }

    pub(super) fn presence_announcements(&self) -> u64 {
        self.presence.load(Ordering::Relaxed)
    }

    /// The network the session is on.
    pub(super) fn network(&self) -> &SimNetwork {
        &self.network
    }

    /// The phone number (digits) the session is linked as.
    pub(super) async fn own_phone(&self) -> Result<String, EngineError> {
        self.device
            .load()
            .await
            .map_err(store_error)?
            .and_then(|device| device.pn.map(|pn| pn.user.to_string()))
            .ok_or(EngineError::NotConnected)
    }

    /// The session's own account on the network, once connected.
    fn link(&self) -> Result<super::profiles::Link<'_>, EngineError> {
        self.require_connected()?;
        Ok(super::profiles::Link {
            network: &self.network,
            device: &self.device,
        })
    }

    pub(super) fn require_connected(&self) -> Result<(), EngineError> {
        if self.is_closed() || self.state() != State::Connected {
            return Err(EngineError::NotConnected);
        }
        Ok(())
    }

    /// The network takes `record`: answered once its record is durable, so
    /// what a crash of the server interrupts was either taken or not.
    async fn accept(&self, to: &str, record: SentRecord) -> Result<SentMessage, EngineError> {
        let message_id = record.message_id.clone();
        // A message sent again with the id it went with (the send queue,
        // after a crash) is taken once, as WhatsApp dedupes ids; the record
        // outlives restarts (`sent_log.rs`).
        let repeated = crate::engine::chosen_id::chosen()
            .is_some_and(|id| id == message_id && self.network.has_sent(&self.instance_id, &message_id));
        if !repeated {
            self.network
                .record_sent(&self.instance_id, record)
                .durable()
                .await
                .map_err(|e| EngineError::Protocol(e.to_string()))?;
        }
        Ok(SentMessage {
            lid: self.network.lid_of(to),
            ..SentMessage::now(message_id, to)
        })
    }
}

#[async_trait]
impl Session for SimSession {
    async fn pair_code(&self, phone: &str) -> Result<String, EngineError> {
        if self.is_closed() || self.state() != State::AwaitingScan {
            return Err(EngineError::Protocol("the instance is not pairing".to_owned()));
        }
        if phone.is_empty() || !phone.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EngineError::InvalidPhone(phone.to_owned()));
        }
        // The simulated phone accepts any code; `/sim/.../scan` completes the link.
        const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTVWXYZ123456789";
        let mut rng = rand::rng();
        let code: String = (0..8)
            .map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char)
            .collect();
        Ok(format!("{}-{}", &code[..4], &code[4..]))
    }

    async fn send_text(&self, to: &str, text: OutgoingText) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::text(to, text)).await
    }

    async fn send_media(&self, to: &str, media: OutgoingMedia) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::media(to, media)).await
    }

    async fn send_location(&self, to: &str, location: OutgoingLocation) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::location(to, location)).await
    }

    async fn send_contacts(&self, to: &str, cards: Vec<ContactCard>) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::contacts(to, cards)).await
    }

    async fn send_poll(&self, to: &str, poll: crate::engine::OutgoingPoll) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        let record = super::polls::record(to, &poll);
        // Kept before the send is told: a vote may follow at once.
        self.polls
            .sent(super::polls::stored(&record.message_id, to, poll))
            .await;
        self.accept(to, record).await
    }

    async fn forward(&self, to: &str, forward: OutgoingForward) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::forward(to, forward)).await
    }

    async fn group_info(&self, group: &str) -> Result<Option<GroupInfo>, EngineError> {
        self.require_connected()?;
        let me = self.own_phone().await?;
        Ok(self.network.group_info(group, &me))
    }

    async fn contact_profile(&self, jid: &str) -> Result<Option<ContactProfile>, EngineError> {
        Ok(self.link()?.contact_profile(jid))
    }

    async fn set_blocked(&self, jid: &str, blocked: bool) -> Result<(), EngineError> {
        self.link()?.set_blocked(jid, blocked).await
    }

    async fn blocklist(&self) -> Result<Vec<BlockedContact>, EngineError> {
        self.link()?.blocklist().await
    }

    async fn own_profile(&self) -> Result<OwnProfile, EngineError> {
        self.link()?.own_profile().await
    }

    async fn set_push_name(&self, name: &str) -> Result<(), EngineError> {
        self.link()?.set_push_name(name).await
    }

    async fn set_about(&self, about: &str) -> Result<(), EngineError> {
        self.link()?.set_about(about).await
    }

    async fn set_profile_photo(&self, jpeg: Option<bytes::Bytes>) -> Result<Option<String>, EngineError> {
        self.link()?.set_profile_photo(jpeg).await
    }

    async fn privacy(&self) -> Result<Vec<PrivacySetting>, EngineError> {
        self.link()?.privacy().await
    }

    async fn set_privacy(&self, category: PrivacyCategory, value: &str) -> Result<(), EngineError> {
        self.link()?.set_privacy(category, value).await
    }

    async fn react(&self, target: &MessageRef, emoji: &str) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(
            &target.chat,
            SentRecord {
                to: target.chat.clone(),
                message_id: new_message_id(),
                kind: "reaction",
                target_id: Some(target.id.clone()),
                emoji: Some(emoji.to_owned()),
                ..SentRecord::default()
            },
        )
        .await
    }

    async fn edit_text(&self, target: &MessageRef, text: &str) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        let sent = self
            .accept(
                &target.chat,
                SentRecord {
                    to: target.chat.clone(),
                    message_id: new_message_id(),
                    kind: "edit",
                    text: Some(text.to_owned()),
                    target_id: Some(target.id.clone()),
                    ..SentRecord::default()
                },
            )
            .await?;
        // An edit or a revocation keeps its message's id, as on WhatsApp;
        // the record has the id of the protocol message that carried it.
        Ok(SentMessage {
            message_id: target.id.clone(),
            ..sent
        })
    }

    async fn revoke(&self, target: &MessageRef) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        // Another member's message: revoked as the group's admin (the
        // Messenger has checked the account is one).
        let admin = !target.from_me;
        let sent = self
            .accept(
                &target.chat,
                SentRecord {
                    to: target.chat.clone(),
                    message_id: new_message_id(),
                    kind: "revoke",
                    target_id: Some(target.id.clone()),
                    admin: admin.then_some(true),
                    target_sender: target.sender.clone().filter(|_| admin),
                    ..SentRecord::default()
                },
            )
            .await?;
        // An edit or a revocation keeps its message's id, as on WhatsApp;
        // the record has the id of the protocol message that carried it.
        Ok(SentMessage {
            message_id: target.id.clone(),
            ..sent
        })
    }

    async fn delete_for_me(&self, target: &MessageRef, _sent_at: i64) -> Result<(), EngineError> {
        self.require_connected()?;
        self.accept(
            &target.chat,
            SentRecord {
                to: target.chat.clone(),
                message_id: new_message_id(),
                kind: "delete_for_me",
                target_id: Some(target.id.clone()),
                ..SentRecord::default()
            },
        )
        .await?;
        Ok(())
    }

    async fn mark_read(&self, messages: &[MessageRef]) -> Result<(), EngineError> {
        self.require_connected()?;
        let Some(first) = messages.first() else { return Ok(()) };
        self.accept(
            &first.chat,
            SentRecord {
                to: first.chat.clone(),
                message_id: new_message_id(),
                kind: "read",
                read_ids: Some(messages.iter().map(|m| m.id.clone()).collect()),
                ..SentRecord::default()
            },
        )
        .await?;
        Ok(())
    }

    async fn chat_state(&self, to: &str, state: ChatState) -> Result<(), EngineError> {
        self.require_connected()?;
        self.accept(
            to,
            SentRecord {
                to: to.to_owned(),
                message_id: new_message_id(),
                kind: "chat_state",
                state: Some(state.as_str()),
                ..SentRecord::default()
            },
        )
        .await?;
        Ok(())
    }

    async fn check_numbers(&self, phones: &[String]) -> Result<Vec<NumberCheck>, EngineError> {
        self.require_connected()?;
        Ok(self.network.check(phones))
    }

    async fn lid_pairs(
        &self,
        names: &[crate::engine::lids::AccountName],
    ) -> Result<Vec<Option<crate::engine::lids::LidPair>>, EngineError> {
        use crate::engine::lids::LidBook;
        self.require_connected()?;
        let mut pairs = Vec::with_capacity(names.len());
        for name in names {
            pairs.push(self.network.pair(name).await);
        }
        Ok(pairs)
    }

    async fn reject_call(&self, call_id: &str, from: &str) -> Result<(), EngineError> {
        self.require_connected()?;
        self.network.reject_call(&self.instance_id, call_id, from)
    }

    /// The simulated server answers every keepalive at once: the connection
    /// hears from it now, unless it went silent.
    fn last_heard_ms(&self) -> Option<i64> {
        match self.silent_since_ms.load(Ordering::Acquire) {
            0 => Some(crate::clock::now_ms()),
            since => Some(since),
        }
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.require_connected()?;
        match self.silent_since_ms.load(Ordering::Acquire) {
            0 => Ok(()),
            // A silent server never answers: the ping times out.
            _ => Err(EngineError::Timeout),
        }
    }

    async fn announce_available(&self) -> Result<(), EngineError> {
        self.require_connected()?;
        if self.panic_on_presence.swap(false, Ordering::AcqRel) {
            panic!("simulated fault in instance {}", self.instance_id);
        }
        self.presence.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn logout(&self) -> Result<(), EngineError> {
        if self.is_closed() {
            return Err(EngineError::NotConnected);
        }
        self.network.unregister(&self.instance_id, self);
        self.drop_connection(EngineEvent::LoggedOut {
            reason: "logged out".to_owned(),
        })
        .await;
        Ok(())
    }

    async fn close(&self) {
        self.network.unregister(&self.instance_id, self);
        self.mark_closed();
    }
}

fn store_error(e: whatsapp_rust::wacore::store::error::StoreError) -> EngineError {
    EngineError::Protocol(format!("device store: {e}"))
}

/// A QR payload shaped like WhatsApp's (`ref,noise key,identity key,adv secret`).
fn new_qr_code() -> String {
    use crate::random::hex;
    format!("2@{},{},{},{}", hex(24), hex(32), hex(32), hex(32))
}
