//! What a job is to the API: its statuses, the view of a stored row the
//! queue routes answer with, and the queueing fields a send route accepts
//! (`queue`, `send_at`).

use serde::Serialize;

use crate::store::send_jobs::JobRow;

/// Where a job is in its life: defined with the job status events, in the
/// event model (`wasap_events`), so the API and the events say it alike.
pub use wasap_events::JobStatus;

/// A job as the queue routes answer it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Job {
    pub job_id: i64,
    pub instance_id: String,
    pub status: JobStatus,
    /// The send route it came from: `text`, `location`, `contact`,
    /// `media_url`, `poll`.
    pub kind: String,
    /// The send's body, as the route took it.
    pub request: serde_json::Value,
    /// When the client asked it to go (RFC 3339), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_at: Option<String>,
    /// When it became (or becomes) due, before pacing.
    pub due_at: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// The WhatsApp message id, once chosen (status `sending` and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// Send attempts made.
    pub attempts: i64,
}

impl From<JobRow> for Job {
    fn from(row: JobRow) -> Job {
        use crate::clock::rfc3339_ms;
        Job {
            job_id: row.id,
            instance_id: row.instance_id,
            status: JobStatus::parse(&row.status).unwrap_or(JobStatus::Failed),
            kind: row.kind,
            request: serde_json::from_str(&row.request).unwrap_or(serde_json::Value::Null),
            send_at: row.send_at.map(rfc3339_ms),
            due_at: rfc3339_ms(row.due_at),
            created_at: rfc3339_ms(row.created_at),
            updated_at: rfc3339_ms(row.updated_at),
            sent_at: row.sent_at.map(rfc3339_ms),
            message_id: row.message_id,
            failure: row.failure,
            batch_id: row.batch_id,
            attempts: row.attempts,
        }
    }
}

/// The answer to a queued send: 202 with this.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Queued {
    pub job_id: i64,
    pub status: JobStatus,
    /// When it may go at the earliest (RFC 3339); pacing may hold it longer.
    pub send_at: String,
}

/// Why a `send_at` was refused.
#[derive(Debug, thiserror::Error)]
pub enum SendAtError {
    #[error("send_at {0} is not an RFC 3339 time (e.g. 2026-12-03T15:00:00Z)")]
    Malformed(String),
    #[error("send_at is more than {0} days ahead")]
    TooFar(i64),
}

/// The furthest ahead a send may be scheduled.
pub const MAX_SCHEDULE_DAYS: i64 = 366;

/// `send_at` as unix ms: a past time means "as soon as may be".
pub fn parse_send_at(text: &str, now_ms: i64) -> Result<i64, SendAtError> {
    let at = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| SendAtError::Malformed(text.to_owned()))?
        .timestamp_millis();
    if at - now_ms > MAX_SCHEDULE_DAYS * 24 * 3600 * 1000 {
        return Err(SendAtError::TooFar(MAX_SCHEDULE_DAYS));
    }
    Ok(at)
}
