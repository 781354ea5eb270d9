//! The scheduler's path when nothing paces an instance (no rate limit, no
//! gap, no typing, no quiet hours): the jobs already due go as one run.
//!
//! The three steps of a job stay as in [`super::scheduler`], and in the same
//! order, but the first is taken for the whole run at once: every job of the
//! run is marked `sending` with its message id in one transaction (one
//! commit instead of one per job), then the jobs are sent one after another,
//! in queue order, each marked `sent` as it goes. A crash anywhere leaves
//! jobs `sending` with their ids, which recovery settles as it does a single
//! one. When a job has to wait (the instance offline), the rest of the run,
//! not yet tried, goes back to `queued` uncounted.

use super::scheduler::{Lane, Next, RETRY_MS, Settled, send_and_settle};
use super::{JobStatus, QueueError, SendQueue, events};
use crate::engine::chosen_id;
use crate::store::send_jobs::JobRow;

/// The most jobs one run takes: bounds the rows read at once and how long
/// a cancel may find a job already `sending`.
pub(super) const MAX_RUN: i64 = 64;

/// Sends `jobs`, due and in queue order, as one run.
pub(super) async fn send(
    queue: &SendQueue,
    instance_id: &str,
    lane: &Lane,
    jobs: Vec<JobRow>,
) -> Result<Next, QueueError> {
    let Some(dispatch) = queue.dispatch() else {
        return Ok(Next::Idle);
    };
    let store = &queue.inner.store;
    let clock = &queue.inner.clock;
    // A job sent before keeps its id: a repeat is the same message.
    let ids: Vec<String> = jobs
        .iter()
        .map(|job| job.message_id.clone().unwrap_or_else(chosen_id::new_id))
        .collect();
    let marks: Vec<(i64, &str)> = jobs.iter().zip(&ids).map(|(job, id)| (job.id, id.as_str())).collect();
    let marked = store.mark_send_jobs_sending(&marks, clock.now_ms()).await?;
    // Those no longer queued were cancelled meanwhile.
    let run: Vec<JobRow> = jobs
        .into_iter()
        .zip(ids)
        .zip(marked)
        .filter(|(_, marked)| *marked)
        .map(|((job, message_id), _)| JobRow {
            message_id: Some(message_id),
            ..job
        })
        .collect();
    for job in &run {
        queue
            .changed(instance_id, events::update(job, JobStatus::Sending, None))
            .await;
    }
    let mut jobs = run.into_iter();
    let went = send_each(queue, instance_id, lane, &*dispatch, &mut jobs).await;
    if went.is_err() {
        // A store error stops the run: what it did not try goes back to the
        // queue (the job it failed on stays `sending`, for recovery).
        let untried: Vec<i64> = jobs.map(|job| job.id).collect();
        if let Err(e) = store.release_send_jobs(&untried, clock.now_ms()).await {
            tracing::warn!(instance = %instance_id, jobs = untried.len(), error = %e,
                "jobs of a run cut short stay sending until the next start");
        }
    }
    went
}

/// Sends the jobs of a run, each through [`send_and_settle`], until one has
/// to wait or the store fails.
async fn send_each(
    queue: &SendQueue,
    instance_id: &str,
    lane: &Lane,
    dispatch: &dyn super::Dispatch,
    jobs: &mut std::vec::IntoIter<JobRow>,
) -> Result<Next, QueueError> {
    while let Some(job) = jobs.next() {
        if let Settled::Later(now) = send_and_settle(queue, instance_id, lane, dispatch, &job).await? {
            // What follows would meet the same wait: back to the queue,
            // as it was, with no attempt counted.
            let rest: Vec<JobRow> = jobs.by_ref().collect();
            let ids: Vec<i64> = rest.iter().map(|job| job.id).collect();
            queue.inner.store.release_send_jobs(&ids, now).await?;
            for job in &rest {
                queue
                    .changed(instance_id, events::update(job, JobStatus::Queued, None))
                    .await;
            }
            return Ok(Next::At(now + RETRY_MS));
        }
    }
    Ok(Next::Again)
}
