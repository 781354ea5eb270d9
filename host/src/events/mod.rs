//! Events: what happened to an instance, in one model every output derives from.
//!
//! The model itself lives in the `wasap-events` crate (shared with the
//! built-in wasm plugins, which format payloads from it too) and is re-exported
//! here. This module adds what only the host needs: the in-process [`Bus`]
//! every event is published on, and stamping new events with an id and a time.

mod bus;
pub mod from_whatsapp;

pub use bus::{Bus, EventFeed};
pub use wasap_events::{
    Content, DisappearingMode, Ephemeral, Event, EventKind, GroupAction, GroupParticipants, InstanceStatus, Media,
    Message, Quoted, Receipt, ReceiptType, gowa, sudevwa,
};

/// A new event about `instance_id`, stamped now with a fresh id.
pub fn new_event(instance_id: &str, kind: EventKind) -> Event {
    Event {
        id: new_event_id(),
        instance_id: instance_id.to_owned(),
        at_us: now_us(),
        kind,
    }
}

/// A fresh event id: 128 random bits, hex.
pub fn new_event_id() -> String {
    crate::random::hex(16)
}

/// Unix microseconds now.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    now_us() / 1000
}
