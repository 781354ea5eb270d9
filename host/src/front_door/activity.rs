//! What one HTTP connection is doing, and when it has waited too long.
//!
//! A connection is always in one of three phases:
//! - **head**: from the accept, or from the first byte after an idle spell,
//!   until the request's head has been read and handed to the service: at
//!   most the header timeout;
//! - **busy**: a request is being answered (its body read, the handler
//!   run, the answer written): no limit here, handlers and body sizes have
//!   their own;
//! - **idle**: a keep-alive connection between an answer and the first
//!   byte of the next request: at most the idle timeout.
//!
//! hyper's own `header_read_timeout` is not used: it runs from the moment
//! the connection waits for a head, so it also ends idle keep-alive
//! connections, at the header timeout, and the two limits could not
//! differ. The phases are told here by the reads of the socket
//! ([`super::io`]) and by the service seeing a request begin and its
//! answer's body end ([`super::service`]); [`Activity::expired`] is the
//! watchdog the connection's task runs beside hyper.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

/// The two time limits of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From the accept (or the first byte after an idle spell) to a complete request head.
    pub header: Duration,
    /// Between an answer and the next request's first byte.
    pub idle: Duration,
}

/// Which limit a connection ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    Header,
    Idle,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Head { since: Instant },
    Busy { requests: usize },
    Idle { since: Instant },
}

/// The phase of one connection, shared by its IO, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    /// A connection just accepted: waiting for its first request head.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            phase: Mutex::new(Phase::Head { since: Instant::now() }),
            changed: Notify::new(),
        })
    }

    fn set(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        *phase = change(*phase);
        drop(phase);
        self.changed.notify_one();
    }

    /// Bytes came in: an idle connection starts reading its next request head.
    pub fn bytes_read(&self) {
        let idle = matches!(
            *self.phase.lock().unwrap_or_else(|e| e.into_inner()),
            Phase::Idle { .. }
        );
        if idle {
            self.set(|phase| match phase {
                Phase::Idle { .. } => Phase::Head { since: Instant::now() },
                other => other,
            });
        }
    }

    /// A request head was read and handed to the service; the returned guard
    /// ends the request when it is dropped (with the answer's body).
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.set(|phase| match phase {
            Phase::Busy { requests } => Phase::Busy { requests: requests + 1 },
            Phase::Head { .. } | Phase::Idle { .. } => Phase::Busy { requests: 1 },
        });
        RequestGuard(self.clone())
    }

    fn request_ended(&self) {
        self.set(|phase| match phase {
            Phase::Busy { requests } if requests > 1 => Phase::Busy { requests: requests - 1 },
            _ => Phase::Idle { since: Instant::now() },
        });
    }

    /// When the current phase runs out, and which limit that is (`None` while busy).
    fn deadline(&self, timeouts: Timeouts) -> Option<(Instant, Expired)> {
        match *self.phase.lock().unwrap_or_else(|e| e.into_inner()) {
            Phase::Head { since } => Some((since + timeouts.header, Expired::Header)),
            Phase::Idle { since } => Some((since + timeouts.idle, Expired::Idle)),
            Phase::Busy { .. } => None,
        }
    }

    /// Resolves once the connection has stayed in the head or idle phase past
    /// its limit.
    pub async fn expired(&self, timeouts: Timeouts) -> Expired {
        loop {
            // A change between reading the deadline and waiting leaves a
            // permit (`notify_one`), so no change is missed.
            match self.deadline(timeouts) {
                None => self.changed.notified().await,
                Some((at, expired)) => {
                    if at <= Instant::now() {
                        return expired;
                    }
                    tokio::select! {
                        _ = self.changed.notified() => {}
                        _ = sleep_until(at) => {}
                    }
                }
            }
        }
    }
}

/// One request being answered; dropping it ends the request.
#[derive(Debug)]
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time (tokio's paused clock needs its test-util feature): short
    // limits, and checks that each one is kept, not that it is exact.
    const TIMEOUTS: Timeouts = Timeouts {
        header: Duration::from_millis(60),
        idle: Duration::from_millis(180),
    };

    async fn expires_after(activity: &Activity, from: Instant) -> (Expired, Duration) {
        let expired = tokio::time::timeout(Duration::from_secs(10), activity.expired(TIMEOUTS))
            .await
            .expect("the watchdog fires");
        (expired, from.elapsed())
    }

    #[tokio::test]
    async fn each_phase_has_its_own_limit_and_a_busy_connection_none() {
        let activity = Activity::new();
        let (expired, after) = expires_after(&activity, Instant::now()).await;
        assert!(
            expired == Expired::Header && after >= TIMEOUTS.header,
            "{expired:?} {after:?}"
        );

        let guard = activity.request_started();
        let waiting = tokio::time::timeout(TIMEOUTS.idle * 2, activity.expired(TIMEOUTS));
        assert!(waiting.await.is_err(), "a busy connection never expires");
        drop(guard);
        let (expired, after) = expires_after(&activity, Instant::now()).await;
        assert!(
            expired == Expired::Idle && after >= TIMEOUTS.idle,
            "{expired:?} {after:?}"
        );
    }

    #[tokio::test]
    async fn the_first_byte_after_an_idle_spell_starts_the_header_limit() {
        let activity = Activity::new();
        drop(activity.request_started());
        tokio::time::sleep(TIMEOUTS.idle - TIMEOUTS.header / 2).await;
        activity.bytes_read();
        let (expired, after) = expires_after(&activity, Instant::now()).await;
        assert!(
            expired == Expired::Header && after >= TIMEOUTS.header,
            "{expired:?} {after:?}"
        );
    }

    #[tokio::test]
    async fn a_request_ending_wakes_the_watchdog() {
        let activity = Activity::new();
        let guard = activity.request_started();
        let watchdog = {
            let activity = activity.clone();
            tokio::spawn(async move { activity.expired(TIMEOUTS).await })
        };
        tokio::time::sleep(TIMEOUTS.idle).await;
        assert!(!watchdog.is_finished());
        drop(guard);
        let idle_from = Instant::now();
        let expired = tokio::time::timeout(Duration::from_secs(10), watchdog)
            .await
            .expect("the watchdog fires")
            .unwrap();
        assert!(expired == Expired::Idle && idle_from.elapsed() >= TIMEOUTS.idle / 2);
    }
}
