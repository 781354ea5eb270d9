//! wasap-events: the canonical event model, and the payload formats derived from it.
//!
//! - [`model`]: [`Event`] and everything it can carry, defined once.
//! - [`sudevwa`]: the `{"event", "timestamp", "data"}` envelope of WebSocket frames and
//!   per-instance webhooks (source document 000, `docs/seeds/000_48d941547274bad6.txt`).
//! - [`gowa`]: the global webhook payloads (source document 003, `docs/seeds/003_240af2c9c9654f11.txt`).
//! - [`Format`]: the two formats by name (`sudevwa`, `gowa`), as webhooks are configured.
//! - [`wit_conversions!`]: to and from the types WIT bindings generate, for plugins and the host.
//!
//! Formats are pure functions of an event: no clock, no I/O, no randomness, so the host and
//! the built-in wasm plugins produce byte-identical payloads from the same event.

pub mod format;
pub mod gowa;
pub mod jid;
pub mod model;
pub mod sudevwa;
pub mod time;
mod wit_conversions;

pub use format::{Format, UnknownFormat};
pub use model::{
    Call, ChatState, ChatStateChange, Content, DisappearingMode, Ephemeral, Event, EventKind, GroupAction,
    GroupParticipants, GroupUpdate, GroupUpdateKind, InstanceStatus, JobStatus, Media, Message, ParticipantIds,
    PollTotal, PollVote, QueueJob, Quoted, Receipt, ReceiptType, Undecryptable,
};
pub use wit_conversions::KindNotInVersion;
