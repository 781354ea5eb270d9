//! The WebSocket hub: who listens on `/ws` and `/api/listen/{id}`, and how a
//! frame reaches them.
//!
//! - [`channel`]: the two kinds of channel, global and per instance.
//! - [`hub`]: connections registered per channel, fan-out of one shared frame,
//!   shutdown.
//! - [`caps`]: the connection caps: in all, per instance, and the places
//!   kept for the admin token.
//! - [`connection`]: one socket's life: its bounded queue, pings, the idle
//!   timeout, and the close frame that says why it ended.
//! - [`plugin_errors`]: `plugin.error` frames, taken from the event bus.
//! - [`replay`]: what a client connecting with `?after=<cursor>` missed,
//!   from the inbound journal, before the live frames.
//! - [`stats`]: frames sent and connections closed, by route, for `/metrics`.
//!
//! Frames come from the built-in websocket plugin's `publish` actions (carried
//! out by the plugin host), from [`plugin_errors`] and from
//! `crate::system_events`; the routes are in `api::websockets`.

pub mod caps;
pub mod channel;
pub mod connection;
pub mod hub;
pub mod plugin_errors;
pub mod replay;
pub mod stats;

pub use caps::Opener;
pub use channel::Channel;
pub use hub::{Frame, Hub, HubSettings, RegisterError, Subscription};
pub use replay::Replay;
