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

use super::scheduler::{Lane, MAX_ATTEMPTS, Next, RETRY_MS};
use super::{JobStatus, QueueError, SendQueue, Undelivered, events};
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

/// Sends the jobs of a run until one has to wait or the store fails.
async fn send_each(
    queue: &SendQueue,
    instance_id: &str,
    lane: &Lane,
    dispatch: &dyn super::Dispatch,
    jobs: &mut std::vec::IntoIter<JobRow>,
) -> Result<Next, QueueError> {
    let store = &queue.inner.store;
    let clock = &queue.inner.clock;
    while let Some(job) = jobs.next() {
        let message_id = job.message_id.clone().unwrap_or_default();
        let request: serde_json::Value = serde_json::from_str(&job.request).unwrap_or_default();
        let outcome = chosen_id::sending_as(message_id.clone(), dispatch.send(instance_id, &job.kind, &request)).await;
        let now = clock.now_ms();
        match outcome {
            Ok(sent) => {
                if sent.message_id != message_id {
                    tracing::warn!(instance = %instance_id, job = job.id, chosen = %message_id, sent = %sent.message_id,
                        "a queued message went with another id than the one chosen");
                }
                store.mark_send_job_sent(job.id, now).await?;
                lane.log.lock().unwrap().push(now);
                queue
                    .changed(instance_id, events::update(&job, JobStatus::Sent, None))
                    .await;
            }
            Err(Undelivered::Later(reason)) if job.attempts + 1 < MAX_ATTEMPTS => {
                tracing::info!(instance = %instance_id, job = job.id, %reason, "a queued message will be tried again");
                store
                    .move_send_job(job.id, &["sending"], "queued", None, Some(&reason), now)
                    .await?;
                queue
                    .changed(instance_id, events::update(&job, JobStatus::Queued, Some(&reason)))
                    .await;
                // What follows would meet the same wait: back to the queue,
                // as it was, with no attempt counted.
                let rest: Vec<JobRow> = jobs.by_ref().collect();
                let ids: Vec<i64> = rest.iter().map(|job| job.id).collect();
                store.release_send_jobs(&ids, now).await?;
                for job in &rest {
                    queue
                        .changed(instance_id, events::update(job, JobStatus::Queued, None))
                        .await;
                }
                return Ok(Next::At(now + RETRY_MS));
            }
            Err(Undelivered::Later(reason) | Undelivered::Never(reason)) => {
                store
                    .move_send_job(job.id, &["sending"], "failed", None, Some(&reason), now)
                    .await?;
                queue
                    .changed(instance_id, events::update(&job, JobStatus::Failed, Some(&reason)))
                    .await;
            }
        }
    }
    Ok(Next::Again)
}
