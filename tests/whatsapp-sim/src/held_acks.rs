//! The server's acks of a client's messages, held back on purpose
//! ([`Simulator::hold_message_acks`](crate::Simulator::hold_message_acks)):
//! a message sent while its connection's acks are held is taken as usual
//! (routed, decrypted by a simulated recipient, its id remembered by
//! `dedupe.rs`) but the client hears nothing until the hold is released. A
//! client that waits for the ack before it counts a message as sent is then
//! caught in the window between WhatsApp taking the message and the client
//! learning it did; killed there, it must not send the message twice.
//!
//! A hold belongs to the connections open when it was set: a connection that
//! closes takes its held acks with it (never sent, as to a client that died),
//! and a new connection of the account is not held.

use wacore_binary::Node;

use crate::state::World;

/// Sends `ack` on `conn`, or keeps it while the connection's acks are held.
pub fn ack_or_hold(world: &mut World, conn: u64, ack: Node) {
    match world.conns.get_mut(&conn).and_then(|c| c.held_acks.as_mut()) {
        Some(held) => held.push(ack),
        None => world.send(conn, ack),
    }
}

/// Holds (`hold`) or releases the message acks of every open connection of
/// account `user`; how many acks were held when it was called (sent now
/// when releasing).
pub fn hold(world: &mut World, user: &str, hold: bool) -> usize {
    let mut held = 0;
    let mut released = Vec::new();
    let of_user = world
        .conns
        .iter_mut()
        .filter(|(_, c)| c.device.as_ref().is_some_and(|(u, _)| u == user));
    for (id, conn) in of_user {
        if hold {
            held += conn.held_acks.get_or_insert_with(Vec::new).len();
        } else if let Some(acks) = conn.held_acks.take() {
            held += acks.len();
            released.push((*id, acks));
        }
    }
    for (id, acks) in released {
        for ack in acks {
            world.send(id, ack);
        }
    }
    held
}

/// How many message acks the open connections of account `user` hold now.
pub fn held(world: &World, user: &str) -> usize {
    world
        .conns
        .values()
        .filter(|c| c.device.as_ref().is_some_and(|(u, _)| u == user))
        .filter_map(|c| c.held_acks.as_ref())
        .map(Vec::len)
        .sum()
}
