//! The durable, paced send queue (docs/API.md, "Send queue"): a send route
//! asked to queue (`"queue": true`, or `"send_at"`) stores the request as a
//! job in `send_jobs` and answers 202; one scheduler task per instance sends
//! its jobs in order, at the instance's pace, from the database, so they
//! survive restarts.
//!
//! - [`jobs`]: statuses and the API's view of a job;
//! - [`pacing`]: the rules and the arithmetic of "when may the next one go";
//! - [`zone`]: the time zone quiet hours are read in (IANA names, offsets);
//! - [`scheduler`]: the per-instance task;
//! - [`recovery`]: jobs a crash left `sending`;
//! - [`receipts`]: delivered and read receipts moving jobs on;
//! - [`intake`]: concurrent enqueues stored in one transaction (group commit);
//! - [`bulk`]: one template to many recipients, queued as a batch
//!   ([`template`]: its `{{name}}` placeholders).
//!
//! The queue does not know how to send a kind of message: the API hands it a
//! [`Dispatch`] that runs a stored request exactly as its route runs a direct
//! one. Every status change goes through [`SendQueue::changed`] (or
//! [`SendQueue::changed_many`]), which emits its job status event ([`events`]).

pub mod bulk;
mod events;
mod intake;
pub mod jobs;
pub mod kinds;
pub mod pacing;
mod receipts;
mod recovery;
mod run_of_jobs;
mod scheduler;
pub mod template;
pub mod zone;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::engine::SentMessage;
use crate::instances::InstanceManager;
use crate::store::send_jobs::{JobFilter, NewJob};
use crate::store::{Store, StoreError};
pub use jobs::{Job, JobStatus, Queued};
pub use pacing::{DirectSends, Pacing, PacingError, QuietHours, Rules};

/// Runs a stored send request; implemented by the API over its routes.
#[async_trait]
pub trait Dispatch: Send + Sync {
    /// Sends `request`, a body of the send route `kind`, from `instance_id`.
    async fn send(
        &self,
        instance_id: &str,
        kind: &str,
        request: &serde_json::Value,
    ) -> Result<SentMessage, Undelivered>;

    /// Shows "typing…" to the recipient of `request` (a text's body).
    async fn typing(&self, instance_id: &str, request: &serde_json::Value) -> Result<(), Undelivered>;
}

/// Why a queued send did not go.
#[derive(Debug, thiserror::Error)]
pub enum Undelivered {
    /// For now (the instance is not connected, WhatsApp did not answer): tried again later.
    #[error("{0}")]
    Later(String),
    /// For good (a recipient not on WhatsApp, a bad request): the job fails.
    #[error("{0}")]
    Never(String),
}

/// The server-wide queue settings.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// The pacing of instances without an override (and under their fields left out).
    pub defaults: Pacing,
    /// Jobs an instance may have waiting at most.
    pub max_waiting: i64,
    /// How long finished jobs are kept.
    pub retention: Duration,
}

/// Why the queue refused a request.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the instance already has {0} jobs waiting; wait for some to go")]
    Full(i64),
    #[error("there is no job {0} on this instance")]
    UnknownJob(i64),
    #[error("job {0} is {1} and can no longer be cancelled")]
    NotCancellable(i64, &'static str),
    #[error(transparent)]
    SendAt(#[from] jobs::SendAtError),
    #[error(transparent)]
    Pacing(#[from] PacingError),
    #[error("the instance is over its pace; retry after {0} s")]
    Paced(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Instance(#[from] crate::instances::InstanceError),
}

/// The send queue. Cheap to clone.
#[derive(Clone)]
pub struct SendQueue {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    instances: InstanceManager,
    clock: Clock,
    settings: QueueSettings,
    /// Set by [`SendQueue::start`], taken back by [`SendQueue::stop`]: it
    /// holds the server's state, which holds this queue, so keeping it past
    /// the stop would keep the whole server alive.
    dispatch: Mutex<Option<Arc<dyn Dispatch>>>,
    /// Where job status events go: the hub is given by [`SendQueue::publish_to`],
    /// the events are emitted from [`SendQueue::start`] to [`SendQueue::stop`].
    hub: Mutex<Option<crate::websocket::Hub>>,
    events: Mutex<Option<events::JobEvents>>,
    lanes: Mutex<HashMap<String, Arc<scheduler::Lane>>>,
    /// Where enqueued jobs are stored, together with those of concurrent requests.
    intake: intake::Intake,
    /// The instances' overrides, read once from the database.
    overrides: Mutex<HashMap<String, Pacing>>,
    /// Messages sent by the queue, per instance, for `/metrics`.
    sent: Mutex<HashMap<String, u64>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// Stops its queue when dropped (see [`SendQueue::stop_on_drop`]).
pub struct StopOnDrop(SendQueue);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// The most instances with a sent-by-queue counter in `/metrics`.
const MAX_METRIC_SERIES: usize = 10_000;
/// The most jobs one listing returns.
pub const MAX_PAGE: i64 = 500;

impl SendQueue {
    pub fn new(store: Store, instances: InstanceManager, clock: Clock, settings: QueueSettings) -> SendQueue {
        SendQueue {
            inner: Arc::new(Inner {
                store,
                instances,
                clock,
                settings,
                dispatch: Mutex::new(None),
                hub: Mutex::new(None),
                events: Mutex::new(None),
                lanes: Mutex::default(),
                intake: intake::Intake::default(),
                overrides: Mutex::default(),
                sent: Mutex::default(),
                stop: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    /// Starts sending with `dispatch`: the schedulers of instances with jobs
    /// left by an earlier run (recovering those caught `sending`), the
    /// receipts listener and the prune of finished jobs.
    pub async fn start(&self, dispatch: Arc<dyn Dispatch>, bus: &crate::events::Bus) -> Result<(), StoreError> {
        {
            let mut slot = self.inner.dispatch.lock().unwrap();
            if slot.is_some() || *self.inner.stop.borrow() {
                return Ok(());
            }
            *slot = Some(dispatch);
        }
        if let Some(hub) = self.inner.hub.lock().unwrap().clone() {
            let events = events::JobEvents::start(bus.clone(), hub, self.inner.stop.subscribe());
            *self.inner.events.lock().unwrap() = Some(events);
        }
        receipts::listen(self.clone(), bus.subscribe());
        self.spawn_prune();
        for instance_id in self.inner.store.instances_with_send_jobs().await? {
            self.lane(&instance_id);
        }
        Ok(())
    }

    /// Stops every scheduler (jobs stay in the database).
    pub fn stop(&self) {
        self.inner.stop.send_replace(true);
        self.inner.dispatch.lock().unwrap().take();
        self.inner.events.lock().unwrap().take();
    }

    /// Publishes the `/ws` frames of job status events to `hub` (from the start on).
    pub fn publish_to(&self, hub: crate::websocket::Hub) {
        *self.inner.hub.lock().unwrap() = Some(hub);
    }

    /// A guard that stops the queue when dropped: the server holds it while
    /// it runs, so a server whose task is cut short (aborted, or panicking)
    /// stops its schedulers too instead of leaving them, and all they hold,
    /// running.
    pub fn stop_on_drop(&self) -> StopOnDrop {
        StopOnDrop(self.clone())
    }

    /// The dispatch to send with; `None` before the start and after the stop.
    fn dispatch(&self) -> Option<Arc<dyn Dispatch>> {
        self.inner.dispatch.lock().unwrap().clone()
    }

    /// The clock the queue runs on.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Stores a send of route `kind` for instance `instance_id`, due at
    /// `send_at` (unix ms) or now; the scheduler is woken.
    pub async fn enqueue(
        &self,
        instance_id: &str,
        kind: &str,
        request: &serde_json::Value,
        send_at: Option<i64>,
        batch_id: Option<&str>,
    ) -> Result<Queued, QueueError> {
        let now_ms = self.inner.clock.now_ms();
        let due_at = send_at.unwrap_or(now_ms).max(now_ms);
        let request = request.to_string();
        let job = NewJob {
            instance_id,
            kind,
            request: &request,
            send_at,
            due_at,
            now_ms,
            batch_id,
        };
        let max = self.inner.settings.max_waiting;
        let id = self
            .inner
            .intake
            .insert(&self.inner.store, job, max)
            .await?
            .ok_or(QueueError::Full(max))?;
        let queued = wasap_events::QueueJob {
            job_id: id,
            status: JobStatus::Queued,
            kind: kind.to_owned(),
            batch_id: batch_id.map(str::to_owned),
            message_id: None,
            failure: None,
            to: events::recipient(&request),
        };
        self.changed(instance_id, queued).await;
        self.lane(instance_id).wake();
        Ok(Queued {
            job_id: id,
            status: JobStatus::Queued,
            send_at: crate::clock::rfc3339_ms(due_at),
        })
    }

    /// `send_at` as the queue reads it (unix ms), checked.
    pub fn send_at(&self, text: &str) -> Result<i64, QueueError> {
        Ok(jobs::parse_send_at(text, self.inner.clock.now_ms())?)
    }

    /// Job `job_id` of the instance.
    pub async fn job(&self, instance_id: &str, job_id: i64) -> Result<Job, QueueError> {
        self.inner
            .store
            .send_job(instance_id, job_id)
            .await?
            .map(Job::from)
            .ok_or(QueueError::UnknownJob(job_id))
    }

    /// A page of the instance's jobs, by id.
    pub async fn jobs(&self, instance_id: &str, mut filter: JobFilter) -> Result<Vec<Job>, QueueError> {
        filter.limit = filter.limit.clamp(1, MAX_PAGE);
        let rows = self.inner.store.send_jobs(instance_id, &filter).await?;
        Ok(rows.into_iter().map(Job::from).collect())
    }

    /// Cancels a job that has not started to go.
    pub async fn cancel(&self, instance_id: &str, job_id: i64) -> Result<Job, QueueError> {
        let job = self.job(instance_id, job_id).await?;
        if job.status != JobStatus::Queued {
            return Err(QueueError::NotCancellable(job_id, job.status.as_str()));
        }
        let now = self.inner.clock.now_ms();
        let moved = self
            .inner
            .store
            .move_send_job(job_id, &["queued"], "cancelled", None, None, now)
            .await?;
        if !moved {
            // It started to go meanwhile.
            let job = self.job(instance_id, job_id).await?;
            return Err(QueueError::NotCancellable(job_id, job.status.as_str()));
        }
        let cancelled = wasap_events::QueueJob {
            job_id,
            status: JobStatus::Cancelled,
            kind: job.kind.clone(),
            batch_id: job.batch_id.clone(),
            message_id: job.message_id.clone(),
            failure: None,
            to: job.request.get("to").and_then(|to| to.as_str()).map(str::to_owned),
        };
        self.changed(instance_id, cancelled).await;
        self.lane(instance_id).wake();
        self.job(instance_id, job_id).await
    }

    /// The instance's pacing override (empty when it has none).
    pub async fn pacing(&self, instance_id: &str) -> Result<Pacing, QueueError> {
        if let Some(known) = self.inner.overrides.lock().unwrap().get(instance_id) {
            return Ok(known.clone());
        }
        let stored = match self.inner.store.send_pacing(instance_id).await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            None => Pacing::default(),
        };
        self.inner
            .overrides
            .lock()
            .unwrap()
            .insert(instance_id.to_owned(), stored.clone());
        Ok(stored)
    }

    /// Checks pacing rules as an override over the defaults.
    pub fn check_pacing(&self, pacing: &Pacing) -> Result<(), QueueError> {
        pacing.validate()?;
        pacing.over(&self.inner.settings.defaults)?;
        Ok(())
    }

    /// Replaces the instance's pacing override (checked over the defaults).
    pub async fn set_pacing(&self, instance_id: &str, pacing: Pacing) -> Result<(), QueueError> {
        self.check_pacing(&pacing)?;
        let json = serde_json::to_string(&pacing).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.inner.store.set_send_pacing(instance_id, &json).await?;
        self.inner
            .overrides
            .lock()
            .unwrap()
            .insert(instance_id.to_owned(), pacing);
        if let Some(lane) = self.inner.lanes.lock().unwrap().get(instance_id) {
            lane.wake();
        }
        Ok(())
    }

    /// The rules in force for the instance.
    pub async fn rules(&self, instance_id: &str) -> Result<Rules, QueueError> {
        Ok(self.pacing(instance_id).await?.over(&self.inner.settings.defaults)?)
    }

    /// Whether a direct send from the instance may go now: refused (with
    /// the seconds to wait) only under `direct_sends: refuse` over a rate limit.
    pub async fn direct_send_allowed(&self, instance_id: &str) -> Result<(), QueueError> {
        let rules = self.rules(instance_id).await?;
        if rules.direct_sends != DirectSends::Refuse || !rules.limits_rate() {
            return Ok(());
        }
        let lane = self.lane(instance_id);
        let now = self.inner.clock.now_ms();
        let free = rules.rate_allows(&lane.log.lock().unwrap(), now);
        if free > now {
            return Err(QueueError::Paced(((free - now) as u64).div_ceil(1000)));
        }
        Ok(())
    }

    /// Counts a direct send against the instance's limits (under `count`
    /// and `refuse` alike; only rate limits, not the gaps, apply to them).
    ///
    /// The lane is not woken: a send in its log can only put its next job
    /// later, and the lane reads the log again whenever it wakes anyway. (A
    /// wake cost every direct send a look at the queue's jobs.)
    pub fn direct_sent(&self, instance_id: &str) {
        let lane = self.lane(instance_id);
        lane.log.lock().unwrap().push(self.inner.clock.now_ms());
    }

    /// Moves the clock (a simulated-engine server only) and waits, up to
    /// `limit`, until every scheduler has looked at the new time.
    pub async fn advance_clock(&self, ms: i64, limit: Duration) {
        let number = self.inner.clock.advance_ms(ms);
        let lanes: Vec<_> = self.inner.lanes.lock().unwrap().values().cloned().collect();
        let _ = tokio::time::timeout(limit, async {
            for lane in lanes {
                lane.settled(number).await;
            }
        })
        .await;
    }

    /// Jobs waiting per instance, and sent by the queue per instance, in the
    /// Prometheus text format.
    pub async fn metrics_text(&self) -> Result<String, StoreError> {
        use std::fmt::Write as _;
        let mut out = String::new();
        out.push_str("# HELP wasap_send_queue_waiting Queued jobs waiting to be sent, by instance.\n");
        out.push_str("# TYPE wasap_send_queue_waiting gauge\n");
        for (instance, count) in self.inner.store.waiting_send_jobs_by_instance().await? {
            let _ = writeln!(out, "wasap_send_queue_waiting{{instance=\"{instance}\"}} {count}");
        }
        out.push_str("# HELP wasap_send_queue_sent_total Messages sent by the send queue, by instance.\n");
        out.push_str("# TYPE wasap_send_queue_sent_total counter\n");
        let mut sent: Vec<_> = self
            .inner
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        sent.sort();
        for (instance, count) in sent {
            let _ = writeln!(out, "wasap_send_queue_sent_total{{instance=\"{instance}\"}} {count}");
        }
        Ok(out)
    }

    /// Every job status change passes here: `job` is the job with its new
    /// status, as its event tells it (see [`events`]). Waits while the plugin
    /// chain is far behind.
    async fn changed(&self, instance_id: &str, job: wasap_events::QueueJob) {
        tracing::debug!(instance = %instance_id, job = job.job_id, status = job.status.as_str(), "send job");
        let status = job.status;
        let emitter = self.inner.events.lock().unwrap().clone();
        if let Some(emitter) = emitter {
            emitter.emit(instance_id, self.inner.clock.now_ms(), job).await;
        }
        if status == JobStatus::Sent {
            let mut sent = self.inner.sent.lock().unwrap();
            let key = if sent.len() < MAX_METRIC_SERIES || sent.contains_key(instance_id) {
                instance_id.to_owned()
            } else {
                "_other".to_owned()
            };
            *sent.entry(key).or_default() += 1;
        }
    }

    /// [`SendQueue::changed`] for jobs known by id only, all now `status`
    /// (a batch queued or cancelled): their rows are read for their events,
    /// a few hundred a query.
    async fn changed_many(&self, instance_id: &str, ids: &[i64], status: JobStatus) {
        // With no events to emit there is nothing to read them for (a batch
        // is only ever queued or cancelled: no `sent` for the metrics).
        if self.inner.events.lock().unwrap().is_none() {
            tracing::debug!(instance = %instance_id, jobs = ids.len(), status = status.as_str(), "send jobs");
            return;
        }
        match self.inner.store.send_jobs_by_ids(instance_id, ids).await {
            Ok(rows) => {
                for (n, row) in rows.iter().enumerate() {
                    self.changed(instance_id, events::update(row, status, None)).await;
                    // Lets the WebSocket writers drain their frames between runs.
                    if n % 64 == 63 {
                        tokio::task::yield_now().await;
                    }
                }
            }
            Err(e) => tracing::warn!(instance = %instance_id, error = %e, "the events of a batch's jobs are lost"),
        }
    }

    /// The instance's scheduler, started if it is not running.
    fn lane(&self, instance_id: &str) -> Arc<scheduler::Lane> {
        let mut lanes = self.inner.lanes.lock().unwrap();
        if let Some(lane) = lanes.get(instance_id)
            && !lane.is_done()
        {
            return lane.clone();
        }
        let lane = scheduler::Lane::start(self.clone(), instance_id.to_owned());
        lanes.insert(instance_id.to_owned(), lane.clone());
        lane
    }

    fn spawn_prune(&self) {
        let queue = self.clone();
        let mut stop = self.inner.stop.subscribe();
        tokio::spawn(async move {
            let every = Duration::from_secs(3600).min(queue.inner.settings.retention);
            loop {
                let before = queue.inner.clock.now_ms() - queue.inner.settings.retention.as_millis() as i64;
                match queue.inner.store.prune_send_jobs(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "finished send jobs pruned"),
                    Err(e) => tracing::warn!(error = %e, "finished send jobs could not be pruned"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
            }
        });
    }
}

impl SendQueue {
    /// The server's default pacing, which every instance's override is laid over.
    pub fn default_pacing(&self) -> &Pacing {
        &self.inner.settings.defaults
    }
}
