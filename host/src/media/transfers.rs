//! The bound on media transfers in flight: uploads (`/media`, `/media-file`)
//! and `mediaUrl` fetches, per instance and server-wide.
//!
//! A transfer may hold its file in memory while it is sent to WhatsApp, so
//! the bound is what caps that memory, and what keeps one tenant from taking
//! every slot. A request over the bound waits up to a short time for a slot,
//! then is refused: [`Busy::Instance`] (the API's 429) when its own instance
//! has too many, [`Busy::Server`] (503) when the whole server has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// How many transfers may run, and how long a request waits for a slot.
#[derive(Debug, Clone, Copy)]
pub struct TransferLimits {
    pub global: usize,
    pub per_instance: usize,
    pub wait: Duration,
}

/// No slot came free in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("the instance already has {limit} media transfers (uploads or mediaUrl fetches) in flight")]
    Instance { limit: usize },
    #[error("the server already has {limit} media transfers (uploads or mediaUrl fetches) in flight")]
    Server { limit: usize },
}

/// The transfers in flight. Cheap to clone.
#[derive(Clone)]
pub struct Transfers {
    inner: Arc<Inner>,
}

struct Inner {
    limits: TransferLimits,
    counts: Mutex<Counts>,
    /// Woken whenever a slot comes free.
    released: Notify,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Only instances with a transfer in flight.
    by_instance: HashMap<String, usize>,
}

/// A slot, held for as long as the transfer runs; given back on drop.
pub struct TransferPermit {
    inner: Arc<Inner>,
    instance: String,
}

impl Transfers {
    pub fn new(limits: TransferLimits) -> Transfers {
        Transfers {
            inner: Arc::new(Inner {
                limits,
                counts: Mutex::new(Counts::default()),
                released: Notify::new(),
            }),
        }
    }

    /// A slot for a transfer of `instance`, waiting for one up to the configured time.
    pub async fn acquire(&self, instance: &str) -> Result<TransferPermit, Busy> {
        let deadline = tokio::time::Instant::now() + self.inner.limits.wait;
        loop {
            // Registered before trying, so a slot freed in between still wakes us.
            let released = self.inner.released.notified();
            let mut released = std::pin::pin!(released);
            released.as_mut().enable();
            let busy = match self.try_acquire(instance) {
                Ok(permit) => return Ok(permit),
                Err(busy) => busy,
            };
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(busy);
            }
        }
    }

    fn try_acquire(&self, instance: &str) -> Result<TransferPermit, Busy> {
        let limits = self.inner.limits;
        let mut counts = self.inner.counts.lock().unwrap_or_else(|p| p.into_inner());
        let of_instance = counts.by_instance.get(instance).copied().unwrap_or(0);
        if of_instance >= limits.per_instance {
            return Err(Busy::Instance {
                limit: limits.per_instance,
            });
        }
        if counts.total >= limits.global {
            return Err(Busy::Server { limit: limits.global });
        }
        counts.total += 1;
        *counts.by_instance.entry(instance.to_owned()).or_default() += 1;
        Ok(TransferPermit {
            inner: self.inner.clone(),
            instance: instance.to_owned(),
        })
    }
}

impl Drop for TransferPermit {
    fn drop(&mut self) {
        let mut counts = self.inner.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total -= 1;
        if let Some(count) = counts.by_instance.get_mut(&self.instance) {
            *count -= 1;
            if *count == 0 {
                counts.by_instance.remove(&self.instance);
            }
        }
        drop(counts);
        self.inner.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfers(global: usize, per_instance: usize, wait_ms: u64) -> Transfers {
        Transfers::new(TransferLimits {
            global,
            per_instance,
            wait: Duration::from_millis(wait_ms),
        })
    }

    #[tokio::test]
    async fn the_instance_bound_comes_before_the_servers() {
        let t = transfers(3, 2, 0);
        let a1 = t.acquire("a").await.unwrap();
        let _a2 = t.acquire("a").await.unwrap();
        assert_eq!(t.acquire("a").await.err(), Some(Busy::Instance { limit: 2 }));
        let _b1 = t.acquire("b").await.unwrap();
        assert_eq!(t.acquire("c").await.err(), Some(Busy::Server { limit: 3 }));
        drop(a1);
        assert!(t.acquire("c").await.is_ok(), "a freed slot is taken again");
    }

    #[tokio::test]
    async fn a_waiting_transfer_gets_the_slot_that_frees_up() {
        let t = transfers(1, 1, 5_000);
        let first = t.acquire("a").await.unwrap();
        let waiting = tokio::spawn({
            let t = t.clone();
            async move { t.acquire("b").await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert_eq!(waiting.await.unwrap(), Ok(()));
        assert!(t.inner.counts.lock().unwrap().by_instance.is_empty());
    }
}
