//! Jobs a crash left `sending`: their message id was committed before the
//! send, so each is either in the record of sent messages (WhatsApp took it:
//! it is marked `sent`) or goes back to `queued` with the same id, and the
//! scheduler sends it again as the same message, which WhatsApp takes once.

use super::scheduler::Lane;
use super::{JobStatus, SendQueue};

/// Settles the instance's `sending` jobs before its scheduler sends anything.
pub(super) async fn recover(queue: &SendQueue, instance_id: &str, lane: &Lane) {
    let store = &queue.inner.store;
    let jobs = match store.sending_send_jobs(instance_id).await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(instance = %instance_id, error = %e, "jobs left sending could not be read");
            return;
        }
    };
    for job in jobs {
        let Some(message_id) = job.message_id.as_deref() else {
            continue;
        };
        let now = queue.inner.clock.now_ms();
        // Unknown counts as not sent: the resend carries the same id, which
        // WhatsApp takes as the same message.
        let sent = store.was_sent(instance_id, message_id).await.unwrap_or_else(|e| {
            tracing::warn!(instance = %instance_id, job = job.id, error = %e,
                "could not tell whether a job left sending went; it goes again with the same id");
            false
        });
        let (to, status) = if sent {
            ("sent", JobStatus::Sent)
        } else {
            ("queued", JobStatus::Queued)
        };
        let sent_at = sent.then_some(job.updated_at);
        match store.move_send_job(job.id, &["sending"], to, sent_at, None, now).await {
            Ok(_) => {
                tracing::info!(instance = %instance_id, job = job.id, %message_id, status = to,
                    "a job left sending by a stop is settled");
                if sent {
                    lane.log.lock().unwrap().push(job.updated_at);
                }
                queue
                    .changed(instance_id, super::events::update(&job, status, None))
                    .await;
            }
            Err(e) => {
                tracing::warn!(instance = %instance_id, job = job.id, error = %e, "a job left sending could not be settled")
            }
        }
    }
}
