//! The WebAssembly plugin host: every inbound event passes through the
//! enabled plugins of `WASAP_PLUGINS_DIR` before the outputs see it.
//!
//! - [`bindings`]: the WIT contract, the only `bindgen!`.
//! - [`engine`]: the wasmtime engine, its pooling allocator and epoch ticker.
//! - [`loader`]: manifest + component → a linked plugin with only the granted imports.
//! - [`runner`]: calls under fuel, deadline and memory limits, live instances reused.
//! - [`chain`]: verdicts, replacements, failure policies, quarantine, action checks.
//! - [`registry`]: the installed plugins, enable/disable/install/delete, reloads.
//! - [`builtin`]: the outputs compiled into the binary, loaded like the others.
//! - [`host`]: per-instance workers that feed the chain and carry out actions.
//! - [`watch`]: hot reload of changed plugin files.
//! - [`trial`]: `wasap plugin run`, a plugin on fixture events, for authors.
//! - [`state`], [`access`]: the host side of the imports.

mod access;
pub mod bindings;
pub mod builtin;
pub mod chain;
mod convert;
pub mod engine;
pub mod host;
pub mod loader;
pub mod registry;
pub mod runner;
mod state;
mod stats;
pub mod trial;
mod watch;

pub use engine::{PluginEngine, PoolSizes};
pub use host::{PluginHost, PluginSources};
pub use registry::{PluginInfo, Registry, RegistryError};
pub use runner::HostServices;
