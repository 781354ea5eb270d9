//! One simulated connection, [`SimSession`]: what it holds, its state
//! (waiting for a scan, or connected), and how it ends. Pairing is in
//! `pairing.rs`, inbound deliveries in `delivery.rs`, sends in `outbox.rs`,
//! and what wasap asks of it (the `Session` trait) in `requests.rs`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::engine::store_error;
use super::network::SimNetwork;
use super::offline::OfflineQueue;
use crate::engine::{EngineError, EngineEvent, InboundSink, SessionRequest};
use crate::store::DeviceBackend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    AwaitingScan,
    Connected,
}

/// One simulated connection.
pub struct SimSession {
    pub(super) instance_id: String,
    pub(super) device: DeviceBackend,
    pub(super) events: mpsc::Sender<EngineEvent>,
    /// The instance's inbound journal: a delivery is acknowledged (and
    /// forgotten by the simulated server) once it accepted it.
    pub(super) inbound: Arc<dyn InboundSink>,
    /// The instance's polls: those this session sent, and their votes.
    pub(super) polls: crate::polls::PollBook,
    /// The instance's contact list, as the contact sync teaches it (`address_book.rs`).
    pub(super) address_book: Arc<dyn crate::engine::AddressBook>,
    /// What the simulated server holds for the device until acknowledged.
    pub(super) offline: OfflineQueue,
    pub(super) network: SimNetwork,
    state: Mutex<State>,
    closed: AtomicBool,
    pub(super) presence: AtomicU64,
    pub(super) panic_on_presence: AtomicBool,
    /// When the simulated server went silent on this connection (unix ms; 0:
    /// it answers), as `POST /sim/instances/{id}/silence` makes it.
    pub(super) silent_since_ms: AtomicI64,
    pub(super) qr_task: Mutex<Option<JoinHandle<()>>>,
}

impl SimSession {
    /// A session for `request` on `network`: connected when the device was
    /// paired before (`linked`), waiting for a scan otherwise.
    pub(super) fn new(request: SessionRequest, network: SimNetwork, linked: bool) -> Arc<SimSession> {
        Arc::new(SimSession {
            instance_id: request.instance_id,
            offline: network.offline_queue(&request.device),
            device: request.device,
            events: request.events,
            inbound: request.inbound,
            polls: request.polls,
            address_book: request.address_book,
            network,
            state: Mutex::new(if linked { State::Connected } else { State::AwaitingScan }),
            closed: AtomicBool::new(false),
            presence: AtomicU64::new(0),
            panic_on_presence: AtomicBool::new(false),
            silent_since_ms: AtomicI64::new(0),
            qr_task: Mutex::new(None),
        })
    }

    /// A device paired before has logged in: first the news, then what the
    /// server held for it while it was away (not acknowledged before a drop
    /// or a crash), as WhatsApp's offline queue does.
    pub(super) async fn logged_in(&self, jid: String, push_name: Option<String>) {
        let _ = self.events.send(EngineEvent::Connected { jid, push_name }).await;
        self.redeliver().await;
    }

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

    pub(super) fn state(&self) -> State {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn set_state(&self, state: State) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = state;
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(super) async fn emit(&self, event: EngineEvent) {
        if !self.is_closed() {
            let _ = self.events.send(event).await;
        }
    }

    pub(super) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(task) = self.qr_task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }

    /// Ends the connection with `event` (dropped, or unlinked from the phone).
    pub(super) async fn drop_connection(&self, event: EngineEvent) {
        if self.is_closed() {
            return;
        }
        self.emit(event).await;
        self.mark_closed();
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
    pub(super) fn link(&self) -> Result<super::profiles::Link<'_>, EngineError> {
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
}
