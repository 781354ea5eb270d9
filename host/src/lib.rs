//! wasap: a self-hosted WhatsApp automation server.
//!
//! The crate is the whole server; `main.rs` only parses the configuration and
//! calls [`run`]. Tests start the server the same way, through [`Server`], so
//! what they exercise is what production runs.

// The crate is an application, documented for the people who work on it: module
// docs name the private pieces a module is made of, and those links are wanted.
#![allow(rustdoc::private_intra_doc_links)]

pub mod admin_token;
mod allocator;
pub mod api;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod engine;
pub mod events;
pub mod front_door;
pub mod instances;
pub mod logging;
pub mod media;
pub mod messaging;
pub mod metrics;
pub mod outbound;
pub mod plugins;
pub mod polls;
pub mod private_fs;
pub mod random;
pub mod rate_limit;
pub mod send_queue;
pub mod server;
pub mod store;
pub mod system_events;
pub mod websocket;
pub mod write_retry;

pub use config::Config;
pub use server::{Server, run};
