//! The simulator's tests, in one binary: the unmodified whatsapp-rust client
//! (built with `danger-skip-cert-chain-verify`, through wasap's
//! `test-whatsapp-server`; see Cargo.toml) paired with, logged into and
//! messaging through the simulator, and the standalone control API.

mod control;
mod groups;
mod held_acks;
mod lifecycle;
mod media;
mod messaging;
mod pairing;
mod support;
