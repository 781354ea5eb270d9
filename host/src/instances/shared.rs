//! What the supervisor shares with request handlers without a round trip
//! through its command channel: the current status, its health (a ban, the
//! last connection error), its activity counters and the live session.
//! Sending a message reads these directly, so the send path never queues
//! behind an instance's lifecycle work.

use std::sync::{Arc, RwLock};

use super::activity::Activity;
use super::health::Health;
use super::status::Status;
use crate::engine::Session;

/// One instance's status and live session, as its supervisor last set them.
pub(crate) struct SharedState {
    inner: RwLock<Inner>,
    activity: Arc<Activity>,
}

struct Inner {
    status: Status,
    health: Health,
    session: Option<Arc<dyn Session>>,
}

impl SharedState {
    pub(crate) fn new(status: Status) -> SharedState {
        SharedState {
            inner: RwLock::new(Inner {
                status,
                health: Health::default(),
                session: None,
            }),
            activity: Arc::default(),
        }
    }

    pub(crate) fn status(&self) -> Status {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).status
    }

    pub(crate) fn set_status(&self, status: Status) {
        self.inner.write().unwrap_or_else(|p| p.into_inner()).status = status;
    }

    pub(crate) fn health(&self) -> Health {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).health.clone()
    }

    /// Changes the health in place (the supervisor is its only writer; a
    /// supervisor rebuilt after a panic goes on with what is here).
    pub(crate) fn change_health(&self, change: impl FnOnce(&mut Health)) {
        change(&mut self.inner.write().unwrap_or_else(|p| p.into_inner()).health);
    }

    /// The instance's activity counters (`activity.rs`).
    pub(crate) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    pub(crate) fn set_session(&self, session: Option<Arc<dyn Session>>) {
        self.inner.write().unwrap_or_else(|p| p.into_inner()).session = session;
    }

    /// The live session, only while the instance is online.
    pub(crate) fn online_session(&self) -> Option<Arc<dyn Session>> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        match inner.status {
            Status::Online => inner.session.clone(),
            _ => None,
        }
    }
}
