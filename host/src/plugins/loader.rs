//! Turning `NAME.wasm` + `NAME.toml` into a runnable [`LoadedPlugin`]: the
//! manifest is parsed, the component compiled (or taken from the compiled
//! artifact cache), its imports checked against the manifest's grants, and a
//! linker built with only the granted imports, of the version of the plugin
//! world the component was built against ([`super::world`]).
//!
//! Loading only reads the artifact cache: the caller writes a new artifact
//! ([`super::artifacts`]) once the plugin has also started, so a component
//! that is refused leaves nothing behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasap_plugin_manifest::{Manifest, import_capability};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::builtin::Builtin;
use super::ceilings::AboveCeiling;
use super::engine::PluginEngine;
use super::world::{self, PluginPre, VersionError, WorldVersion};

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("bad manifest {path}: {message}")]
    Manifest { path: String, message: String },
    #[error("the manifest is named {manifest:?} but its file is {file:?}.toml")]
    NameMismatch { manifest: String, file: String },
    #[error("not a valid plugin component: {0}")]
    Compile(String),
    #[error("the component imports `{import}`, which its manifest does not grant{}", grant_hint(.capability))]
    NotGranted {
        import: String,
        capability: Option<&'static str>,
    },
    #[error("the component does not fit the wasap:plugin world: {0}")]
    Link(String),
    #[error("the component does not fit the wasap:plugin world: {0}")]
    Version(#[from] VersionError),
    #[error("init failed: {0}")]
    Init(String),
    #[error("{0}")]
    AboveCeiling(#[from] AboveCeiling),
}

fn grant_hint(capability: &Option<&'static str>) -> String {
    match capability {
        Some(name) => format!(" (add `{name} = ...` under [capabilities])"),
        None => " (it is not a wasap:plugin interface)".to_owned(),
    }
}

/// A compiled plugin, linked with exactly the imports its manifest grants.
pub struct LoadedPlugin {
    pub manifest: Manifest,
    /// Hex SHA-256 of the component file: which build is running.
    pub digest: String,
    /// Linked for the world version the component was built against.
    pub pre: PluginPre,
    /// A built-in output, from the binary (and in the built-ins' engine).
    pub builtin: bool,
}

impl LoadedPlugin {
    /// The compiled component, for the artifact cache.
    pub fn component(&self) -> &Component {
        self.pre.component()
    }

    /// The version of the plugin world the component was built against.
    pub fn world_version(&self) -> WorldVersion {
        self.pre.version()
    }
}

/// Where a plugin's files are.
#[derive(Debug, Clone)]
pub struct PluginFiles {
    pub manifest: PathBuf,
    pub component: PathBuf,
}

impl PluginFiles {
    /// The files of plugin `NAME` in `dir`.
    pub fn in_dir(dir: &Path, name: &str) -> PluginFiles {
        PluginFiles {
            manifest: dir.join(format!("{name}.toml")),
            component: dir.join(format!("{name}.wasm")),
        }
    }

    /// The name the files give the plugin.
    pub fn name(&self) -> String {
        self.manifest
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Reads and checks a manifest.
pub fn read_manifest(path: &Path) -> Result<Manifest, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Manifest::parse(&text).map_err(|e| LoadError::Manifest {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Reads a plugin's manifest (checked, and named as its file) and component bytes.
pub fn read_files(files: &PluginFiles) -> Result<(Manifest, Vec<u8>), LoadError> {
    let manifest = read_manifest(&files.manifest)?;
    if manifest.name != files.name() {
        return Err(LoadError::NameMismatch {
            manifest: manifest.name,
            file: files.name(),
        });
    }
    let bytes = std::fs::read(&files.component).map_err(|source| LoadError::Read {
        path: files.component.display().to_string(),
        source,
    })?;
    Ok((manifest, bytes))
}

/// Hex SHA-256 of a component: its digest, by which it is known and cached.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Loads a plugin from its files. Compiling is slow (milliseconds to
/// seconds): call this off the event path. `cache_dir` holds compiled
/// artifacts by content hash.
pub fn load(engine: &Engine, files: &PluginFiles, cache_dir: Option<&Path>) -> Result<LoadedPlugin, LoadError> {
    let (manifest, bytes) = read_files(files)?;
    load_bytes(engine, manifest, &bytes, cache_dir)
}

/// Loads a built-in plugin from the manifest and component in the binary,
/// compiled once per engine (see [`super::compiled`]), in the built-ins' engine.
pub fn load_builtin(
    engine: &PluginEngine,
    builtin: &Builtin,
    cache_dir: Option<&Path>,
) -> Result<LoadedPlugin, LoadError> {
    let manifest = Manifest::parse(builtin.manifest).map_err(|e| LoadError::Manifest {
        path: format!("the built-in {}.toml", builtin.name),
        message: e.to_string(),
    })?;
    if manifest.name != builtin.name {
        return Err(LoadError::NameMismatch {
            manifest: manifest.name,
            file: builtin.name.to_owned(),
        });
    }
    let digest = digest(builtin.component);
    let builtin_engine = engine.builtin_engine();
    let component = engine.compiled().get_or_compile(&digest, || {
        compile(builtin_engine, builtin.component, &digest, cache_dir)
    })?;
    let mut loaded = link(builtin_engine, manifest, digest, &component)?;
    loaded.builtin = true;
    Ok(loaded)
}

/// Loads a plugin from a manifest and component bytes.
pub fn load_bytes(
    engine: &Engine,
    manifest: Manifest,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> Result<LoadedPlugin, LoadError> {
    let digest = digest(bytes);
    let component = compile(engine, bytes, &digest, cache_dir)?;
    link(engine, manifest, digest, &component)
}

/// A compiled component checked against its manifest and linked with its grants.
fn link(engine: &Engine, manifest: Manifest, digest: String, component: &Component) -> Result<LoadedPlugin, LoadError> {
    check_imports(engine, component, &manifest)?;
    let version = WorldVersion::of(engine, component)?;
    let linker = world::linker(engine, version, &manifest.capabilities).map_err(|e| LoadError::Link(e.to_string()))?;
    let instance_pre = linker
        .instantiate_pre(component)
        .map_err(|e| LoadError::Link(format!("{e:#}")))?;
    let pre = PluginPre::new(version, instance_pre).map_err(|e| LoadError::Link(format!("{e:#}")))?;
    if version != WorldVersion::CURRENT {
        tracing::debug!(plugin = %manifest.name, version = version.as_str(), "the plugin was built against an earlier wasap:plugin");
    }
    Ok(LoadedPlugin {
        manifest,
        digest,
        pre,
        builtin: false,
    })
}

/// The component of `bytes`: its cached artifact when there is a usable one,
/// else compiled (and not cached: see the module's documentation).
fn compile(engine: &Engine, bytes: &[u8], digest: &str, cache_dir: Option<&Path>) -> Result<Component, LoadError> {
    let cached = cache_dir.map(|dir| super::artifacts::path(dir, digest));
    if let Some(path) = &cached
        && path.exists()
    {
        // SAFETY: the cache directory is the server's own (under its data
        // directory) and holds only artifacts this engine serialised; wasmtime
        // also checks that the artifact was made by a compatible engine.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring an unusable compiled plugin"),
        }
    }
    Component::new(engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))
}

/// Refuses a component that imports an interface its manifest does not grant,
/// naming the import and the capability that would grant it.
fn check_imports(engine: &Engine, component: &Component, manifest: &Manifest) -> Result<(), LoadError> {
    for (import, _) in component.component_type().imports(engine) {
        if !manifest.capabilities.grants_import(import) {
            return Err(LoadError::NotGranted {
                import: import.to_owned(),
                capability: import_capability(import).filter(|c| !c.is_empty()),
            });
        }
    }
    Ok(())
}

/// Shared handle to a loaded plugin.
pub type SharedPlugin = Arc<LoadedPlugin>;
