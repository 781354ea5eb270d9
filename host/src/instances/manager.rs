//! The instance manager: the registry of instances and the front door to their supervisors.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::FutureExt;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::activity::InstanceStats;
use super::auto_read::AutoRead;
use super::call_reject::{CallReject, RejectCalls};
use super::health::{Ban, ConnectionError, Health};
use super::inbound::Inbound;
use super::shared::SharedState;
use super::status::Status;
use super::supervisor::{Command, Reply, Supervisor};
use super::{InstanceError, QrCode, Settings, token};
use crate::clock;
use crate::engine::{Engine, Session};
use crate::events::Bus;
use crate::media::MediaStore;
use crate::store::Store;
use crate::store::instances::InstanceRow;

/// Commands an instance may have queued before callers wait.
const COMMAND_QUEUE: usize = 64;
/// How long shutdown waits for one instance to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// An instance as the API shows it (`Instance` in docs/API.md).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Instance")]
pub struct InstanceInfo {
    pub instance_id: String,
    pub name: String,
    pub status: Status,
    pub jid: Option<String>,
    pub phone_number: Option<String>,
    pub push_name: Option<String>,
    pub created_at: String,
    pub connected_at: Option<String>,
    pub last_seen: Option<String>,
    /// Every incoming message is marked read once received (off by default).
    pub auto_read: bool,
    /// While `status` is `banned`: WhatsApp's reason and when the ban ends.
    pub ban: Option<Ban>,
    /// The last error that ended or refused the connection since the server started.
    pub last_error: Option<ConnectionError>,
    /// Every call is rejected once it rings (off by default).
    pub reject_calls: bool,
    /// The text sent to a caller after an automatic reject; `null`: none.
    pub reject_calls_message: Option<String>,
    /// The instance's activity since the server started: last inbound, reconnects,
    /// send failures.
    pub stats: InstanceStats,
}

/// A newly created instance and its token, which is shown this once.
#[derive(Debug, Clone)]
pub struct CreatedInstance {
    pub info: InstanceInfo,
    pub token: String,
}

/// Every instance of the server. Cheap to clone.
#[derive(Clone)]
pub struct InstanceManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    engine: Arc<dyn Engine>,
    bus: Bus,
    media: MediaStore,
    /// Every instance's inbound pipeline, journal first.
    inbound: Inbound,
    settings: Arc<Settings>,
    instances: RwLock<HashMap<String, Handle>>,
    /// Instance id by token digest (SHA-256), to tell an instance token from a wrong one.
    tokens: RwLock<HashMap<[u8; 32], String>>,
    /// One token rotation at a time, so the stored hash and the in-memory
    /// lookup always end on the same token.
    rotating: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Handle {
    commands: mpsc::Sender<Command>,
    token_digest: Option<[u8; 32]>,
    shared: Arc<SharedState>,
    auto_read: Arc<AutoRead>,
    call_reject: Arc<CallReject>,
}

impl InstanceManager {
    /// A manager with no instance running yet; [`resume`](Self::resume) starts them.
    pub fn new(
        store: Store,
        engine: Arc<dyn Engine>,
        bus: Bus,
        media: MediaStore,
        inbound: Inbound,
        settings: Settings,
    ) -> InstanceManager {
        InstanceManager {
            inner: Arc::new(Inner {
                store,
                engine,
                bus,
                media,
                inbound,
                settings: Arc::new(settings),
                instances: RwLock::new(HashMap::new()),
                tokens: RwLock::new(HashMap::new()),
                rotating: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Loads every stored instance and starts its supervisor; linked
    /// instances reconnect by themselves, without a new QR.
    pub async fn resume(&self) -> Result<usize, InstanceError> {
        let rows = self.inner.store.list_instances().await?;
        let auto_read = self.inner.store.instances_with_auto_read().await?;
        let rejecting: HashMap<String, Option<String>> = self
            .inner
            .store
            .instances_rejecting_calls()
            .await?
            .into_iter()
            .collect();
        let count = rows.len();
        for row in rows {
            let on = auto_read.contains(&row.id);
            let reject_calls = match rejecting.get(&row.id) {
                Some(message) => RejectCalls {
                    on: true,
                    message: message.clone(),
                },
                None => RejectCalls::default(),
            };
            self.spawn(row, on, reject_calls);
        }
        tracing::info!(instances = count, "instances resumed");
        Ok(count)
    }

    fn spawn(&self, row: InstanceRow, auto_read: bool, reject_calls: RejectCalls) {
        let (commands, mut receiver) = mpsc::channel(COMMAND_QUEUE);
        let status = Status::parse(&row.status).unwrap_or(Status::Disconnected);
        let shared = Arc::new(SharedState::new(status));
        let auto_read = AutoRead::start(&row.id, auto_read, shared.clone());
        let call_reject = CallReject::start(&row.id, reject_calls, shared.clone());
        // Every stored hash is one `token::hash` wrote; one that is not (a
        // hand-edited row) opens nothing, and the instance still runs.
        let token_digest = token::parse_hash(&row.token_hash);
        match token_digest {
            Some(digest) => {
                self.tokens().insert(digest, row.id.clone());
            }
            None => {
                tracing::warn!(instance = %row.id, "the stored token hash is malformed; the instance token will not work")
            }
        }
        self.write().insert(
            row.id.clone(),
            Handle {
                commands,
                token_digest,
                shared: shared.clone(),
                auto_read: auto_read.clone(),
                call_reject: call_reject.clone(),
            },
        );
        let inner = self.inner.clone();
        // Started before the supervisor opens a session: it replays what the
        // journal holds not done, then takes the session's traffic.
        let inbound = shared
            .activity()
            .wrap(call_reject.wrap(auto_read.wrap(inner.inbound.start(&row.id))));
        // At error level, so the span is on whenever any line inside it is.
        let span = tracing::error_span!("instance_supervisor", instance = %row.id);
        let supervise = async move {
            let mut row = row;
            loop {
                let supervisor = Supervisor::new(
                    &row,
                    inner.store.clone(),
                    inner.engine.clone(),
                    inner.bus.clone(),
                    inner.settings.clone(),
                    shared.clone(),
                    inbound.clone(),
                );
                // A panic ends this instance's supervisor only; it is rebuilt
                // from the database and goes on with the same command queue.
                match AssertUnwindSafe(supervisor.run(&mut receiver)).catch_unwind().await {
                    Ok(()) => return,
                    Err(_) => {
                        tracing::error!("instance supervisor panicked; restarting it");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        match inner.store.get_instance(&row.id).await {
                            Ok(Some(fresh)) => row = fresh,
                            Ok(None) => return,
                            Err(e) => tracing::error!(error = %e, "cannot reload the instance"),
                        }
                    }
                }
            }
        };
        tokio::spawn(supervise.instrument(span));
    }

    /// The inbound pipelines' shared parts: their counters and failing writes.
    pub fn inbound(&self) -> &Inbound {
        &self.inner.inbound
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Handle>> {
        self.inner.instances.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Handle>> {
        self.inner.instances.write().unwrap_or_else(|p| p.into_inner())
    }

    fn tokens(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<[u8; 32], String>> {
        self.inner.tokens.write().unwrap_or_else(|p| p.into_inner())
    }

    fn handle(&self, id: &str) -> Result<Handle, InstanceError> {
        self.read().get(id).cloned().ok_or(InstanceError::NotFound)
    }

    /// Creates an instance (id generated when absent) and returns its token.
    pub async fn create(&self, id: Option<String>, name: Option<String>) -> Result<CreatedInstance, InstanceError> {
        let id = match id {
            Some(id) if valid_id(&id) => id,
            Some(_) => return Err(InstanceError::InvalidId),
            None => format!("inst-{}", &token::generate()[..16]),
        };
        if self.read().contains_key(&id) {
            return Err(InstanceError::AlreadyExists);
        }
        let token = token::generate();
        let row = InstanceRow {
            name: name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| id.clone()),
            id,
            token_hash: token::hash(&token),
            status: Status::QrRequired.as_str().to_owned(),
            device_id: None,
            jid: None,
            phone_number: None,
            push_name: None,
            created_at: clock::now_secs(),
            connected_at: None,
            last_seen: None,
        };
        if !self.inner.store.insert_instance(&row).await? {
            return Err(InstanceError::AlreadyExists);
        }
        let info = info(&row, Status::QrRequired, false, Health::default());
        tracing::info!(instance = %row.id, "instance created");
        self.spawn(row, false, RejectCalls::default());
        Ok(CreatedInstance { info, token })
    }

    /// Every instance, oldest first.
    pub async fn list(&self) -> Result<Vec<InstanceInfo>, InstanceError> {
        let rows = self.inner.store.list_instances().await?;
        let instances = self.read();
        Ok(rows
            .iter()
            .filter_map(|row| {
                instances
                    .get(&row.id)
                    .map(|h| h.extras(info(row, h.shared.status(), h.auto_read.is_on(), h.shared.health())))
            })
            .collect())
    }

    pub async fn get(&self, id: &str) -> Result<InstanceInfo, InstanceError> {
        let handle = self.handle(id)?;
        let row = self
            .inner
            .store
            .get_instance(id)
            .await?
            .ok_or(InstanceError::NotFound)?;
        Ok(handle.extras(info(
            &row,
            handle.shared.status(),
            handle.auto_read.is_on(),
            handle.shared.health(),
        )))
    }

    /// Sets whether the instance rejects calls automatically, and the text
    /// it sends the caller (kept across restarts); the instance as it is now.
    pub async fn set_reject_calls(&self, id: &str, setting: RejectCalls) -> Result<InstanceInfo, InstanceError> {
        let handle = self.handle(id)?;
        if !self
            .inner
            .store
            .set_instance_reject_calls(id, setting.on, setting.message.as_deref())
            .await?
        {
            return Err(InstanceError::NotFound);
        }
        tracing::info!(instance = %id, reject_calls = setting.on, "instance settings changed");
        handle.call_reject.set(setting);
        self.get(id).await
    }

    /// The instance's reject-calls setting.
    pub fn reject_calls(&self, id: &str) -> Result<RejectCalls, InstanceError> {
        Ok(self.handle(id)?.call_reject.get())
    }

    /// Counts a send of the instance's that failed on the way to WhatsApp.
    pub fn send_failed(&self, id: &str) {
        if let Ok(handle) = self.handle(id) {
            handle.shared.activity().send_failed();
        }
    }

    /// Every instance's activity counters, by id, for `/metrics`.
    pub fn stats(&self) -> Vec<(String, InstanceStats)> {
        let mut stats: Vec<(String, InstanceStats)> = self
            .read()
            .iter()
            .map(|(id, handle)| (id.clone(), handle.shared.activity().stats()))
            .collect();
        stats.sort_by(|a, b| a.0.cmp(&b.0));
        stats
    }

    /// Turns the instance's auto-read on or off (kept across restarts); the
    /// instance as it is now.
    pub async fn set_auto_read(&self, id: &str, on: bool) -> Result<InstanceInfo, InstanceError> {
        let handle = self.handle(id)?;
        if !self.inner.store.set_instance_auto_read(id, on).await? {
            return Err(InstanceError::NotFound);
        }
        handle.auto_read.set(on);
        tracing::info!(instance = %id, auto_read = on, "instance settings changed");
        self.get(id).await
    }

    /// Logs out if linked, wipes the device keys and removes the instance and its media.
    pub async fn delete(&self, id: &str) -> Result<(), InstanceError> {
        self.ask(id, Command::Delete).await?;
        if let Some(digest) = self.write().remove(id).and_then(|handle| handle.token_digest) {
            self.tokens().remove(&digest);
        }
        self.inner.engine.forget(id);
        // Its received media goes with it (docs/API.md, "Media retention").
        match self.inner.media.remove_instance(id).await {
            Ok(0) => {}
            Ok(files) => tracing::info!(instance = %id, files, "deleted the instance's media"),
            Err(e) => tracing::warn!(instance = %id, error = %e, "cannot delete the instance's media"),
        }
        tracing::info!(instance = %id, "instance deleted");
        Ok(())
    }

    /// Gives the instance a new token and returns it (shown this once); the
    /// old token stops working at once.
    pub async fn rotate_token(&self, id: &str) -> Result<String, InstanceError> {
        let _one_at_a_time = self.inner.rotating.lock().await;
        self.handle(id)?;
        let token = token::generate();
        if !self
            .inner
            .store
            .set_instance_token_hash(id, &token::hash(&token))
            .await?
        {
            return Err(InstanceError::NotFound);
        }
        let digest = token::digest(&token);
        let old = {
            let mut instances = self.write();
            let handle = instances.get_mut(id).ok_or(InstanceError::NotFound)?;
            handle.token_digest.replace(digest)
        };
        let mut tokens = self.tokens();
        if let Some(old) = old {
            tokens.remove(&old);
        }
        tokens.insert(digest, id.to_owned());
        drop(tokens);
        tracing::info!(instance = %id, "instance token rotated");
        Ok(token)
    }

    /// The current QR code, starting a pairing when needed.
    pub async fn qr(&self, id: &str) -> Result<QrCode, InstanceError> {
        let wait = self.inner.settings.qr_wait;
        tokio::time::timeout(wait, self.ask(id, Command::Qr))
            .await
            .map_err(|_| InstanceError::Timeout)?
    }

    /// A code to link by phone number instead of QR.
    pub async fn pair_code(&self, id: &str, phone: String) -> Result<String, InstanceError> {
        let wait = self.inner.settings.qr_wait;
        tokio::time::timeout(wait, self.ask(id, |reply| Command::PairCode(phone, reply)))
            .await
            .map_err(|_| InstanceError::Timeout)?
    }

    pub async fn logout(&self, id: &str) -> Result<(), InstanceError> {
        self.ask(id, Command::Logout).await
    }

    pub async fn reconnect(&self, id: &str) -> Result<(), InstanceError> {
        self.ask(id, Command::Reconnect).await
    }

    /// The instance's live session, for sending: only while it is online.
    pub fn session(&self, id: &str) -> Result<Arc<dyn Session>, InstanceError> {
        self.handle(id)?
            .shared
            .online_session()
            .ok_or(InstanceError::NotConnected)
    }

    /// The instance whose own number is `phone`; an online one when several are.
    pub async fn find_by_phone(&self, phone: &str) -> Result<String, InstanceError> {
        let ids = self.inner.store.instance_ids_by_phone(phone).await?;
        let instances = self.read();
        let known: Vec<&String> = ids.iter().filter(|id| instances.contains_key(*id)).collect();
        known
            .iter()
            .find(|id| instances.get(**id).is_some_and(|h| h.shared.status() == Status::Online))
            .or(known.first())
            .map(|id| (*id).clone())
            .ok_or(InstanceError::NotFound)
    }

    /// The instance's current status.
    pub fn status(&self, id: &str) -> Result<Status, InstanceError> {
        Ok(self.handle(id)?.shared.status())
    }

    /// The instance whose token `token` is, if any. The lookup is by the
    /// token's SHA-256 (hashed once per request, never hex-encoded); the
    /// match itself is confirmed in constant time.
    pub fn instance_for_token(&self, token: &str) -> Option<String> {
        let digest = token::digest(token);
        let tokens = self.inner.tokens.read().unwrap_or_else(|p| p.into_inner());
        let (stored, id) = tokens.get_key_value(&digest)?;
        token::digest_eq(&digest, stored).then(|| id.clone())
    }

    /// Flushes and closes every connection, all instances at once.
    pub async fn shutdown(&self) {
        let handles: Vec<(String, Handle)> = self.read().iter().map(|(id, h)| (id.clone(), h.clone())).collect();
        let closing = handles.into_iter().map(|(id, handle)| async move {
            let (done, wait) = oneshot::channel();
            if handle.commands.send(Command::Shutdown(done)).await.is_ok()
                && tokio::time::timeout(SHUTDOWN_GRACE, wait).await.is_err()
            {
                tracing::warn!(instance = %id, "instance did not close in time");
            }
        });
        futures::future::join_all(closing).await;
    }

    async fn ask<T>(&self, id: &str, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, InstanceError> {
        let handle = self.handle(id)?;
        let (reply, answer) = oneshot::channel();
        handle
            .commands
            .send(command(reply))
            .await
            .map_err(|_| InstanceError::Unavailable("the instance is stopping".into()))?;
        answer
            .await
            .map_err(|_| InstanceError::Unavailable("the instance is restarting".into()))?
    }
}

/// docs/API.md: `[A-Za-z0-9_-]{1,64}`.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn info(row: &InstanceRow, status: Status, auto_read: bool, health: Health) -> InstanceInfo {
    InstanceInfo {
        instance_id: row.id.clone(),
        name: row.name.clone(),
        status,
        jid: row.jid.clone(),
        phone_number: row.phone_number.clone(),
        push_name: row.push_name.clone(),
        created_at: clock::rfc3339(row.created_at),
        connected_at: row.connected_at.map(clock::rfc3339),
        last_seen: row.last_seen.map(clock::rfc3339),
        auto_read,
        ban: health.ban,
        last_error: health.last_error,
        reject_calls: false,
        reject_calls_message: None,
        stats: InstanceStats {
            last_inbound_at: None,
            last_inbound_age_secs: None,
            reconnects: 0,
            send_failures: 0,
        },
    }
}

impl Handle {
    /// `info` with what the handle keeps: the call setting and the activity.
    fn extras(&self, info: InstanceInfo) -> InstanceInfo {
        let reject = self.call_reject.get();
        InstanceInfo {
            reject_calls: reject.on,
            reject_calls_message: reject.message,
            stats: self.shared.activity().stats(),
            ..info
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn instance_ids_follow_the_contract() {
        assert!(valid_id("shop_01-main"));
        assert!(valid_id(&"a".repeat(64)));
        assert!(!valid_id(""));
        assert!(!valid_id(&"a".repeat(65)));
        assert!(!valid_id("has space"));
        assert!(!valid_id("ünïcode"));
    }
}
