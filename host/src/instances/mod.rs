//! Instances: many WhatsApp numbers in one process, each with a life of its own.
//!
//! [`InstanceManager`] creates, lists and deletes instances and routes
//! requests to them; each instance is driven by its own supervisor task
//! (`supervisor.rs`), which owns the connection, the status machine
//! (`status.rs`), reconnects with backoff (`backoff.rs`) and the presence
//! heartbeat. A failing or panicking instance never touches another one: each
//! supervisor runs in its own task and is restarted from the database if it
//! panics. Inbound traffic does not pass the supervisor: sessions hand it to
//! the instance's inbound pipeline (`inbound/`), which journals it before
//! WhatsApp's ack and takes it to the plugin chain.
//! An instance with auto-read on marks what comes in read once it is
//! journalled (`auto_read.rs`). Beyond its status, an instance shows a
//! temporary ban and its last connection error (`health.rs`), and its
//! activity counters (`activity.rs`). A supervisor reconnects a deaf
//! connection and announces a long outage (`watchdog.rs`). An instance with
//! `reject_calls` on rejects calls once journalled (`call_reject.rs`).

mod activity;
pub mod address_book;
mod auto_read;
mod backoff;
mod call_reject;
mod health;
pub mod inbound;
mod manager;
mod shared;
mod status;
mod supervisor;
pub mod token;
mod watchdog;

use std::time::Duration;

use serde::Serialize;

pub use activity::{InstanceStats, render_metrics};
pub use call_reject::RejectCalls;
pub use health::{Ban, ConnectionError, Health};
pub use inbound::{Inbound, InboundStats, Progress};
pub use manager::{CreatedInstance, InstanceInfo, InstanceManager};
pub use status::Status;

use crate::engine::EngineError;
use crate::media::MediaLimits;
use crate::store::StoreError;

/// Timings of the instance lifecycle (from the configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often an online instance announces itself available.
    pub presence_interval: Duration,
    /// First reconnect delay after a drop; doubles up to `reconnect_max`.
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// How long `GET /qr` waits for the first QR code of a new pairing.
    pub qr_wait: Duration,
    /// Size limits of incoming media files.
    pub media_limits: MediaLimits,
    /// An online connection that has heard nothing from WhatsApp for this
    /// long is reconnected (`WASAP_WATCHDOG_SECS`); `None`: never.
    pub watchdog: Option<Duration>,
    /// A linked instance without a connection for this long is announced
    /// with an `instance_offline` event (`WASAP_OFFLINE_ALERT_SECS`); `None`: never.
    pub offline_alert: Option<Duration>,
}

/// A QR code to scan, with its expiry.
#[derive(Debug, Clone, Serialize)]
pub struct QrCode {
    pub code: String,
    /// Unix milliseconds after which WhatsApp rotates it.
    pub expires_at_ms: i64,
}

/// Why an instance request failed.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("no such instance")]
    NotFound,
    #[error("an instance with this id already exists")]
    AlreadyExists,
    #[error("invalid instance id: use 1 to 64 of A-Z, a-z, 0-9, _ and -")]
    InvalidId,
    #[error("the instance is already online")]
    AlreadyOnline,
    #[error("the instance is linked to a phone and reconnecting; log out first to pair again")]
    Linked,
    #[error("the instance is not linked to a phone")]
    NotLinked,
    #[error("the instance is not connected")]
    NotConnected,
    #[error("timed out waiting for WhatsApp")]
    Timeout,
    #[error("the instance is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
