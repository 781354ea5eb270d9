//! The installed plugins: what is in the plugins directory, which are
//! enabled, which failed to load and why, and the chain built from them.
//!
//! A plugin is `NAME.toml` + `NAME.wasm` in the directory; `NAME.disabled`
//! beside them keeps it out of the chain across restarts. Loading compiles
//! off the async runtime and instantiates once (running `init`) before the
//! plugin joins the chain; a plugin that fails to load keeps the version that
//! was running, if any.
//!
//! The built-in plugins ([`super::builtin`]) come from the binary, through the
//! same loader and artifact cache. They are enabled and disabled like the
//! others (`NAME.disabled` in the directory), but their names are theirs: they
//! cannot be deleted or replaced, and files in the directory under one of their
//! names are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::builtin::{self, Builtin};
use super::chain::Chain;
use super::engine::PluginEngine;
use super::loader::{self, LoadError, PluginFiles};
use super::runner::{HostServices, RunningPlugin};
use super::stats::StatsSnapshot;
use crate::events::{EventKind, new_event};
use crate::system_events::{SystemEvents, SystemNotice};

/// One installed plugin.
struct Entry {
    running: Option<Arc<RunningPlugin>>,
    enabled: bool,
    /// Why the newest files did not load (the running version, if any, stays).
    load_error: Option<String>,
    /// Comes from the binary, not from the directory.
    builtin: bool,
}

/// A plugin as the management routes show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PluginInfo {
    pub name: String,
    pub version: Option<String>,
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

pub struct Registry {
    engine: Arc<PluginEngine>,
    /// Where load failures (`plugin_error`) and changes of the installed
    /// plugins (`system`) are reported, server-wide.
    system: SystemEvents,
    dir: PathBuf,
    cache_dir: PathBuf,
    services: HostServices,
    chain: Arc<Chain>,
    /// The built-in plugins the configuration switched on.
    builtins: Vec<&'static Builtin>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// One load or change at a time, so two reloads of a plugin cannot race.
    changes: tokio::sync::Mutex<()>,
}

impl Registry {
    pub fn new(
        engine: Arc<PluginEngine>,
        dir: PathBuf,
        cache_dir: PathBuf,
        services: HostServices,
        chain: Arc<Chain>,
        system: SystemEvents,
        builtins: Vec<&'static Builtin>,
    ) -> Registry {
        Registry {
            engine,
            system,
            dir,
            cache_dir,
            services,
            chain,
            builtins,
            entries: Mutex::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the built-in plugins, then every plugin in the directory (a
    /// missing directory has none).
    pub async fn load_all(&self) {
        for builtin in &self.builtins {
            self.reload(builtin.name).await;
        }
        for name in self.names_on_disk() {
            // A loaded built-in's reload above has already refused (and
            // logged) same-named files; those of one switched off are refused here.
            if !self.builtins.iter().any(|builtin| builtin.name == name) {
                self.reload(&name).await;
            }
        }
    }

    /// Plugin names with a manifest in the directory.
    pub fn names_on_disk(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .filter_map(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names
    }

    /// (Re)loads plugin `name` from its files, or forgets it when they are
    /// gone. A plugin that fails to load keeps its running version.
    pub async fn reload(&self, name: &str) {
        let _one_at_a_time = self.changes.lock().await;
        let files = PluginFiles::in_dir(&self.dir, name);
        if builtin::is_reserved(name) {
            if files.manifest.exists() || files.component.exists() {
                tracing::error!(plugin = name, dir = %self.dir.display(),
                    "refusing {name}.toml/{name}.wasm in the plugins directory: the name belongs to a built-in plugin; rename the plugin");
            }
            if let Some(builtin) = self.builtins.iter().copied().find(|b| b.name == name) {
                self.reload_builtin(builtin).await;
            }
            return;
        }
        if !files.manifest.exists() {
            if self.lock().remove(name).is_some() {
                tracing::info!(plugin = name, "plugin removed");
                self.rebuild_chain();
                self.system.emit(SystemNotice::PluginRemoved {
                    plugin: name.to_owned(),
                });
            }
            return;
        }
        let loaded = self.load(Source::Files(files)).await;
        self.settle(name, loaded, false);
    }

    /// A built-in plugin: loaded once from the binary; later reloads only
    /// follow its `NAME.disabled` marker.
    async fn reload_builtin(&self, builtin: &'static Builtin) {
        let loaded = self
            .lock()
            .get(builtin.name)
            .is_some_and(|entry| entry.running.is_some());
        if loaded {
            if let Some(entry) = self.lock().get_mut(builtin.name) {
                entry.enabled = self.enabled_on_disk(builtin.name);
            }
            self.rebuild_chain();
            return;
        }
        let loaded = self.load(Source::Builtin(builtin)).await;
        self.settle(builtin.name, loaded, true);
    }

    fn enabled_on_disk(&self, name: &str) -> bool {
        !self.dir.join(format!("{name}.disabled")).exists()
    }

    /// Records the outcome of loading plugin `name` and rebuilds the chain.
    fn settle(&self, name: &str, loaded: Result<RunningPlugin, LoadError>, builtin: bool) {
        let enabled = self.enabled_on_disk(name);
        let mut entries = self.lock();
        let entry = entries.entry(name.to_owned()).or_insert(Entry {
            running: None,
            enabled,
            load_error: None,
            builtin,
        });
        entry.enabled = enabled;
        let mut notice = None;
        match loaded {
            Ok(plugin) => {
                let same = entry.running.as_ref().is_some_and(|r| {
                    r.loaded.digest == plugin.loaded.digest && r.loaded.manifest == plugin.loaded.manifest
                });
                if !same {
                    let version = plugin.loaded.manifest.version.clone();
                    tracing::info!(plugin = name, %version, "plugin loaded");
                    let plugin_name = name.to_owned();
                    notice = Some(match entry.running.replace(Arc::new(plugin)) {
                        Some(_) => SystemNotice::PluginReplaced {
                            plugin: plugin_name,
                            version,
                        },
                        None => SystemNotice::PluginLoaded {
                            plugin: plugin_name,
                            version,
                        },
                    });
                }
                entry.load_error = None;
            }
            Err(e) => {
                tracing::error!(plugin = name, error = %e, "plugin not loaded; the running version (if any) stays");
                entry.load_error = Some(e.to_string());
                // Straight to the subscribers (`/ws`), not through the chain:
                // a plugin must not be able to hide that another failed to load.
                // (No `system` notice besides: this `plugin.error` says it.)
                self.system.bus().broadcast(Arc::new(new_event(
                    "",
                    EventKind::PluginError {
                        plugin: name.to_owned(),
                        error: e.to_string(),
                    },
                )));
            }
        }
        drop(entries);
        self.rebuild_chain();
        if let Some(notice) = notice {
            self.system.emit(notice);
        }
    }

    async fn load(&self, source: Source) -> Result<RunningPlugin, LoadError> {
        let (engine, cache) = (self.engine.clone(), self.cache_dir.clone());
        let loaded = tokio::task::spawn_blocking(move || match source {
            Source::Files(files) => loader::load(engine.engine(), &files, Some(&cache)),
            Source::Builtin(builtin) => loader::load_builtin(&engine, builtin, Some(&cache)),
        })
        .await
        .map_err(|e| LoadError::Compile(format!("the compiler stopped: {e}")))??;
        let plugin = RunningPlugin::new(loaded, &self.engine, self.services.clone());
        plugin
            .warm_up()
            .await
            .map_err(|failure| LoadError::Init(failure.to_string()))?;
        Ok(plugin)
    }

    /// Installs (or replaces) a plugin from uploaded files: checked and
    /// loaded first, written to the directory only when it loads.
    pub async fn install(&self, manifest_text: &str, component: &[u8]) -> Result<PluginInfo, RegistryError> {
        let manifest = wasap_plugin_manifest::Manifest::parse(manifest_text).map_err(|e| LoadError::Manifest {
            path: "the uploaded manifest".to_owned(),
            message: e.to_string(),
        })?;
        let name = manifest.name.clone();
        if builtin::is_reserved(&name) {
            return Err(RegistryError::Builtin(name));
        }
        let engine = self.engine.clone();
        let (bytes, cache) = (component.to_vec(), self.cache_dir.clone());
        let checked = manifest.clone();
        tokio::task::spawn_blocking(move || loader::load_bytes(engine.engine(), checked, &bytes, Some(&cache)))
            .await
            .map_err(|e| LoadError::Compile(format!("the compiler stopped: {e}")))??;
        std::fs::create_dir_all(&self.dir)?;
        let files = PluginFiles::in_dir(&self.dir, &name);
        // The component first: a watcher reacting to the manifest finds both.
        write_atomically(&files.component, component)?;
        write_atomically(&files.manifest, manifest_text.as_bytes())?;
        self.reload(&name).await;
        let info = self.info(&name).ok_or_else(|| RegistryError::NotFound(name.clone()))?;
        match &info.load_error {
            Some(error) => Err(LoadError::Init(error.clone()).into()),
            None => Ok(info),
        }
    }

    /// Enables or disables a plugin; kept across restarts.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<PluginInfo, RegistryError> {
        let marker = self.dir.join(format!("{name}.disabled"));
        {
            let mut entries = self.lock();
            let entry = entries
                .get_mut(name)
                .ok_or_else(|| RegistryError::NotFound(name.to_owned()))?;
            if enabled {
                match std::fs::remove_file(&marker) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
                // Enabling again lifts a quarantine: a fresh start for the plugin.
                if let Some(running) = entry.running.take() {
                    let fresh = RunningPlugin::new(clone_loaded(&running.loaded), &self.engine, self.services.clone());
                    entry.running = Some(Arc::new(fresh));
                }
            } else {
                std::fs::write(&marker, b"")?;
            }
            entry.enabled = enabled;
        }
        self.rebuild_chain();
        let plugin = name.to_owned();
        self.system.emit(if enabled {
            SystemNotice::PluginEnabled { plugin }
        } else {
            SystemNotice::PluginDisabled { plugin }
        });
        self.info(name).ok_or_else(|| RegistryError::NotFound(name.to_owned()))
    }

    /// Removes a plugin's files and takes it out of the chain.
    pub async fn delete(&self, name: &str) -> Result<(), RegistryError> {
        match self.lock().get(name) {
            None => return Err(RegistryError::NotFound(name.to_owned())),
            Some(entry) if entry.builtin => return Err(RegistryError::Builtin(name.to_owned())),
            Some(_) => {}
        }
        let files = PluginFiles::in_dir(&self.dir, name);
        for path in [
            files.manifest,
            files.component,
            self.dir.join(format!("{name}.disabled")),
        ] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        self.reload(name).await;
        if let Err(e) = self.services.database.kv_delete_plugin(name).await {
            tracing::warn!(plugin = name, error = %e, "the deleted plugin's keys stay in the database");
        }
        Ok(())
    }

    pub fn list(&self) -> Vec<PluginInfo> {
        let entries = self.lock();
        entries.iter().map(|(name, entry)| info(name, entry)).collect()
    }

    pub fn info(&self, name: &str) -> Option<PluginInfo> {
        self.lock().get(name).map(|entry| info(name, entry))
    }

    fn rebuild_chain(&self) {
        let plugins = self
            .lock()
            .values()
            .filter(|entry| entry.enabled)
            .filter_map(|entry| entry.running.clone())
            .collect();
        self.chain.set(plugins);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn info(name: &str, entry: &Entry) -> PluginInfo {
    let running = entry.running.as_ref();
    let manifest = running.map(|r| &r.loaded.manifest);
    PluginInfo {
        name: name.to_owned(),
        version: manifest.map(|m| m.version.clone()),
        builtin: entry.builtin,
        enabled: entry.enabled,
        running: entry.enabled && running.is_some_and(|r| !r.is_quarantined()),
        quarantined: running.is_some_and(|r| r.is_quarantined()),
        events: manifest.map(|m| m.events.clone()).unwrap_or_default(),
        order: manifest.map(|m| m.order),
        digest: running.map(|r| r.loaded.digest.clone()),
        load_error: entry.load_error.clone(),
        stats: running.map(|r| r.stats.snapshot()),
    }
}

/// Where a plugin is loaded from.
enum Source {
    Files(PluginFiles),
    Builtin(&'static Builtin),
}

fn clone_loaded(loaded: &loader::LoadedPlugin) -> loader::LoadedPlugin {
    loader::LoadedPlugin {
        manifest: loaded.manifest.clone(),
        digest: loaded.digest.clone(),
        pre: loaded.pre.clone(),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}
