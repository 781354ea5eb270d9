//! Where a frame goes: `/ws` (global) or one instance's `/api/listen/{id}`.

use std::fmt;

/// A WebSocket channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `GET /ws`: the admin's view of every instance, message traffic aside.
    Global,
    /// `GET /api/listen/{id}`: one instance's messages, receipts and group events.
    Instance(String),
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Global => f.write_str("/ws"),
            Channel::Instance(id) => write!(f, "/api/listen/{id}"),
        }
    }
}
