//! What a plugin's store holds, and the host side of the imports: `log`,
//! `kv`, `clock` and `http`. Each import is linked only when the plugin's
//! manifest grants it (see [`super::loader`]), so these functions only ever
//! run for plugins that were allowed to call them.

use std::sync::Arc;
use std::time::Instant;

use super::bindings::wasap::plugin::{clock, http, kv, log, types};
use super::memory_limit::MemoryLimit;

/// At most this many log lines per event; more are dropped, and counted.
const MAX_LOG_LINES_PER_CALL: u32 = 100;
/// Log lines are cut at this many bytes.
const MAX_LOG_LINE_BYTES: usize = 2048;

/// The per-store state of one plugin instance.
pub struct PluginState {
    /// The plugin's name, for logs and key scoping.
    pub name: Arc<str>,
    /// Memory and instance limits, enforced by wasmtime through the limiter.
    pub limits: MemoryLimit,
    /// When the current call (or `init`) must have ended: the epoch callback
    /// lets the plugin run, yielding every tick, until then.
    pub call_deadline: Instant,
    /// Log lines written during the current call.
    pub log_lines: u32,
    /// Access to the plugin's key-value store, when granted.
    pub kv: Option<super::access::KvAccess>,
    /// Outbound HTTP, when granted.
    pub http: Option<super::access::HttpAccess>,
}

impl PluginState {
    /// Resets what is counted per call.
    pub fn begin_call(&mut self) {
        self.log_lines = 0;
        self.limits.reset();
    }
}

impl types::Host for PluginState {}

impl log::Host for PluginState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES_PER_CALL {
            if self.log_lines == MAX_LOG_LINES_PER_CALL + 1 {
                tracing::warn!(plugin = %self.name, "the plugin logs too much; its further lines for this event are dropped");
            }
            return Ok(());
        }
        // Cut first, so the work is bounded; an escape cut in two is removed whole.
        let message = super::log_line::sanitize(truncate(&message, MAX_LOG_LINE_BYTES));
        let plugin = &*self.name;
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl clock::Host for PluginState {
    async fn now(&mut self) -> wasmtime::Result<i64> {
        Ok(crate::clock::now_us())
    }
}

impl kv::Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::Error>> {
        Ok(self.kv()?.get(&key).await)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), kv::Error>> {
        Ok(self.kv()?.set(&key, value).await)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), kv::Error>> {
        Ok(self.kv()?.delete(&key).await)
    }

    async fn list_keys(&mut self, prefix: String, limit: u32) -> wasmtime::Result<Result<Vec<String>, kv::Error>> {
        Ok(self.kv()?.list_keys(&prefix, limit).await)
    }
}

impl http::Host for PluginState {
    async fn fetch(&mut self, request: http::Request) -> wasmtime::Result<Result<http::Response, http::Error>> {
        let Some(access) = &self.http else {
            wasmtime::bail!("http is not granted to this plugin");
        };
        Ok(access.fetch(request).await)
    }
}

impl PluginState {
    fn kv(&self) -> wasmtime::Result<&super::access::KvAccess> {
        self.kv
            .as_ref()
            .ok_or_else(|| wasmtime::format_err!("kv is not granted to this plugin"))
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
