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
//! The chain hands each call over ([`call`]); everything a call does runs
//! here, its host imports (the key-value store, HTTP) included. Loading a
//! plugin (its `init`) runs where it is asked for, off the event path.

use std::sync::{Arc, OnceLock};

use tokio::runtime::{Handle, Runtime};
use tracing::Instrument;

use super::bindings::types;
use super::runner::{Failure, RunningPlugin};

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

/// Runs `plugin` on `event` on the plugin runtime, in the caller's span; what
/// [`RunningPlugin::handle`] answers.
pub async fn call(plugin: &Arc<RunningPlugin>, event: &types::Event) -> Result<(types::Outcome, u64), (Failure, u32)> {
    let (plugin, event) = (plugin.clone(), event.clone());
    let call = async move { plugin.handle(&event).await };
    match runtime().spawn(call.in_current_span()).await {
        Ok(answer) => answer,
        Err(e) => Err((Failure::Trap(format!("the plugin's call ended abnormally: {e}")), 0)),
    }
}
