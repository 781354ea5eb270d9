//! Events: what happened to an instance, in one model every output derives from.
//!
//! [`Event`] is published on the [`Bus`]; the global WebSocket, webhooks and
//! plugins subscribe to it. Instance lifecycle events (QR, status, paired,
//! logged out) are complete here; inbound traffic ([`InboundEvent`]) carries
//! the essentials the simulated and real engines produce today and is where
//! the full message model (every message kind, receipts, group events) grows.

mod bus;
mod inbound;

use serde::Serialize;

pub use bus::Bus;
pub use inbound::{GroupAction, InboundEvent, InboundKind, ReceiptType};

/// One event, with the id receivers deduplicate on and the instance it concerns.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Stable and unique: the same event delivered twice carries the same id.
    pub id: String,
    pub instance_id: String,
    /// Unix milliseconds when the event happened.
    pub at_ms: i64,
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// Emitted when a new QR code is ready to be scanned (and at each rotation).
    Qr { qr: String, expires_at_ms: i64 },
    /// Emitted when an instance's status changes.
    StatusChanged { status: String, previous: String },
    /// Emitted when a phone links the instance (by QR or pair code).
    Paired {
        jid: String,
        phone_number: String,
        push_name: Option<String>,
    },
    /// Emitted when the instance is unlinked (logout from the API or from the phone).
    LoggedOut { reason: String },
    /// Emitted for each incoming message, receipt or group event.
    Inbound(InboundEvent),
}

impl EventKind {
    /// The stable snake_case name used by filters and subscriptions.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Qr { .. } => "qr",
            EventKind::StatusChanged { .. } => "instance_status",
            EventKind::Paired { .. } => "instance_paired",
            EventKind::LoggedOut { .. } => "instance_logged_out",
            EventKind::Inbound(inbound) => inbound.kind.name(),
        }
    }
}

impl Event {
    /// A new event about `instance_id`, stamped now with a fresh id.
    pub fn new(instance_id: &str, kind: EventKind) -> Event {
        Event {
            id: new_event_id(),
            instance_id: instance_id.to_owned(),
            at_ms: now_ms(),
            kind,
        }
    }
}

/// A fresh event id: 128 random bits, hex.
pub fn new_event_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
