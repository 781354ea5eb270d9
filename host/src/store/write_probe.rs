//! The database's write check for `GET /health`: one row rewritten, with a
//! deadline, at most once per [`PROBE_EVERY`] however often `/health` is
//! asked (it needs no token, so it must not turn into a write load). The
//! probe runs on a task of its own and `/health` waits for it only briefly,
//! so a slow commit (an fsync on a busy disk) never makes `/health` slow:
//! it answers with the last result meanwhile. The answer says why writes
//! fail: an error (a full disk, a read-only file) or no answer in time (a
//! lock held elsewhere).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Store, on_pool};

/// How long one probe result is reused.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long the probe's write may take before the database counts as unable to write.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(2);
/// How long `/health` waits for a probe it started before answering with the last result.
const ANSWER_WAIT: Duration = Duration::from_millis(20);

/// What the probes know, shared by the clones of a [`Store`].
#[derive(Debug, Default, Clone)]
pub(crate) struct WriteProbe {
    state: Arc<Mutex<ProbeState>>,
}

#[derive(Debug, Default)]
struct ProbeState {
    /// The last finished probe: when, and its result.
    last: Option<(Instant, Result<(), String>)>,
    /// A probe under way; it tells its end on this channel.
    running: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Store {
    /// `Ok` when the database took a write within about the last second, else
    /// why not. Until a first probe has finished, writes count as fine.
    pub async fn check_writable(&self) -> Result<(), String> {
        let mut done = {
            let mut state = self.write_probe.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, result)) = &state.last
                && at.elapsed() < PROBE_EVERY
            {
                return result.clone();
            }
            match &state.running {
                Some(running) => running.clone(),
                None => {
                    let (tell, done) = tokio::sync::watch::channel(false);
                    state.running = Some(done.clone());
                    tokio::spawn(self.clone().probe(tell));
                    done
                }
            }
        };
        let _ = tokio::time::timeout(ANSWER_WAIT, done.wait_for(|finished| *finished)).await;
        let state = self.write_probe.state.lock().unwrap_or_else(|p| p.into_inner());
        state.last.as_ref().map_or(Ok(()), |(_, result)| result.clone())
    }

    /// One probe: the write, bounded by [`WRITE_DEADLINE`]; its result is kept.
    async fn probe(self, tell: tokio::sync::watch::Sender<bool>) {
        let result = match tokio::time::timeout(WRITE_DEADLINE, self.write_probe_row()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the database cannot write: {e}")),
            Err(_) => Err(format!(
                "the database did not finish a write within {} ms",
                WRITE_DEADLINE.as_millis()
            )),
        };
        if let Err(why) = &result {
            tracing::warn!(reason = %why, "health: database write check failed");
        }
        {
            let mut state = self.write_probe.state.lock().unwrap_or_else(|p| p.into_inner());
            state.last = Some((Instant::now(), result));
            state.running = None;
        }
        let _ = tell.send(true);
    }

    async fn write_probe_row(&self) -> Result<(), sqlx::Error> {
        on_pool!(self.pool(), |p| sqlx::query(
            "INSERT INTO health_write_probe (id, checked_at) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"
        )
        .bind(crate::clock::now_ms())
        .execute(p)
        .await
        .map(|_| ()))
    }
}
