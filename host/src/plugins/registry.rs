//! The installed plugins: what is in the plugins directory, which are
//! enabled, which failed to load and why, and the chain built from them.
//!
//! A plugin is `NAME.toml` + `NAME.wasm` in the directory; `NAME.disabled`
//! beside them keeps it out of the chain across restarts. Loading compiles
//! off the async runtime and instantiates once (running `init`) before the
//! plugin joins the chain; a plugin that fails to load keeps the version that
//! was running, if any. Files whose digest and manifest are those of the
//! running version are not loaded again (a `touch`, or the watcher seeing an
//! upload's own writes, costs a read and a hash, not a compile and an `init`).
//! A manifest above the server's ceilings ([`super::ceilings`]) is refused.
//!
//! Changes of one name happen one at a time (a lock per name): an upload,
//! a reload and a removal of the same plugin never interleave, so the files
//! on disk are always those of the loaded version once a change is done. An
//! upload writes its files only after the plugin has started.
//!
//! The built-in plugins ([`super::builtin`]) come from the binary, through the
//! same loader and artifact cache. They are enabled and disabled like the
//! others (`NAME.disabled` in the directory), but their names are theirs: they
//! cannot be deleted or replaced, and files in the directory under one of their
//! names are refused.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use wasap_plugin_manifest::Manifest;

use super::alerts::PluginCounters;
use super::artifacts;
use super::builtin::{self, Builtin};
use super::ceilings::PluginSettings;
use super::chain::Chain;
use super::engine::PluginEngine;
use super::info::{Entry, PluginInfo, RegistryError, info};
use super::loader::{self, LoadError, PluginFiles};
use super::runner::{Failure, HostServices, RunningPlugin};
use crate::events::{EventKind, new_event};
use crate::system_events::{SystemEvents, SystemNotice};

pub struct Registry {
    engine: Arc<PluginEngine>,
    /// Where load failures (`plugin_error`) and changes of the installed
    /// plugins (`system`) are reported, server-wide.
    system: SystemEvents,
    dir: PathBuf,
    cache_dir: PathBuf,
    services: HostServices,
    settings: PluginSettings,
    chain: Arc<Chain>,
    /// The built-in plugins the configuration switched on.
    builtins: Vec<&'static Builtin>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// One load or change of a name at a time, so two reloads, or an upload
    /// and a reload, of one plugin cannot race.
    names: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Artifacts are written and collected one at a time, so a collection
    /// never sees an artifact whose plugin is not yet recorded as loaded.
    artifacts: tokio::sync::Mutex<()>,
    counters: PluginCounters,
}

/// Where a registry's plugins come from and how they are bounded.
pub struct RegistryParts {
    pub engine: Arc<PluginEngine>,
    pub dir: PathBuf,
    pub cache_dir: PathBuf,
    pub services: HostServices,
    pub settings: PluginSettings,
    pub chain: Arc<Chain>,
    pub system: SystemEvents,
    pub builtins: Vec<&'static Builtin>,
}

impl Registry {
    pub fn new(parts: RegistryParts) -> Registry {
        let RegistryParts {
            engine,
            dir,
            cache_dir,
            services,
            settings,
            chain,
            system,
            builtins,
        } = parts;
        Registry {
            engine,
            system,
            dir,
            cache_dir,
            services,
            settings,
            chain,
            builtins,
            entries: Mutex::new(BTreeMap::new()),
            names: Mutex::new(HashMap::new()),
            artifacts: tokio::sync::Mutex::new(()),
            counters: PluginCounters::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the built-in plugins, then every plugin in the directory (a
    /// missing directory has none), then collects the compiled artifacts
    /// none of them uses.
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
        self.collect_artifacts().await;
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

    /// The names known: loaded (or failed) plugins and manifests on disk.
    pub fn known_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().keys().cloned().collect();
        names.extend(self.names_on_disk());
        names.sort();
        names.dedup();
        names
    }

    /// The lock of changes to plugin `name`.
    fn name_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.entry(name.to_owned()).or_default().clone()
    }

    /// (Re)loads plugin `name` from its files, or forgets it when they are
    /// gone. A plugin that fails to load keeps its running version.
    pub async fn reload(&self, name: &str) {
        let lock = self.name_lock(name);
        let _one_at_a_time = lock.lock().await;
        self.reload_locked(name).await;
    }

    async fn reload_locked(&self, name: &str) {
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
                self.collect_artifacts().await;
            }
            return;
        }
        let read = tokio::task::spawn_blocking(move || {
            loader::read_files(&files).map(|(manifest, bytes)| {
                let digest = loader::digest(&bytes);
                (manifest, Bytes::from(bytes), digest)
            })
        })
        .await
        .map_err(|e| LoadError::Compile(format!("reading the files stopped: {e}")))
        .and_then(|read| read);
        let (manifest, bytes) = match read {
            Ok((manifest, _, digest)) if self.is_running(name, &digest, &manifest) => {
                tracing::debug!(plugin = name, "plugin files unchanged; not reloaded");
                self.refresh_unchanged(name);
                return;
            }
            Ok((manifest, bytes, _)) => (manifest, bytes),
            Err(e) => return self.settle_failed(name, e, false),
        };
        match self.load_checked(manifest, bytes).await {
            Ok(plugin) => self.settle_loaded(name, plugin, false).await,
            Err(e) => self.settle_failed(name, e, false),
        }
    }

    /// Whether the running version of `name` is the component `digest` with `manifest`.
    fn is_running(&self, name: &str, digest: &str, manifest: &Manifest) -> bool {
        self.lock()
            .get(name)
            .and_then(|entry| entry.running.as_ref())
            .is_some_and(|running| running.loaded.digest == digest && running.loaded.manifest == *manifest)
    }

    /// The files of `name` are those of its running version: only its
    /// `NAME.disabled` marker may have changed, and an earlier load error
    /// (of files since put back) no longer holds.
    fn refresh_unchanged(&self, name: &str) {
        let enabled = self.enabled_on_disk(name);
        if let Some(entry) = self.lock().get_mut(name) {
            entry.enabled = enabled;
            entry.load_error = None;
        }
        self.rebuild_chain();
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
        self.counters.count_load(builtin.name);
        let (engine, cache) = (self.engine.clone(), self.cache_dir.clone());
        let loaded = tokio::task::spawn_blocking(move || loader::load_builtin(&engine, builtin, Some(&cache)))
            .await
            .map_err(|e| LoadError::Compile(format!("the compiler stopped: {e}")))
            .and_then(|loaded| loaded);
        match loaded {
            Ok(loaded) => match self.start(loaded).await {
                Ok(plugin) => self.settle_loaded(builtin.name, plugin, true).await,
                Err(e) => self.settle_failed(builtin.name, e, true),
            },
            Err(e) => self.settle_failed(builtin.name, e, true),
        }
    }

    fn enabled_on_disk(&self, name: &str) -> bool {
        !self.dir.join(format!("{name}.disabled")).exists()
    }

    /// Loads a plugin of the directory from its manifest and component:
    /// checked against the ceilings, compiled, linked and started (`init`).
    /// Nothing is written.
    async fn load_checked(&self, manifest: Manifest, component: Bytes) -> Result<RunningPlugin, LoadError> {
        self.counters.count_load(&manifest.name);
        self.settings.check(&manifest.limits)?;
        let (engine, cache) = (self.engine.clone(), self.cache_dir.clone());
        let loaded = tokio::task::spawn_blocking(move || {
            loader::load_bytes(engine.engine(), manifest, &component, Some(&cache))
        })
        .await
        .map_err(|e| LoadError::Compile(format!("the compiler stopped: {e}")))??;
        self.start(loaded).await
    }

    /// Starts a loaded plugin once (instantiated, `init` run), as the chain will.
    async fn start(&self, loaded: loader::LoadedPlugin) -> Result<RunningPlugin, LoadError> {
        let plugin = RunningPlugin::new(loaded, self.services.clone());
        plugin
            .warm_up()
            .await
            .map_err(|failure| LoadError::Init(failure.to_string()))?;
        Ok(plugin)
    }

    /// Records a plugin that loaded and started, then keeps its compiled
    /// artifact (and collects those of a version it replaced).
    async fn settle_loaded(&self, name: &str, plugin: RunningPlugin, builtin: bool) {
        let _artifacts = self.artifacts.lock().await;
        let digest = plugin.loaded.digest.clone();
        let component = plugin.loaded.component().clone();
        let replaced = self.settle(name, Ok(plugin), builtin);
        let dir = self.cache_dir.clone();
        let kept = tokio::task::spawn_blocking(move || artifacts::keep(&dir, &digest, &component)).await;
        if let Err(e) = kept {
            tracing::warn!(error = %e, "caching a compiled plugin stopped");
        }
        if replaced {
            self.collect_artifacts_locked().await;
        }
    }

    /// Records that plugin `name` did not load (its running version stays).
    fn settle_failed(&self, name: &str, error: LoadError, builtin: bool) {
        self.settle(name, Err(error), builtin);
    }

    /// Removes the compiled artifacts no loaded plugin uses.
    async fn collect_artifacts(&self) {
        let _artifacts = self.artifacts.lock().await;
        self.collect_artifacts_locked().await;
    }

    async fn collect_artifacts_locked(&self) {
        let used: HashSet<String> = self
            .lock()
            .values()
            .filter_map(|entry| entry.running.as_ref().map(|r| r.loaded.digest.clone()))
            .collect();
        let dir = self.cache_dir.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || artifacts::collect_unused(&dir, &used)).await {
            tracing::warn!(error = %e, "collecting unused compiled plugins stopped");
        }
    }

    /// Records the outcome of loading plugin `name` and rebuilds the chain;
    /// whether a running version was replaced by another.
    fn settle(&self, name: &str, loaded: Result<RunningPlugin, LoadError>, builtin: bool) -> bool {
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
        let replaced = matches!(notice, Some(SystemNotice::PluginReplaced { .. }));
        if let Some(notice) = notice {
            self.system.emit(notice);
        }
        replaced
    }

    /// Installs (or replaces) a plugin from uploaded files: checked, loaded
    /// and started first; its files are written to the directory only then.
    pub async fn install(&self, manifest_text: &str, component: Bytes) -> Result<PluginInfo, RegistryError> {
        let manifest = Manifest::parse(manifest_text).map_err(|e| LoadError::Manifest {
            path: "the uploaded manifest".to_owned(),
            message: e.to_string(),
        })?;
        let name = manifest.name.clone();
        if builtin::is_reserved(&name) {
            return Err(RegistryError::Builtin(name));
        }
        // Before waiting for the name or compiling anything.
        self.settings.check(&manifest.limits).map_err(LoadError::from)?;
        let lock = self.name_lock(&name);
        let _one_at_a_time = lock.lock().await;
        let plugin = self.load_checked(manifest, component.clone()).await?;
        let (dir, files, text) = (
            self.dir.clone(),
            PluginFiles::in_dir(&self.dir, &name),
            Bytes::from(manifest_text.to_owned()),
        );
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            // The component first: a watcher reacting to the manifest finds both.
            write_atomically(&files.component, &component)?;
            write_atomically(&files.manifest, &text)
        })
        .await
        .map_err(std::io::Error::other)??;
        self.settle_loaded(&name, plugin, false).await;
        self.info(&name).ok_or_else(|| RegistryError::NotFound(name.clone()))
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
                    let fresh = RunningPlugin::new(clone_loaded(&running.loaded), self.services.clone());
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
        let lock = self.name_lock(name);
        let _one_at_a_time = lock.lock().await;
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
        self.reload_locked(name).await;
        if let Err(e) = self.services.database.kv_delete_plugin(name).await {
            tracing::warn!(plugin = name, error = %e, "the deleted plugin's keys stay in the database");
        }
        Ok(())
    }

    /// A built-in output failed (it stays in the chain): counted, and
    /// alerted as a `system` event at first and then at most once a minute.
    pub fn builtin_failed(&self, name: &str, failure: &Failure) {
        let Some(failures) = self.counters.builtin_failed(name, Instant::now()) else {
            return;
        };
        tracing::error!(plugin = name, error = %failure, failures, "a built-in output is failing; it stays in the chain");
        // Not through the plugins: the failing output may be the one that would carry it.
        self.system.announce(SystemNotice::BuiltinPluginFailing {
            plugin: name.to_owned(),
            error: failure.to_string(),
            failures,
        });
    }

    /// The plugins' counters, in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        self.counters.render(out);
    }

    pub fn list(&self) -> Vec<PluginInfo> {
        let entries = self.lock();
        entries
            .iter()
            .map(|(name, entry)| info(name, entry, self.counters.loads(name)))
            .collect()
    }

    pub fn info(&self, name: &str) -> Option<PluginInfo> {
        self.lock()
            .get(name)
            .map(|entry| info(name, entry, self.counters.loads(name)))
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

fn clone_loaded(loaded: &loader::LoadedPlugin) -> loader::LoadedPlugin {
    loader::LoadedPlugin {
        manifest: loaded.manifest.clone(),
        digest: loaded.digest.clone(),
        pre: loaded.pre.clone(),
        builtin: loaded.builtin,
    }
}

/// Writes `bytes` aside (`NAME.wasm.partial`: not a plugin file, so the
/// watcher ignores it) and renames it into place, so no reader sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}
