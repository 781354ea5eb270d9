//! Logging into the host's log, tagged with the plugin's name (capability `log`).
//!
//! Use the macros [`trace!`](crate::trace), [`debug!`](crate::debug), [`info!`](crate::info),
//! [`warn!`](crate::warn) and [`error!`](crate::error), which take `format!` arguments. In
//! native tests lines go to standard error and to [`crate::testing::logs`].

/// How much a log line matters.
pub use crate::bindings::wasap::plugin::log::Level;

/// Writes one log line at `level`.
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub use crate::bindings::wasap::plugin::log::log;
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::testing::log::log;
}

/// Logs at `trace` level: `trace!("saw {}", id)`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+)) };
}

/// Logs at `debug` level: `debug!("saw {}", id)`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+)) };
}

/// Logs at `info` level: `info!("replied to {}", chat)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+)) };
}

/// Logs at `warn` level: `warn!("rule {} ignored", n)`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+)) };
}

/// Logs at `error` level: `error!("kv failed: {}", err)`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+)) };
}
