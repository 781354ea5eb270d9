//! The WebAssembly plugin host: every inbound event passes through the
//! enabled plugins of `WASAP_PLUGINS_DIR` before the outputs see it.
//!
//! - [`bindings`]: the WIT contract, the only `bindgen!`s: the current
//!   `wasap:plugin@0.3.0` and the released 0.2.0 and 0.1.0.
//! - [`world`]: which version a component was built against, and one face
//!   over every version's bindings; [`imports_previous`] serves the released
//!   versions' imports with the current implementations.
//! - [`engine`]: the wasmtime engine, its pooling allocator and epoch ticker.
//! - [`loader`]: manifest + component → a linked plugin with only the granted imports.
//! - [`runner`]: calls under fuel, deadline and memory limits, yielding to the
//!   runtime at every epoch tick, live instances reused.
//! - [`runtime`]: the threads plugin calls run on, apart from the API's.
//! - [`ceilings`]: the server's ceilings on manifests' limits.
//! - [`chain`]: verdicts, replacements, failure policies, quarantine, action checks.
//! - [`registry`]: the installed plugins, enable/disable/install/delete, reloads;
//!   [`info`]: how the routes see them.
//! - [`artifacts`]: the compiled-artifact cache, written after success and collected.
//! - [`alerts`]: reload counters, and alerts about failing built-in outputs.
//! - [`builtin`]: the outputs compiled into the binary, loaded like the others.
//! - [`workers`]: the plugin host, and per-instance workers that feed the chain.
//! - [`actions`]: what the workers do with the actions plugins ask for;
//!   [`moderation`] the moderation ones (groups, blocking, calls),
//!   [`queueing`] the sends they put in the send queue.
//! - [`watch`]: hot reload of changed plugin files.
//! - [`trial`]: `wasap plugin run`, a plugin on fixture events, for authors.
//! - [`state`], [`access`], [`log_line`]: the host side of the imports.

mod access;
pub mod actions;
mod alerts;
pub mod artifacts;
pub mod bindings;
pub mod builtin;
pub mod ceilings;
pub mod chain;
mod compiled;
mod convert;
pub mod engine;
mod epoch;
mod imports_previous;
mod info;
pub mod loader;
mod log_line;
mod memory_limit;
mod moderation;
mod queueing;
pub mod registry;
pub mod runner;
mod runtime;
mod state;
mod stats;
pub mod trial;
mod watch;
pub mod workers;
pub mod world;

pub use actions::ActionOutputs;
pub use ceilings::PluginSettings;
pub use engine::{PluginEngine, PluginEngineError, PoolSizes};
pub use info::{PluginInfo, RegistryError};
pub use registry::Registry;
pub use runner::HostServices;
pub use workers::{HandledEvents, PluginHost, PluginSources};
