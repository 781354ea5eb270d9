//! Send queue job updates: a job of the durable send queue (docs/API.md, "Send queue")
//! changed status, and the statuses a job goes through.

use serde::{Deserialize, Serialize};

/// Where a send queue job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its time and its pace.
    Queued,
    /// Being sent, with its message id committed.
    Sending,
    /// WhatsApp took it.
    Sent,
    /// It reached the recipient's device.
    Delivered,
    /// The recipient saw it.
    Read,
    /// It could not be sent (`failure` says why).
    Failed,
    /// Cancelled before it went.
    Cancelled,
}

impl JobStatus {
    /// Every status, in the order of a job's life.
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Queued,
        JobStatus::Sending,
        JobStatus::Sent,
        JobStatus::Delivered,
        JobStatus::Read,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The status as it appears in JSON (`queued`, `sent`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Sending => "sending",
            JobStatus::Sent => "sent",
            JobStatus::Delivered => "delivered",
            JobStatus::Read => "read",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a status name; `None` for a name this version does not know.
    pub fn parse(text: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A job of the instance's send queue took a new status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueJob {
    /// The job's id, as `POST /api/messages/...` with `"queue": true` answered it.
    pub job_id: i64,
    /// Its new status.
    pub status: JobStatus,
    /// The send route it came from (`text`, `location`, `contact`, ...).
    pub kind: String,
    /// The bulk send it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// The WhatsApp message id, once chosen (from `sending` on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Why it failed (`failed`), or why its last attempt did not go (`queued` again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The recipient, as the request named it (`to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}
