//! A message id chosen before the send: the send queue commits the id a job
//! will go with, then sends with it, so a send repeated after a crash carries
//! the same id (which WhatsApp, and the simulated network, take once).
//!
//! The id rides in a task-local around the Messenger's send rather than as a
//! field of every outgoing kind: the queue runs the very code a direct send
//! runs, and the engines read the id where they make one up.

use std::future::Future;

tokio::task_local! {
    static CHOSEN: String;
}

/// Runs `send` with `message_id` as the id of the message it sends.
pub async fn sending_as<F: Future>(message_id: String, send: F) -> F::Output {
    CHOSEN.scope(message_id, send).await
}

/// The id chosen for the message being sent, if one was.
pub fn chosen() -> Option<String> {
    CHOSEN.try_with(Clone::clone).ok()
}

/// The chosen id, or a new one from `new`.
pub fn or_new(new: impl FnOnce() -> String) -> String {
    chosen().unwrap_or_else(new)
}

/// A new message id in WhatsApp's form (`3EB0` and 16 hex digits), as the
/// queue chooses it.
pub fn new_id() -> String {
    use rand::Rng;
    format!("3EB0{:016X}", rand::rng().random::<u64>())
}
