//! The threads plugins run on: a runtime of their own, apart from the one
//! that serves the API.
//!
//! A plugin's wasm yields every epoch tick (see [`super::runner`]), so it
//! never holds a thread for long; but a plugin spinning at its ceiling still
//! keeps a thread busy, tick after tick. On the API's runtime, every request
//! woken meanwhile would wait in the queue behind it. Here, the API's threads
//! stay free: the operating system shares the cores between the busy plugin
//! threads and the API threads that wake, and a request waits for no plugin.
//!
//! The chain hands each batch of events over ([`run`]); everything its
//! plugin calls do runs here, their host imports (the key-value store, HTTP)
//! included. Loading a plugin (its `init`) runs where it is asked for, off
//! the event path.

use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};
use tracing::Instrument;

/// The process's plugin runtime, started on first use (one for every server
/// of the process, like the engine). It lives as long as the process.
fn runtime() -> &'static Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("wasap-plugin")
                .enable_all()
                .build()
                .expect("the plugin runtime's threads start")
        })
        .handle()
}

/// Runs `work` on the plugin runtime, in the caller's span, and waits for
/// it. The chain hands over a whole batch of events at once: every hand-over
/// wakes a parked thread on each side, which cost more than the calls of the
/// built-in outputs themselves when it was done per call.
pub async fn run<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    runtime().spawn(work.in_current_span()).await
}
