//! The shared core every part of the simulator works on: the world behind
//! its lock, the server's Noise keys, the options, and the change signal
//! that waiters block on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::error;

use crate::cert::ServerKeys;
use crate::error::{Result, SimError};
use crate::state::World;

pub struct Inner {
    world: Mutex<World>,
    keys: RwLock<Arc<ServerKeys>>,
    changes: watch::Sender<u64>,
    next_conn: AtomicU64,
    /// Refuse every IK handshake (the client then finishes with XX-fallback).
    pub refuse_ik: AtomicBool,
    /// Simulated devices acknowledge a message they decrypted with a
    /// delivery receipt, as phones do.
    pub auto_delivery_receipts: AtomicBool,
    /// The media server's files and auth token (`media_server.rs`).
    pub media: crate::media_server::MediaCdn,
}

impl Inner {
    pub fn new() -> Arc<Inner> {
        Arc::new(Inner {
            world: Mutex::new(World::new()),
            keys: RwLock::new(Arc::new(ServerKeys::generate())),
            changes: watch::channel(0).0,
            next_conn: AtomicU64::new(1),
            refuse_ik: AtomicBool::new(false),
            auto_delivery_receipts: AtomicBool::new(true),
            media: crate::media_server::MediaCdn::new(),
        })
    }

    /// The world, for a short synchronous look or change; wakes the waiters
    /// when released. Never hold it across an await.
    pub fn world(&self) -> WorldGuard<'_> {
        WorldGuard {
            guard: Some(self.world.lock().unwrap_or_else(|e| e.into_inner())),
            changes: &self.changes,
        }
    }

    pub fn keys(&self) -> Arc<ServerKeys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A new static key and chain: clients that cached the old one fail IK
    /// and fall back to XX.
    pub fn rotate_keys(&self) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ServerKeys::generate());
    }

    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a stanza the simulator does not handle, loudly: the tests
    /// assert this list is empty.
    pub fn unhandled(&self, what: String) {
        error!(target: "whatsapp_sim", "UNHANDLED: {what}");
        self.world().unhandled.push(what);
    }

    /// Waits until `check` finds what it looks for in the world.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&World) -> Option<T>,
    ) -> Result<T> {
        let mut changes = self.changes.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.mark_unchanged();
            {
                let world = self.world.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(found) = check(&world) {
                    return Ok(found);
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(SimError::Closed),
                Err(_) => return Err(SimError::Timeout(timeout, what.to_owned())),
            }
        }
    }
}

/// The world lock; releasing it signals a change.
pub struct WorldGuard<'a> {
    guard: Option<MutexGuard<'a, World>>,
    changes: &'a watch::Sender<u64>,
}

impl std::ops::Deref for WorldGuard<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        self.guard.as_ref().expect("held until drop")
    }
}

impl std::ops::DerefMut for WorldGuard<'_> {
    fn deref_mut(&mut self) -> &mut World {
        self.guard.as_mut().expect("held until drop")
    }
}

impl Drop for WorldGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }
}
