//! The simulated WhatsApp network (`--engine sim`).
//!
//! No WhatsApp server is contacted: [`SimNetwork`] plays the phones, the
//! contacts and the WhatsApp servers, and the `/sim/` control routes drive it
//! (scan a QR, deliver a message, drop a connection, unlink from the phone).
//! Pairing is persisted in the instance's device store exactly where the real
//! engine keeps it, so restarts, logouts and wipes behave the same way above
//! this module. Inbound traffic is acknowledged as on the real engine: once
//! the instance's journal has it; until then the simulated server keeps it
//! (`offline.rs`) and delivers it again on the next connection.

mod actions;
mod address_book;
mod calls;
mod delivery;
mod engine;
mod group_admin;
mod groups;
mod held_sends;
mod incoming;
mod lids;
mod network;
mod offline;
mod outbox;
mod pairing;
mod polls;
mod profiles;
mod requests;
mod sends;
mod sent_log;
mod sent_records;
mod session;

pub use address_book::{MAX_SYNCED_CONTACTS, SavedContact};
pub use calls::CallEnd;
pub use engine::SimEngine;
pub use groups::{MAX_GROUP_MEMBERS, SimGroup, SimGroupState};
pub use held_sends::HoldState;
pub use incoming::{KINDS, SimIncoming, new_message_id};
pub use network::{SentContact, SentLinkPreview, SentLocation, SentRecord, SimContact, SimDrop, SimError, SimNetwork};
pub use polls::SentPoll;
pub use profiles::SimAccount;
