//! Group commit of queued sends. Jobs enqueued by concurrent requests are
//! handed to one writer task, which stores those that arrived together in
//! one transaction per instance ([`Store::insert_send_batch`]) and answers
//! each only once that transaction has committed: a 202 still means the job
//! is on disk, but a burst of requests costs one commit (and one count of
//! the instance's waiting jobs, for `max_waiting`) instead of one each.
//!
//! Nothing waits to fill a batch: the writer takes what is there when it
//! is free, so a lone request is stored at once, and batches grow only while
//! a commit is under way (a busy server). One writer also keeps SQLite's
//! writers from queueing for its write lock.
//!
//! `max_waiting` is checked against a bound the writer keeps per instance
//! (the last count plus what it stored since), and the waiting jobs are
//! counted again only when that bound leaves no room: the count's cost grows
//! with the backlog, which is largest exactly when the intake is busiest.
//! The bound only errs high (sends take jobs out without lowering it), except
//! by what other paths queue meanwhile: a bulk send makes the writer count
//! again ([`Intake::forget`]), and jobs put back to `queued` after a failed
//! attempt (at most a run of jobs per instance) are not seen until the next
//! count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::store::send_jobs::NewJob;
use crate::store::{Store, StoreError};

/// The most jobs one transaction stores.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer at most; past that, enqueues wait for room.
const BACKLOG: usize = 4096;
/// Instances whose waiting bound is kept at most (past that, all are
/// forgotten and counted again).
const MAX_BOUNDS: usize = 10_000;

/// Per instance, at most how many jobs it has waiting, as the writer knows.
type Bounds = Arc<Mutex<HashMap<String, i64>>>;

/// An owned [`NewJob`], waiting for the writer with its answer's channel.
struct Pending {
    instance_id: String,
    kind: String,
    request: String,
    send_at: Option<i64>,
    due_at: i64,
    now_ms: i64,
    batch_id: Option<String>,
    /// The job's id, or `None` when the instance has `max_waiting` jobs waiting.
    reply: oneshot::Sender<Result<Option<i64>, StoreError>>,
}

impl Pending {
    fn job(&self) -> NewJob<'_> {
        NewJob {
            instance_id: &self.instance_id,
            kind: &self.kind,
            request: &self.request,
            send_at: self.send_at,
            due_at: self.due_at,
            now_ms: self.now_ms,
            batch_id: self.batch_id.as_deref(),
        }
    }
}

/// The way in to the writer task, started on first use (inside the runtime).
#[derive(Default)]
pub(super) struct Intake {
    writer: OnceLock<mpsc::Sender<Pending>>,
    bounds: Bounds,
}

impl Intake {
    /// Stores `job` as queued, unless its instance has `max_waiting` jobs
    /// waiting (`Ok(None)`); answers once it is committed.
    pub(super) async fn insert(
        &self,
        store: &Store,
        job: NewJob<'_>,
        max_waiting: i64,
    ) -> Result<Option<i64>, StoreError> {
        let writer = self.writer.get_or_init(|| {
            let (tx, rx) = mpsc::channel(BACKLOG);
            tokio::spawn(write(store.clone(), max_waiting, self.bounds.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            instance_id: job.instance_id.to_owned(),
            kind: job.kind.to_owned(),
            request: job.request.to_owned(),
            send_at: job.send_at,
            due_at: job.due_at,
            now_ms: job.now_ms,
            batch_id: job.batch_id.map(str::to_owned),
            reply,
        };
        if writer.send(pending).await.is_err() {
            // The writer is gone (the runtime shutting down): store it alone.
            return store.insert_send_job(job, max_waiting).await;
        }
        // A writer that drops the answer has died mid-batch: whether the
        // job was stored is unknown, so it is not stored again.
        answer
            .await
            .unwrap_or(Err(StoreError::Query(sqlx::Error::WorkerCrashed)))
    }
}

impl Intake {
    /// Jobs of `instance_id` were queued by another path (a bulk send): the
    /// writer counts its waiting jobs again before it next stores some.
    pub(super) fn forget(&self, instance_id: &str) {
        self.bounds.lock().unwrap().remove(instance_id);
    }
}

/// The writer: takes what is waiting (up to [`MAX_BATCH`]) and commits it.
async fn write(store: Store, max_waiting: i64, bounds: Bounds, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // One transaction per instance, in the order the jobs came.
        while !batch.is_empty() {
            let instance_id = batch[0].instance_id.clone();
            let (group, rest): (Vec<Pending>, Vec<Pending>) =
                batch.drain(..).partition(|p| p.instance_id == instance_id);
            batch = rest;
            commit(&store, max_waiting, &bounds, &instance_id, group).await;
        }
    }
}

/// Stores one instance's jobs in one transaction and answers them.
async fn commit(store: &Store, max_waiting: i64, bounds: &Bounds, instance_id: &str, group: Vec<Pending>) {
    let jobs: Vec<NewJob<'_>> = group.iter().map(Pending::job).collect();
    let bound = bounds.lock().unwrap().get(instance_id).copied();
    let stored = store
        .insert_send_batch_within(instance_id, &jobs, max_waiting, bound)
        .await;
    drop(jobs);
    match stored {
        Ok(Some((ids, bound))) => {
            let mut bounds = bounds.lock().unwrap();
            if bounds.len() >= MAX_BOUNDS && !bounds.contains_key(instance_id) {
                bounds.clear();
            }
            bounds.insert(instance_id.to_owned(), bound);
            drop(bounds);
            for (pending, id) in group.into_iter().zip(ids) {
                let _ = pending.reply.send(Ok(Some(id)));
            }
        }
        // Over `max_waiting` as a whole, or failed as a whole (one bad row
        // rolls the others back): each on its own, so those that fit, and
        // those that are fine, are stored, and each gets its own answer.
        _ => {
            bounds.lock().unwrap().remove(instance_id);
            for pending in group {
                let stored = store.insert_send_job(pending.job(), max_waiting).await;
                let _ = pending.reply.send(stored);
            }
        }
    }
}
