//! One task per instance that sends its queued jobs: it reads the next due
//! job (one indexed query, never a scan of the queue), works out when the
//! pacing lets it go, and sleeps until then, until a new job or a pacing
//! change wakes it, or until the clock is moved (`POST /sim/clock`).
//!
//! A job goes in three steps, each committed before the next: marked
//! `sending` with the message id it will carry, sent with that id, marked
//! `sent`. A crash between any two leaves a state [`super::recovery`] can
//! finish without sending twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::pacing::{Rules, SendLog};
use super::{JobStatus, SendQueue, Undelivered, run_of_jobs};
use crate::engine::chosen_id;
use crate::store::send_jobs::JobRow;

/// How long a job waits after a send that may succeed later (the instance
/// not connected, WhatsApp slow).
pub(super) const RETRY_MS: i64 = 5_000;
/// Attempts before a job that keeps failing for now fails for good.
const MAX_ATTEMPTS: i64 = 20;
/// How long the scheduler waits after a database error.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// A day, the longest rate window.
const DAY_MS: i64 = 24 * 3600 * 1000;

/// One instance's scheduler: what wakes it and what it remembers.
pub(super) struct Lane {
    wake: Notify,
    /// When its messages went (queued and direct), for the rate limits.
    pub(super) log: Mutex<SendLog>,
    /// The last clock move it has looked at.
    seen: watch::Sender<u64>,
    done: AtomicBool,
}

/// What the scheduler does next.
pub(super) enum Next {
    /// Look again at once (a job went, or was dropped).
    Again,
    /// Sleep until this moment (clock ms) or a wake-up.
    At(i64),
    /// Nothing queued: sleep until woken.
    Idle,
}

impl Lane {
    pub(super) fn start(queue: SendQueue, instance_id: String) -> Arc<Lane> {
        let lane = Arc::new(Lane {
            wake: Notify::new(),
            log: Mutex::default(),
            seen: watch::channel(0).0,
            done: AtomicBool::new(false),
        });
        tokio::spawn(run(queue, instance_id, lane.clone()));
        lane
    }

    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    pub(super) fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    /// Waits until the scheduler has looked at clock move `number`.
    pub(super) async fn settled(&self, number: u64) {
        let mut seen = self.seen.subscribe();
        let _ = seen.wait_for(|n| *n >= number).await;
    }
}

/// The instance's scheduler state besides the lane.
#[derive(Default)]
struct State {
    /// The earliest moment the next job may go (the last one plus a gap).
    next_free: i64,
    /// A text whose typing state is showing, and when it is to go.
    typing: Option<(i64, i64)>,
}

async fn run(queue: SendQueue, instance_id: String, lane: Arc<Lane>) {
    let clock = queue.inner.clock.clone();
    let mut moves = clock.moves();
    let mut stop = queue.inner.stop.subscribe();
    // Fold in what went in the last day, for the rate limits.
    if let Ok(times) = queue
        .inner
        .store
        .send_job_times(&instance_id, clock.now_ms() - DAY_MS)
        .await
    {
        let mut log = lane.log.lock().unwrap();
        for at in times {
            log.push(at);
        }
    }
    super::recovery::recover(&queue, &instance_id, &lane).await;
    let mut state = State::default();
    loop {
        if *stop.borrow() {
            break;
        }
        let seen = *moves.borrow_and_update();
        let next = match step(&queue, &instance_id, &lane, &mut state).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(instance = %instance_id, error = %e, "the send queue could not read its jobs");
                Next::At(clock.now_ms() + STORE_RETRY.as_millis() as i64)
            }
        };
        let wait = match next {
            Next::Again => continue,
            Next::At(at) => Some(Duration::from_millis((at - clock.now_ms()).max(1) as u64)),
            Next::Idle => {
                if matches!(
                    queue.inner.instances.session(&instance_id),
                    Err(crate::instances::InstanceError::NotFound)
                ) {
                    break;
                }
                None
            }
        };
        lane.seen.send_replace(seen);
        let sleep = async {
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = lane.wake.notified() => {}
            _ = moves.changed() => {}
            _ = sleep => {}
            _ = stop.changed() => {}
        }
    }
    lane.done.store(true, Ordering::SeqCst);
    // Whoever waits for this lane to settle does not wait for a stopped one.
    lane.seen.send_replace(u64::MAX);
}

/// Looks at the next job: sends it, or says when to look again.
async fn step(queue: &SendQueue, instance_id: &str, lane: &Lane, state: &mut State) -> Result<Next, super::QueueError> {
    let rules = queue.rules(instance_id).await?;
    // Unpaced, the due jobs go as one run (see `run_of_jobs`); paced, one
    // at a time, each after its wait.
    let unpaced = !rules.paces() && state.typing.is_none();
    let limit = if unpaced { run_of_jobs::MAX_RUN } else { 1 };
    let mut jobs = queue.inner.store.next_send_jobs(instance_id, limit).await?;
    if jobs.is_empty() {
        state.typing = None;
        return Ok(Next::Idle);
    }
    let now = queue.inner.clock.now_ms();
    if unpaced {
        let first_due = jobs[0].due_at;
        jobs.retain(|job| job.due_at <= now);
        if jobs.is_empty() {
            return Ok(Next::At(first_due));
        }
        return run_of_jobs::send(queue, instance_id, lane, jobs).await;
    }
    let job = jobs.swap_remove(0);
    if let Some((typing_job, until)) = state.typing {
        if typing_job == job.id {
            if now < until {
                return Ok(Next::At(until));
            }
            state.typing = None;
            return send(queue, instance_id, lane, state, &rules, job).await;
        }
        state.typing = None;
    }
    let at = {
        let log = lane.log.lock().unwrap();
        let at = rules.rate_allows(&log, job.due_at.max(state.next_free));
        rules.rate_allows(&log, rules.after_quiet(at))
    };
    if at > now {
        return Ok(Next::At(at));
    }
    if rules.typing && job.kind == super::kinds::TEXT {
        let request: serde_json::Value = serde_json::from_str(&job.request).unwrap_or_default();
        let text = request.get("message").and_then(|m| m.as_str()).unwrap_or_default();
        let until = now + Rules::typing_ms(text);
        if let Some(dispatch) = queue.dispatch()
            && let Err(e) = dispatch.typing(instance_id, &request).await
        {
            // The text goes anyway; only its typing state is lost.
            tracing::debug!(instance = %instance_id, job = job.id, error = %e, "no typing state before a queued text");
        }
        state.typing = Some((job.id, until));
        return Ok(Next::At(until));
    }
    send(queue, instance_id, lane, state, &rules, job).await
}

/// Marks the job `sending` with its message id, sends it, and records the outcome.
async fn send(
    queue: &SendQueue,
    instance_id: &str,
    lane: &Lane,
    state: &mut State,
    rules: &Rules,
    job: JobRow,
) -> Result<Next, super::QueueError> {
    let Some(dispatch) = queue.dispatch() else {
        return Ok(Next::Idle);
    };
    let store = &queue.inner.store;
    let clock = &queue.inner.clock;
    // A job sent before keeps its id: a repeat is the same message.
    let message_id = job.message_id.clone().unwrap_or_else(chosen_id::new_id);
    if !store.mark_send_job_sending(job.id, &message_id, clock.now_ms()).await? {
        return Ok(Next::Again);
    }
    let job = JobRow {
        message_id: Some(message_id),
        ..job
    };
    queue
        .changed(instance_id, super::events::update(&job, JobStatus::Sending, None))
        .await;
    // On top of the shared settling, a sent job holds the next one back by
    // a gap drawn from the pacing.
    match send_and_settle(queue, instance_id, lane, &*dispatch, &job).await? {
        Settled::Sent(at) => {
            state.next_free = at + rules.draw_gap_ms();
            Ok(Next::Again)
        }
        Settled::Later(at) => Ok(Next::At(at + RETRY_MS)),
        Settled::Failed => Ok(Next::Again),
    }
}

/// How a job marked `sending` was settled by [`send_and_settle`].
pub(super) enum Settled {
    /// Sent and marked `sent` at this moment (clock ms).
    Sent(i64),
    /// Not sent for now: back to `queued`, as of this moment, to be tried again.
    Later(i64),
    /// Not sent, for good or after its last attempt: marked `failed`.
    Failed,
}

/// Sends `job`, already marked `sending` with its message id, and records
/// the outcome: the store's mark, the rate log and the job's event. Both
/// the single job and a run of jobs ([`run_of_jobs`]) go through it.
pub(super) async fn send_and_settle(
    queue: &SendQueue,
    instance_id: &str,
    lane: &Lane,
    dispatch: &dyn super::Dispatch,
    job: &JobRow,
) -> Result<Settled, super::QueueError> {
    let store = &queue.inner.store;
    let message_id = job.message_id.clone().unwrap_or_default();
    let request: serde_json::Value = serde_json::from_str(&job.request).unwrap_or_default();
    let outcome = chosen_id::sending_as(message_id.clone(), dispatch.send(instance_id, &job.kind, &request)).await;
    let now = queue.inner.clock.now_ms();
    match outcome {
        Ok(sent) => {
            if sent.message_id != message_id {
                tracing::warn!(instance = %instance_id, job = job.id, chosen = %message_id, sent = %sent.message_id,
                    "a queued message went with another id than the one chosen");
            }
            store.mark_send_job_sent(job.id, now).await?;
            lane.log.lock().unwrap().push(now);
            queue
                .changed(instance_id, super::events::update(job, JobStatus::Sent, None))
                .await;
            Ok(Settled::Sent(now))
        }
        Err(Undelivered::Later(reason)) if job.attempts + 1 < MAX_ATTEMPTS => {
            tracing::info!(instance = %instance_id, job = job.id, %reason, "a queued message will be tried again");
            store
                .move_send_job(job.id, &["sending"], "queued", None, Some(&reason), now)
                .await?;
            queue
                .changed(
                    instance_id,
                    super::events::update(job, JobStatus::Queued, Some(&reason)),
                )
                .await;
            Ok(Settled::Later(now))
        }
        Err(Undelivered::Later(reason) | Undelivered::Never(reason)) => {
            store
                .move_send_job(job.id, &["sending"], "failed", None, Some(&reason), now)
                .await?;
            queue
                .changed(
                    instance_id,
                    super::events::update(job, JobStatus::Failed, Some(&reason)),
                )
                .await;
            Ok(Settled::Failed)
        }
    }
}
