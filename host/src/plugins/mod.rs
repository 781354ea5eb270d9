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
//! - [`workers`]: the plugin host, and per-instance workers that feed the chain.
//! - [`actions`]: what the workers do with the actions plugins ask for.
//! - [`watch`]: hot reload of changed plugin files.
//! - [`trial`]: `wasap plugin run`, a plugin on fixture events, for authors.
//! - [`state`], [`access`]: the host side of the imports.

mod access;
pub mod actions;
pub mod bindings;
pub mod builtin;
pub mod chain;
mod compiled;
mod convert;
pub mod engine;
pub mod loader;
mod memory_limit;
pub mod registry;
pub mod runner;
mod state;
mod stats;
pub mod trial;
mod watch;
pub mod workers;

pub use actions::ActionOutputs;
pub use engine::{PluginEngine, PluginEngineError, PoolSizes};
pub use registry::{PluginInfo, Registry, RegistryError};
pub use runner::HostServices;
pub use workers::{PluginHost, PluginSources};
