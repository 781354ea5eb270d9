//! The supervisor: one task per instance that owns its connection.
//!
//! All state changes of an instance happen here, one at a time: API commands
//! and engine events arrive on two channels and are handled in order, so no
//! lock orders or races between "the phone unlinked us" and "the API asked for
//! a QR". The supervisor persists each status change, publishes it on the bus,
//! reconnects dropped connections with backoff, sends the presence
//! heartbeat while online, reconnects a connection that has gone deaf and
//! announces a long outage (`watchdog.rs`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::health::Health;
use super::shared::SharedState;
use super::status::Status;
use super::watchdog::{Verdict, Watch};
use super::{InstanceError, QrCode, Settings};
use crate::engine::{Engine, EngineEvent, InboundSink, Session, SessionRequest};
use crate::events::{Bus, EventKind, new_event};
use crate::store::Store;
use crate::store::instances::InstanceRow;

/// Events a session may queue before it waits for the supervisor.
const ENGINE_EVENT_QUEUE: usize = 256;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, InstanceError>>;

/// What the rest of the server asks of an instance.
pub(crate) enum Command {
    /// The current QR code, opening a pairing session when there is none.
    Qr(Reply<QrCode>),
    /// A code to link by phone number.
    PairCode(String, Reply<String>),
    Logout(Reply<()>),
    Reconnect(Reply<()>),
    /// Unlink if linked, wipe the device and stop.
    Delete(Reply<()>),
    /// Close the connection (flushing it) and stop.
    Shutdown(oneshot::Sender<()>),
}

/// Whether the supervisor loop should go on.
enum Flow {
    Continue,
    Stop,
}

pub(crate) struct Supervisor {
    id: String,
    store: Store,
    engine: Arc<dyn Engine>,
    bus: Bus,
    settings: Arc<Settings>,
    shared: Arc<SharedState>,
    /// The instance's inbound journal, handed to every session it opens.
    inbound: Arc<dyn InboundSink>,
    status: Status,
    device_id: Option<i32>,
    /// Linked to a phone (has a JID); a linked device reconnects by itself.
    linked: bool,
    session: Option<Arc<dyn Session>>,
    events: Option<mpsc::Receiver<EngineEvent>>,
    qr: Option<QrCode>,
    qr_waiters: Vec<Reply<QrCode>>,
    backoff: Backoff,
    reconnect_at: Option<Instant>,
    presence_at: Option<Instant>,
    /// The watchdog and the offline alert, looked at every `watch_at`.
    watch: Watch,
    watch_at: Option<Instant>,
}

impl Supervisor {
    /// A supervisor for the instance stored as `row`.
    pub(crate) fn new(
        row: &InstanceRow,
        store: Store,
        engine: Arc<dyn Engine>,
        bus: Bus,
        settings: Arc<Settings>,
        shared: Arc<SharedState>,
        inbound: Arc<dyn InboundSink>,
    ) -> Supervisor {
        let linked = row.device_id.is_some() && row.jid.is_some();
        let status = Status::parse(&row.status).unwrap_or(if linked {
            Status::Disconnected
        } else {
            Status::QrRequired
        });
        let backoff = Backoff::new(settings.reconnect_min, settings.reconnect_max);
        let watch = Watch::new(settings.watchdog, settings.offline_alert);
        Supervisor {
            id: row.id.clone(),
            store,
            engine,
            bus,
            settings,
            shared,
            inbound,
            status,
            device_id: row.device_id,
            linked,
            session: None,
            events: None,
            qr: None,
            qr_waiters: Vec::new(),
            backoff,
            reconnect_at: None,
            presence_at: None,
            watch_at: watch.next_tick(),
            watch,
        }
    }

    /// Runs until deleted or shut down. A linked instance connects at once:
    /// this is how paired instances come back after a restart without a QR.
    pub(crate) async fn run(mut self, commands: &mut mpsc::Receiver<Command>) {
        if self.linked {
            self.connect(Status::Connecting).await;
        } else if self.status == Status::Pairing || self.status == Status::Connecting {
            // A pairing interrupted by a restart needs a new QR.
            self.set_status(Status::QrRequired).await;
        } else {
            self.shared.set_status(self.status);
        }
        loop {
            let flow = tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => Flow::Stop,
                },
                Some(event) = recv_event(&mut self.events) => self.on_event(event).await,
                _ = sleep_until(self.reconnect_at) => {
                    self.reconnect_at = None;
                    self.shared.activity().reconnected();
                    self.connect(Status::Connecting).await;
                    Flow::Continue
                }
                _ = sleep_until(self.watch_at) => {
                    self.watch_at = self.watch.next_tick();
                    self.look_after_the_connection().await;
                    Flow::Continue
                }
                _ = sleep_until(self.presence_at) => {
                    self.heartbeat().await;
                    Flow::Continue
                }
            };
            if let Flow::Stop = flow {
                return;
            }
        }
    }

    async fn on_command(&mut self, command: Command) -> Flow {
        match command {
            Command::Qr(reply) => self.qr(reply).await,
            Command::PairCode(phone, reply) => self.pair_code(phone, reply).await,
            Command::Logout(reply) => {
                let result = self.logout().await;
                let _ = reply.send(result);
            }
            Command::Reconnect(reply) => {
                let result = self.reconnect().await;
                let _ = reply.send(result);
            }
            Command::Delete(reply) => {
                let result = self.delete().await;
                let _ = reply.send(result);
                return Flow::Stop;
            }
            Command::Shutdown(done) => {
                self.close_session().await;
                let _ = self.store.touch_instance(&self.id).await;
                let _ = done.send(());
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    async fn on_event(&mut self, event: EngineEvent) -> Flow {
        match event {
            EngineEvent::Qr { code, valid_for } => {
                let qr = QrCode {
                    code: code.clone(),
                    expires_at_ms: crate::clock::now_ms() + valid_for.as_millis() as i64,
                };
                self.qr = Some(qr.clone());
                for waiter in self.qr_waiters.drain(..) {
                    let _ = waiter.send(Ok(qr.clone()));
                }
                self.publish(EventKind::Qr {
                    qr: code,
                    expires_at_ms: qr.expires_at_ms,
                })
                .await;
            }
            EngineEvent::Paired { jid, push_name } => {
                let phone = phone_of(&jid);
                self.linked = true;
                self.qr = None;
                self.persist(
                    self.store
                        .set_instance_linked(&self.id, &jid, &phone, push_name.as_deref())
                        .await,
                );
                self.publish(EventKind::Paired {
                    jid,
                    phone_number: phone,
                    push_name,
                })
                .await;
            }
            EngineEvent::Connected { jid, push_name } => {
                let phone = phone_of(&jid);
                self.linked = true;
                self.qr = None;
                self.answer_qr_waiters(|| InstanceError::AlreadyOnline);
                self.backoff.reset();
                self.change_health(|health| health.ban = None);
                self.persist(
                    self.store
                        .set_instance_online(&self.id, &jid, &phone, push_name.as_deref())
                        .await,
                );
                self.change_status(Status::Online).await;
                self.presence_at = Some(Instant::now() + self.settings.presence_interval);
            }
            EngineEvent::Disconnected { reason } => {
                tracing::warn!(%reason, "connection dropped");
                self.change_health(|health| health.failed(format!("connection dropped: {reason}")));
                self.connection_lost().await;
            }
            EngineEvent::StreamReplaced => {
                // Another client now uses this device: reconnecting would fight it.
                tracing::warn!("stream replaced by another client; not reconnecting");
                self.change_health(|health| {
                    health.failed("another client took the connection over (stream replaced); not reconnecting")
                });
                self.close_session().await;
                self.set_status(Status::Disconnected).await;
            }
            EngineEvent::TemporaryBan { reason, expires_in } => {
                tracing::error!(%reason, ?expires_in, "account temporarily banned");
                self.change_health(|health| health.banned(&reason, expires_in));
                self.banned(expires_in).await;
            }
            EngineEvent::ClientOutdated => {
                tracing::error!("WhatsApp refuses this client version; not reconnecting");
                self.change_health(|health| health.failed("WhatsApp refuses this client version; not reconnecting"));
                self.close_session().await;
                self.set_status(Status::Disconnected).await;
            }
            EngineEvent::LoggedOut { reason } => {
                tracing::warn!(%reason, "logged out");
                self.close_session().await;
                self.unlink(&reason).await;
            }
        }
        Flow::Continue
    }

    async fn qr(&mut self, reply: Reply<QrCode>) {
        match self.status {
            Status::Online => {
                let _ = reply.send(Err(InstanceError::AlreadyOnline));
                return;
            }
            Status::Connecting | Status::Disconnected | Status::Banned if self.linked => {
                let _ = reply.send(Err(InstanceError::Linked));
                return;
            }
            _ => {}
        }
        if let Some(qr) = self.qr.as_ref().filter(|qr| qr.expires_at_ms > crate::clock::now_ms()) {
            let _ = reply.send(Ok(qr.clone()));
            return;
        }
        self.qr_waiters.push(reply);
        if self.session.is_none() {
            self.start_pairing().await;
        }
    }

    async fn pair_code(&mut self, phone: String, reply: Reply<String>) {
        if self.status == Status::Online {
            let _ = reply.send(Err(InstanceError::AlreadyOnline));
            return;
        }
        if self.linked {
            let _ = reply.send(Err(InstanceError::Linked));
            return;
        }
        if self.session.is_none() {
            self.start_pairing().await;
        }
        let Some(session) = self.session.clone() else {
            let _ = reply.send(Err(InstanceError::Unavailable(
                "no pairing session could be opened".into(),
            )));
            return;
        };
        // Asking the server for a code takes a round trip: do it off the loop.
        tokio::spawn(async move {
            let _ = reply.send(session.pair_code(&phone).await.map_err(InstanceError::from));
        });
    }

    async fn start_pairing(&mut self) {
        if self.device_id.is_none() {
            match self.store.allocate_device_id().await {
                Ok(device_id) => {
                    self.persist(self.store.set_instance_device(&self.id, device_id).await);
                    self.device_id = Some(device_id);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot allocate a device");
                    self.answer_qr_waiters(|| InstanceError::Unavailable("the database is unavailable".into()));
                    return;
                }
            }
        }
        self.connect(Status::Pairing).await;
    }

    /// Opens a session, entering `status` (pairing or connecting) meanwhile.
    async fn connect(&mut self, status: Status) {
        let Some(device_id) = self.device_id else {
            return;
        };
        self.close_session().await;
        self.set_status(status).await;
        let (events, receiver) = mpsc::channel(ENGINE_EVENT_QUEUE);
        let request = SessionRequest {
            instance_id: self.id.clone(),
            device: self.store.device(device_id),
            events,
            inbound: self.inbound.clone(),
            polls: crate::polls::PollBook::new(self.store.clone(), &self.id),
            address_book: Arc::new(super::address_book::StoredAddressBook::new(
                self.store.clone(),
                &self.id,
            )),
        };
        match self.engine.open(request).await {
            Ok(session) => {
                self.session = Some(session.clone());
                self.shared.set_session(Some(session));
                self.events = Some(receiver);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a connection");
                self.change_health(|health| health.failed(format!("cannot open a connection: {e}")));
                self.answer_qr_waiters(|| InstanceError::Unavailable("the connection could not be opened".into()));
                if self.linked {
                    self.connection_lost().await;
                } else {
                    self.set_status(Status::QrRequired).await;
                }
            }
        }
    }

    /// The connection is gone but the device is linked: retry after a backoff.
    async fn connection_lost(&mut self) {
        self.close_session().await;
        if !self.linked {
            self.answer_qr_waiters(|| InstanceError::Unavailable("the pairing connection dropped".into()));
            self.set_status(Status::QrRequired).await;
            return;
        }
        let delay = self.backoff.next_delay();
        tracing::info!(?delay, attempt = self.backoff.attempts(), "reconnecting after backoff");
        self.reconnect_at = Some(Instant::now() + delay);
        self.set_status(Status::Disconnected).await;
    }

    /// WhatsApp refuses the account for `expires_in`: status `banned` until
    /// then, and a reconnect when it ends (not before: trying earlier only
    /// meets the ban again).
    async fn banned(&mut self, expires_in: Duration) {
        self.close_session().await;
        let delay = self.backoff.next_delay().max(expires_in);
        tracing::info!(?delay, "reconnecting when the ban ends");
        self.reconnect_at = Some(Instant::now() + delay);
        self.set_status(Status::Banned).await;
    }

    async fn heartbeat(&mut self) {
        self.presence_at = Some(Instant::now() + self.settings.presence_interval);
        let Some(session) = self.session.clone() else { return };
        match session.announce_available().await {
            Ok(()) => {
                let _ = self.store.touch_instance(&self.id).await;
            }
            Err(e) => tracing::warn!(error = %e, "presence heartbeat failed"),
        }
    }

    async fn logout(&mut self) -> Result<(), InstanceError> {
        if !self.linked {
            return Err(InstanceError::NotLinked);
        }
        if let Some(session) = self.session.clone()
            && let Err(e) = session.logout().await
        {
            // The device is forgotten here either way; the phone may still
            // list it until WhatsApp notices.
            tracing::warn!(error = %e, "logout could not reach WhatsApp");
        }
        self.close_session().await;
        self.unlink("logged out through the API").await;
        Ok(())
    }

    async fn reconnect(&mut self) -> Result<(), InstanceError> {
        if !self.linked {
            return Err(InstanceError::NotLinked);
        }
        self.backoff.reset();
        self.reconnect_at = None;
        self.shared.activity().reconnected();
        self.connect(Status::Connecting).await;
        Ok(())
    }

    /// The watchdog (a deaf connection is reconnected, the last error says
    /// why) and the offline alert (once per outage): `watchdog.rs`.
    async fn look_after_the_connection(&mut self) {
        if !self.linked {
            self.watch.unlinked();
            return;
        }
        if self.status == Status::Online {
            self.watch.online();
            let Some(session) = self.session.clone() else { return };
            match self.watch.verdict(session.last_heard_ms(), crate::clock::now_ms()) {
                Verdict::Fine => {}
                // Off the loop: a deaf connection never answers.
                Verdict::Probe => drop(tokio::spawn(async move { session.ping().await })),
                Verdict::Deaf(secs) => {
                    let reason = format!("no sign of life for {secs} s; reconnecting");
                    tracing::warn!(%reason, "the connection is deaf");
                    self.change_health(|health| health.failed(reason));
                    self.connection_lost().await;
                }
            }
            return;
        }
        self.watch.offline(Instant::now());
        if let Some(offline_secs) = self.watch.offline_alert_due(Instant::now()) {
            let reason = self.shared.health().last_error.map(|error| error.message);
            tracing::warn!(offline_secs, "the instance has been offline for too long");
            self.publish(EventKind::Offline {
                status: self.status,
                offline_secs,
                reason,
            })
            .await;
        }
    }

    async fn delete(&mut self) -> Result<(), InstanceError> {
        if self.linked
            && let Some(session) = self.session.clone()
            && let Err(e) = session.logout().await
        {
            tracing::warn!(error = %e, "logout before delete could not reach WhatsApp");
        }
        self.close_session().await;
        if let Some(device_id) = self.device_id.take() {
            self.store.wipe_device(device_id).await?;
        }
        self.answer_qr_waiters(|| InstanceError::NotFound);
        self.store.delete_instance(&self.id).await?;
        self.shared.set_session(None);
        Ok(())
    }

    /// Forgets the link after a logout: keys wiped, memory cleared, status
    /// `logged_out`. The instance stays and can pair again by QR.
    async fn unlink(&mut self, reason: &str) {
        self.linked = false;
        self.change_health(|health| health.ban = None);
        self.qr = None;
        self.reconnect_at = None;
        self.presence_at = None;
        self.backoff.reset();
        if let Some(device_id) = self.device_id.take()
            && let Err(e) = self.store.wipe_device(device_id).await
        {
            tracing::error!(device_id, error = %e, "cannot wipe the device keys");
        }
        let previous = self.status;
        self.persist(self.store.unlink_instance(&self.id, Status::LoggedOut.as_str()).await);
        self.status = Status::LoggedOut;
        self.shared.set_status(Status::LoggedOut);
        self.publish(EventKind::LoggedOut {
            reason: reason.to_owned(),
        })
        .await;
        if previous != Status::LoggedOut {
            self.publish(EventKind::StatusChanged {
                status: Status::LoggedOut,
                previous,
            })
            .await;
        }
    }

    /// Closes the session (flushing it) and forgets its events, and its QR
    /// code: a QR names the connection that showed it, and no phone can link
    /// through a connection that is gone (`GET /qr` then opens a new one).
    async fn close_session(&mut self) {
        self.events = None;
        self.presence_at = None;
        self.qr = None;
        self.shared.set_session(None);
        if let Some(session) = self.session.take() {
            session.close().await;
        }
    }

    async fn set_status(&mut self, status: Status) {
        if self.status == status {
            self.shared.set_status(status);
            return;
        }
        self.persist(self.store.set_instance_status(&self.id, status.as_str()).await);
        self.change_status(status).await;
    }

    /// Records `status` in memory and announces it (the database was updated by the caller).
    async fn change_status(&mut self, status: Status) {
        let previous = std::mem::replace(&mut self.status, status);
        self.shared.set_status(status);
        // An outage starts when a linked instance leaves `online`.
        match status {
            Status::Online => self.watch.online(),
            _ if self.linked => self.watch.offline(Instant::now()),
            _ => self.watch.unlinked(),
        }
        if previous != status {
            tracing::info!(%previous, %status, "status changed");
            self.publish(EventKind::StatusChanged { status, previous }).await;
        }
    }

    /// Changes the instance's health (a ban, the last connection error),
    /// which the API reads from the shared state.
    fn change_health(&self, change: impl FnOnce(&mut Health)) {
        self.shared.change_health(change);
    }

    fn answer_qr_waiters(&mut self, error: impl Fn() -> InstanceError) {
        for waiter in self.qr_waiters.drain(..) {
            let _ = waiter.send(Err(error()));
        }
    }

    /// Publishes an event of this instance; waits while the plugin chain's
    /// queue for the instance is full, so no event is lost.
    async fn publish(&self, kind: EventKind) {
        self.bus.publish(new_event(&self.id, kind)).await;
    }

    /// Logs a failed write: the in-memory state stays authoritative and the
    /// next change writes the row again.
    fn persist(&self, result: Result<(), crate::store::StoreError>) {
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot persist the instance state");
        }
    }
}

/// The phone number of a JID: its user part, without the device suffix.
pub(crate) fn phone_of(jid: &str) -> String {
    let user = jid.split('@').next().unwrap_or(jid);
    user.split(':').next().unwrap_or(user).to_owned()
}

async fn recv_event(events: &mut Option<mpsc::Receiver<EngineEvent>>) -> Option<EngineEvent> {
    match events {
        Some(receiver) => match receiver.recv().await {
            Some(event) => Some(event),
            // The session ended without a word: treat it as a drop.
            None => Some(EngineEvent::Disconnected {
                reason: "the connection ended".to_owned(),
            }),
        },
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
