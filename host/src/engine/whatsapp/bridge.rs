//! The event bridge: whatsapp-rust's event bus in, [`EngineEvent`]s and
//! inbound events out.
//!
//! This file owns the per-session state the bridge keeps (closed, ended,
//! restart-after-pairing, the last reason heard for a drop), the
//! [`EventHandler`] registered on the client, and the forwarder task that
//! hands events on: lifecycle events to the supervisor's channel, inbound
//! events to the instance's journal.
//!
//! whatsapp-rust calls [`Bridge::handle_event`] inline on its dispatch path,
//! so the handler never waits: it maps the event and pushes it onto an
//! internal queue, which the forwarder drains, in order, with `send().await`
//! and `accept().await`. Messages are not among them: the durability hook
//! (`durability.rs`) journals them before the client acknowledges them, and
//! their batches arrive here marked committed. What does arrive inbound
//! (receipts, group changes, delete-for-me, and the messages the hook does
//! not see) was acknowledged by the client already, so it is never dropped
//! here: it waits in the queue for the journal, counted
//! ([`InboundSink::holding`], `wasap_inbound_engine_held` in `/metrics`).
//! Its volume is WhatsApp's to decide; a journal that cannot keep up with it
//! is a journal whose writes fail, which holds the hook, and so the client's
//! receive lanes, too.
//!
//! A session ends with exactly one terminal event (`Disconnected`,
//! `LoggedOut`, `StreamReplaced`, `TemporaryBan` or `ClientOutdated`): the
//! first one claims [`Shared::claim_end`], later ones are dropped, and if the
//! client's run loop stops without having said why, the driver reports
//! `Disconnected` with the last reason heard. Once `close()` is called the
//! bridge queues nothing more; what was queued before is still delivered,
//! except QR codes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use whatsapp_rust::Client;
use whatsapp_rust::types::events::{Event, EventHandler, EventInterest, EventKind, LoggedOut};
use whatsapp_rust::wacore::types::events::ConnectFailureReason;

use super::chat_states::ChatStates;
use super::inbound;
use crate::engine::{EngineEvent, InboundEvent, InboundSink};

/// Inbound events the forwarder hands to the journal in one call at most.
const INBOUND_PER_ACCEPT: usize = 256;

/// What one session knows about itself, shared by the handler, the driver,
/// the forwarder and the session handle.
pub(super) struct Shared {
    pub(super) instance_id: String,
    /// Set once the client is built; weak because the client owns the handler.
    client: OnceLock<Weak<Client>>,
    /// `close()` was called (or the handle dropped): report nothing more.
    closed: AtomicBool,
    /// A terminal event has been reported (or the session closed).
    ended: AtomicBool,
    /// The phone accepted the link and the server is about to restart the
    /// stream (the 515 that follows every pairing); see `drive`.
    restart_after_pairing: AtomicBool,
    /// The connection logged in at least once.
    logged_in: AtomicBool,
    /// The last thing heard that explains a drop the library reports no
    /// `Disconnected` for (a connect failure, a stream error, QR expiry).
    last_reason: Mutex<Option<String>>,
    /// The calls ringing on this connection (`calls.rs`).
    pub(super) calls: super::calls::RingingCalls,
}

impl Shared {
    pub(super) fn new(instance_id: String) -> Shared {
        Shared {
            instance_id,
            client: OnceLock::new(),
            closed: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            restart_after_pairing: AtomicBool::new(false),
            logged_in: AtomicBool::new(false),
            last_reason: Mutex::new(None),
            calls: Default::default(),
        }
    }

    pub(super) fn set_client(&self, client: &Arc<Client>) {
        let _ = self.client.set(Arc::downgrade(client));
    }

    pub(super) fn client(&self) -> Option<Arc<Client>> {
        self.client.get().and_then(Weak::upgrade)
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the session closed; true the first time.
    pub(super) fn mark_closed(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    pub(super) fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Claims the one terminal event of the session; true for the first caller.
    pub(super) fn claim_end(&self) -> bool {
        !self.ended.swap(true, Ordering::AcqRel)
    }

    /// Whether the stream should be restarted once after pairing; consumes the flag.
    pub(super) fn take_restart_after_pairing(&self) -> bool {
        self.restart_after_pairing.swap(false, Ordering::AcqRel)
    }

    /// Asks for the restart after pairing without waiting for `PairSuccess`
    /// (see `drive`).
    pub(super) fn arm_restart_after_pairing(&self) {
        self.restart_after_pairing.store(true, Ordering::Release);
    }

    /// The connection logged in at least once.
    pub(super) fn has_logged_in(&self) -> bool {
        self.logged_in.load(Ordering::Acquire)
    }

    fn note_reason(&self, reason: String) {
        *self.last_reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }

    /// Why the connection ended, when the library said nothing itself.
    pub(super) fn fallback_reason(&self) -> String {
        let noted = self.last_reason.lock().unwrap_or_else(|p| p.into_inner()).take();
        noted.unwrap_or_else(|| {
            if self.logged_in.load(Ordering::Acquire) {
                "connection closed".to_owned()
            } else {
                "connection closed before login".to_owned()
            }
        })
    }
}

/// One entry of the internal queue.
// Mostly events: boxing them would allocate per message (see `EngineEvent`).
#[allow(clippy::large_enum_variant)]
pub(super) enum Item {
    Event(EngineEvent),
    Inbound(InboundEvent),
    /// The session is over: the forwarder stops after this.
    End,
}

/// The sending side of the internal queue. Never blocks.
#[derive(Clone)]
pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Item>,
    /// Told how many inbound events wait here.
    inbound: Arc<dyn InboundSink>,
}

/// Creates the internal queue and its receiving side for [`forward`].
pub(super) fn queue(inbound: Arc<dyn InboundSink>) -> (Queue, Receiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Queue {
            tx,
            inbound: inbound.clone(),
        },
        Receiver { rx, inbound },
    )
}

impl Queue {
    /// Queues a lifecycle event. These are few, so they are never dropped
    /// here; the forwarder stops once the supervisor is gone.
    pub(super) fn push(&self, event: EngineEvent) {
        let _ = self.tx.send(Item::Event(event));
    }

    /// Queues an inbound event the client has acknowledged already.
    fn push_inbound(&self, event: InboundEvent) {
        if self.tx.send(Item::Inbound(event)).is_ok() {
            self.inbound.holding(1);
        }
    }

    pub(super) fn end(&self) {
        let _ = self.tx.send(Item::End);
    }
}

/// The receiving side of the internal queue.
pub(super) struct Receiver {
    rx: mpsc::UnboundedReceiver<Item>,
    inbound: Arc<dyn InboundSink>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // What is left was never handed over: no longer held.
        let mut left = 0;
        while let Ok(item) = self.rx.try_recv() {
            left += matches!(item, Item::Inbound(_)) as isize;
        }
        if left > 0 {
            self.inbound.holding(-left);
        }
    }
}

/// Hands queued events on, in order, until the session ends, the supervisor
/// drops its receiver, or the queue closes: lifecycle events to the
/// supervisor, inbound events (those waiting together in one call) to the
/// journal.
pub(super) async fn forward(mut queue: Receiver, events: mpsc::Sender<EngineEvent>, shared: Arc<Shared>) {
    let mut inbound = Vec::new();
    let mut next = None;
    loop {
        let item = match next.take() {
            Some(item) => item,
            None => match queue.rx.recv().await {
                Some(item) => item,
                None => break,
            },
        };
        let event = match item {
            Item::End => break,
            Item::Inbound(event) => {
                inbound.push(event);
                // Gather what waits behind it, up to the first lifecycle event.
                while inbound.len() < INBOUND_PER_ACCEPT {
                    match queue.rx.try_recv() {
                        Ok(Item::Inbound(event)) => inbound.push(event),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                // Both names of every account they name: a receipt or a
                // deletion may name a contact by LID alone.
                if let Some(client) = shared.client() {
                    for event in &mut inbound {
                        crate::engine::lids::complete(&mut event.kind, &super::lid_book::ClientBook(&client)).await;
                    }
                }
                let count = inbound.len() as isize;
                let accepted = queue.inbound.accept(std::mem::take(&mut inbound)).await;
                queue.inbound.holding(-count);
                if accepted.is_err() {
                    debug!(instance = %shared.instance_id, "the journal is gone: inbound events dropped");
                    break;
                }
                continue;
            }
            Item::Event(event) => event,
        };
        // The bridge queues nothing once the session is closed; what happened
        // before still counts (a `LoggedOut` from `logout()` followed at once
        // by `close()` must arrive), but a QR code dies with its connection.
        if shared.is_closed() && matches!(event, EngineEvent::Qr { .. }) {
            continue;
        }
        if events.send(event).await.is_err() {
            debug!(instance = %shared.instance_id, "supervisor gone: events dropped");
            break;
        }
    }
}

/// The handler registered on the client's event bus.
pub(super) struct Bridge {
    shared: Arc<Shared>,
    queue: Queue,
    /// Contacts' chat states: not journalled, so not through `queue`.
    chat_states: ChatStates,
}

impl Bridge {
    pub(super) fn new(shared: Arc<Shared>, queue: Queue) -> Bridge {
        let chat_states = ChatStates::new(shared.clone(), queue.inbound.clone());
        Bridge {
            shared,
            queue,
            chat_states,
        }
    }

    /// Reports a terminal event unless one was reported already.
    fn end_with(&self, event: EngineEvent) {
        if self.shared.claim_end() {
            self.queue.push(event);
        }
    }

    /// Reports a non-terminal lifecycle event while the session is live.
    fn lifecycle(&self, event: EngineEvent) {
        if !self.shared.has_ended() {
            self.queue.push(event);
        }
    }

    fn connected(&self) {
        let shared = &self.shared;
        shared.restart_after_pairing.store(false, Ordering::Release);
        shared.logged_in.store(true, Ordering::Release);
        let Some(client) = shared.client() else { return };
        let jid = client
            .pn()
            .or_else(|| client.lid())
            .map(|j| j.to_string())
            .unwrap_or_default();
        let push_name = Some(client.push_name()).filter(|n| !n.is_empty());
        info!(instance = %shared.instance_id, %jid, "connected to WhatsApp");
        self.lifecycle(EngineEvent::Connected { jid, push_name });
    }
}

impl EventHandler for Bridge {
    fn handle_event(&self, event: Arc<Event>) {
        if self.shared.is_closed() {
            return;
        }
        let instance = &self.shared.instance_id;
        match &*event {
            Event::PairingQrCode(qr) => self.lifecycle(EngineEvent::Qr {
                code: qr.code.clone(),
                valid_for: qr.timeout,
            }),
            Event::PairSuccess(paired) => {
                info!(instance = %instance, jid = %paired.id, "paired with a phone");
                self.shared.restart_after_pairing.store(true, Ordering::Release);
                self.lifecycle(EngineEvent::Paired {
                    jid: paired.id.to_string(),
                    push_name: None,
                });
            }
            Event::PairError(failed) => {
                warn!(instance = %instance, error = %failed.error, "pairing failed");
            }
            Event::PairingQrCodesExhausted(exhausted) if exhausted.disconnected => {
                self.shared.note_reason("QR codes expired without a scan".to_owned());
            }
            Event::Connected(_) => self.connected(),
            Event::Disconnected(dropped) => self.end_with(EngineEvent::Disconnected {
                reason: dropped.reason.to_string(),
            }),
            Event::LoggedOut(out) => self.end_with(EngineEvent::LoggedOut {
                reason: logout_reason(out),
            }),
            Event::StreamReplaced(_) => self.end_with(EngineEvent::StreamReplaced),
            Event::TemporaryBan(ban) => {
                let mut reason = ban.code.to_string();
                if let Some(message) = ban.message.as_deref().filter(|m| !m.is_empty()) {
                    reason = format!("{reason} ({message})");
                }
                self.end_with(EngineEvent::TemporaryBan {
                    reason,
                    expires_in: ban.expire.to_std().unwrap_or_default(),
                });
            }
            Event::ClientOutdated(_) => self.end_with(EngineEvent::ClientOutdated),
            Event::ConnectFailure(failure) => {
                let mut reason = format!("connect failure {:?}", failure.reason);
                if let Some(message) = failure.message.as_deref().filter(|m| !m.is_empty()) {
                    reason = format!("{reason}: {message}");
                }
                warn!(instance = %instance, %reason, "WhatsApp refused the connection");
                self.shared.note_reason(reason);
            }
            Event::StreamError(error) => {
                self.shared.note_reason(format!("stream error {}", error.code));
            }
            // Journalled by the durability hook before the client
            // acknowledged them: nothing left to do.
            Event::Messages(batch) if batch.hook_committed => {}
            Event::Messages(batch) => {
                let client = self.shared.client.get().cloned().unwrap_or_default();
                for message in batch.iter() {
                    if let Some(inbound) = inbound::message(message, client.clone()) {
                        self.queue.push_inbound(inbound);
                    }
                }
            }
            Event::Receipt(receipt) => {
                if let Some(inbound) = inbound::receipt(receipt) {
                    self.queue.push_inbound(inbound);
                }
            }
            // Not covered by the durability hook: the client emits it, then sends
            // the retry receipt and the ack on its own, so it is journalled like
            // a receipt, after the fact.
            Event::UndecryptableMessage(undecryptable) => {
                self.queue.push_inbound(inbound::undecryptable(undecryptable));
            }
            Event::GroupUpdate(update) => {
                if let Some(inbound) = inbound::group_update(update) {
                    self.queue.push_inbound(inbound);
                }
            }
            Event::PictureUpdate(update) => {
                if let Some(inbound) = inbound::group_photo(update) {
                    self.queue.push_inbound(inbound);
                }
            }
            Event::DeleteMessageForMeUpdate(update) => {
                let client = self.shared.client();
                if let Some(inbound) = inbound::deleted_for_me(update, client.as_deref()) {
                    self.queue.push_inbound(inbound);
                }
            }
            Event::ChatPresence(update) => self.chat_states.push(update),
            Event::IncomingCall(call) => {
                for inbound in super::calls::incoming(&self.shared.calls, call) {
                    self.queue.push_inbound(inbound);
                }
            }
            Event::MissedCall(missed) => self.queue.push_inbound(super::calls::missed(missed)),
            Event::CallEndedElsewhere(ended) => {
                if let Some(inbound) = super::calls::ended_elsewhere(&self.shared.calls, ended) {
                    self.queue.push_inbound(inbound);
                }
            }
            _ => {}
        }
    }

    fn interest(&self) -> EventInterest {
        // Only these are materialised for us; the bus skips the rest.
        EventInterest::of(&[
            EventKind::PairingQrCode,
            EventKind::PairSuccess,
            EventKind::PairError,
            EventKind::PairingQrCodesExhausted,
            EventKind::Connected,
            EventKind::Disconnected,
            EventKind::LoggedOut,
            EventKind::StreamReplaced,
            EventKind::TemporaryBan,
            EventKind::ClientOutdated,
            EventKind::ConnectFailure,
            EventKind::StreamError,
            EventKind::Messages,
            EventKind::Receipt,
            EventKind::UndecryptableMessage,
            EventKind::GroupUpdate,
            EventKind::PictureUpdate,
            EventKind::DeleteMessageForMeUpdate,
            EventKind::ChatPresence,
            EventKind::IncomingCall,
            EventKind::MissedCall,
            EventKind::CallEndedElsewhere,
        ])
    }
}

fn logout_reason(out: &LoggedOut) -> String {
    match out.reason {
        ConnectFailureReason::LoggedOut => "the device was unlinked".to_owned(),
        ConnectFailureReason::AccountLocked => "the account is locked".to_owned(),
        ConnectFailureReason::UnknownLogout => "logged out by WhatsApp".to_owned(),
        other => format!("logged out ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use whatsapp_rust::types::events::{Disconnected, PairingQrCode, StreamReplaced};
    use whatsapp_rust::wacore::net::DisconnectReason;

    use super::*;

    /// A journal that takes everything at once.
    struct Accepting;

    #[async_trait::async_trait]
    impl InboundSink for Accepting {
        async fn accept(&self, _events: Vec<InboundEvent>) -> Result<(), crate::engine::InboundClosed> {
            Ok(())
        }

        async fn pass_on(&self, _kind: crate::events::EventKind) {}
    }

    fn bridge() -> (Bridge, Arc<Shared>, Receiver) {
        let shared = Arc::new(Shared::new("test".to_owned()));
        let (queue, rx) = queue(Arc::new(Accepting));
        (Bridge::new(shared.clone(), queue), shared, rx)
    }

    fn queued(rx: &mut Receiver) -> Vec<EngineEvent> {
        let mut events = Vec::new();
        while let Ok(Item::Event(event)) = rx.rx.try_recv() {
            events.push(event);
        }
        events
    }

    fn qr() -> Arc<Event> {
        Arc::new(Event::PairingQrCode(
            PairingQrCode::builder()
                .code("2@ref,key".to_owned())
                .timeout(Duration::from_secs(60))
                .build(),
        ))
    }

    fn dropped() -> Arc<Event> {
        Arc::new(Event::Disconnected(
            Disconnected::builder().reason(DisconnectReason::StreamEnded).build(),
        ))
    }

    #[test]
    fn a_session_ends_once_and_then_stays_silent() {
        let (bridge, shared, mut rx) = bridge();
        bridge.handle_event(qr());
        bridge.handle_event(dropped());
        bridge.handle_event(Arc::new(Event::StreamReplaced(StreamReplaced::builder().build())));
        bridge.handle_event(qr());
        let events = queued(&mut rx);
        assert!(
            matches!(&events[..], [EngineEvent::Qr { code, valid_for }, EngineEvent::Disconnected { reason }]
                if code == "2@ref,key" && *valid_for == Duration::from_secs(60) && reason.contains("EOF")),
            "{events:?}"
        );
        // The driver's fallback finds the end already claimed.
        assert!(!shared.claim_end());
    }

    #[test]
    fn nothing_is_queued_after_close() {
        let (bridge, shared, mut rx) = bridge();
        shared.mark_closed();
        bridge.handle_event(qr());
        bridge.handle_event(dropped());
        assert!(queued(&mut rx).is_empty());
    }

    #[test]
    fn the_fallback_reason_names_what_was_heard() {
        let shared = Shared::new("test".to_owned());
        assert_eq!(shared.fallback_reason(), "connection closed before login");
        shared.note_reason("QR codes expired without a scan".to_owned());
        assert_eq!(shared.fallback_reason(), "QR codes expired without a scan");
    }

    /// A journal that counts what it holds and takes what it is handed.
    #[derive(Default)]
    struct Counting {
        held: std::sync::atomic::AtomicIsize,
        accepted: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl InboundSink for Counting {
        async fn accept(&self, events: Vec<InboundEvent>) -> Result<(), crate::engine::InboundClosed> {
            self.accepted.fetch_add(events.len(), Ordering::SeqCst);
            Ok(())
        }

        async fn pass_on(&self, _kind: crate::events::EventKind) {}

        fn holding(&self, change: isize) {
            self.held.fetch_add(change, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn inbound_traffic_is_never_dropped_and_reaches_the_journal_in_order_with_lifecycle_events() {
        let journal = Arc::new(Counting::default());
        let shared = Arc::new(Shared::new("test".to_owned()));
        let (queue, rx) = queue(journal.clone());
        let event = || InboundEvent {
            kind: crate::events::EventKind::Receipt(crate::events::Receipt {
                sender_lid: None,
                sender_phone: None,
                chat: "1@s.whatsapp.net".to_owned(),
                sender: "1@s.whatsapp.net".to_owned(),
                ids: vec!["id".to_owned()],
                receipt_type: crate::events::ReceiptType::Read,
                timestamp: 0,
            }),
            media: None,
        };
        // Far beyond the old bound of 4,096, with nobody draining yet.
        let total = 10_000;
        for _ in 0..total {
            queue.push_inbound(event());
        }
        queue.push(EngineEvent::StreamReplaced);
        assert_eq!(journal.held.load(Ordering::SeqCst), total as isize);
        let (events, mut supervisor) = mpsc::channel(4);
        queue.end();
        forward(rx, events, shared).await;
        assert_eq!(journal.accepted.load(Ordering::SeqCst), total);
        assert_eq!(journal.held.load(Ordering::SeqCst), 0);
        assert!(matches!(supervisor.recv().await, Some(EngineEvent::StreamReplaced)));
    }
}
