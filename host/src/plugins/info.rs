//! How the management routes see the installed plugins ([`PluginInfo`]),
//! what the registry keeps per plugin, and why a management request fails.

use std::sync::Arc;

use serde::Serialize;

use super::loader::LoadError;
use super::runner::RunningPlugin;
use super::stats::StatsSnapshot;

/// One installed plugin.
pub(super) struct Entry {
    pub(super) running: Option<Arc<RunningPlugin>>,
    pub(super) enabled: bool,
    /// Why the newest files did not load (the running version, if any, stays).
    pub(super) load_error: Option<String>,
    /// Comes from the binary, not from the directory.
    pub(super) builtin: bool,
}

/// A plugin as the management routes show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PluginInfo {
    pub name: String,
    pub version: Option<String>,
    /// The version of `wasap:plugin` (the WIT) the running component was built
    /// against, e.g. `0.3.0`.
    pub wit: Option<String>,
    /// Ships inside the server (the WebSocket and webhook outputs): it can be
    /// disabled, but not deleted or replaced.
    pub builtin: bool,
    pub enabled: bool,
    /// Loaded and in the chain (enabled, not quarantined).
    pub running: bool,
    pub quarantined: bool,
    /// Event kinds it subscribes to.
    pub events: Vec<String>,
    pub order: Option<i32>,
    /// Hex SHA-256 of the running component.
    pub digest: Option<String>,
    pub load_error: Option<String>,
    /// How often its files were loaded since the server started (start-up,
    /// uploads, changed files; files that did not change are not loaded again).
    pub loads: u64,
    pub stats: Option<StatsSnapshot>,
}

/// Why a management request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no plugin named {0:?}")]
    NotFound(String),
    #[error("{0:?} is a built-in plugin: it cannot be deleted or replaced (disable it instead)")]
    Builtin(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the plugins directory cannot be written: {0}")]
    Io(#[from] std::io::Error),
}

pub(super) fn info(name: &str, entry: &Entry, loads: u64) -> PluginInfo {
    let running = entry.running.as_ref();
    let manifest = running.map(|r| &r.loaded.manifest);
    PluginInfo {
        name: name.to_owned(),
        version: manifest.map(|m| m.version.clone()),
        wit: running.map(|r| r.loaded.world_version().as_str().to_owned()),
        builtin: entry.builtin,
        enabled: entry.enabled,
        running: entry.enabled && running.is_some_and(|r| !r.is_quarantined()),
        quarantined: running.is_some_and(|r| r.is_quarantined()),
        events: manifest.map(|m| m.events.clone()).unwrap_or_default(),
        order: manifest.map(|m| m.order),
        digest: running.map(|r| r.loaded.digest.clone()),
        load_error: entry.load_error.clone(),
        loads,
        stats: running.map(|r| r.stats.snapshot()),
    }
}
