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
    Call, ChatState, ChatStateChange, Content, DisappearingMode, Ephemeral, Event, EventKind, GroupAction,
    GroupParticipants, GroupUpdate, GroupUpdateKind, InstanceStatus, JobStatus, Media, Message, ParticipantIds,
    PollTotal, PollVote, QueueJob, Quoted, Receipt, ReceiptType, Undecryptable, gowa, sudevwa,
};

/// A new event about `instance_id`, stamped now with a fresh id.
pub fn new_event(instance_id: &str, kind: EventKind) -> Event {
    Event {
        id: new_event_id(),
        instance_id: instance_id.to_owned(),
        at_us: crate::clock::now_us(),
        kind,
    }
}

/// A fresh event id: 128 random bits, hex.
pub fn new_event_id() -> String {
    crate::random::hex(16)
}
