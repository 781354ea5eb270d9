//! wasap-plugin-build as a library: the same build the command runs, for
//! tools and tests that build plugins in-process (wasap's own black-box tests
//! build their test plugins this way).
//!
//! A plugin crate is compiled for `wasm32-unknown-unknown` as a cdylib, encoded
//! as a component with wit-component, validated, and checked against its
//! manifest: it imports only what the manifest grants and exports the plugin
//! world.

mod component;
mod toolchain;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasap_plugin_manifest::Manifest;

pub use toolchain::Toolchain;

/// What to build and where.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Where to write NAME.wasm (default: beside NAME.toml).
    pub out_dir: Option<PathBuf>,
    /// Cargo's target directory for the wasm build (default: a directory of its own
    /// under the system's temporary space).
    pub target_dir: Option<PathBuf>,
    /// Which Rust toolchain compiles to wasm32.
    pub toolchain: Toolchain,
    /// Only encode, check and write this core module instead of compiling the crate.
    pub from_module: Option<PathBuf>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            out_dir: None,
            target_dir: None,
            toolchain: Toolchain::Auto,
            from_module: None,
        }
    }
}

/// A component that was built and checked.
#[derive(Debug, Clone)]
pub struct Built {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub component_bytes: usize,
    pub core_bytes: usize,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Builds the plugin crate in `dir` into a checked component.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<Built> {
    let (manifest_path, manifest) = find_manifest(dir)?;

    let core = match &options.from_module {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => {
            let target_dir = options.target_dir.clone().unwrap_or_else(default_target_dir);
            let toolchain = options.toolchain.resolve()?;
            eprintln!(
                "building {} {} with the {} toolchain",
                manifest.name,
                manifest.version,
                toolchain.describe()
            );
            let module = toolchain.build(&dir.join("Cargo.toml"), &target_dir)?;
            std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?
        }
    };

    let component = component::encode(&core)?;
    let shape = component::inspect(&component)?;
    component::check(&shape, &manifest)
        .with_context(|| format!("checking against {}", manifest_path.display()))?;

    let out_dir = options.out_dir.as_deref().unwrap_or(dir);
    std::fs::create_dir_all(out_dir)?;
    let out = out_dir.join(format!("{}.wasm", manifest.name));
    std::fs::write(&out, &component).with_context(|| format!("writing {}", out.display()))?;
    Ok(Built {
        path: out,
        manifest,
        component_bytes: component.len(),
        core_bytes: core.len(),
        imports: shape.imports,
        exports: shape.exports,
    })
}

/// The one manifest in `dir`: a `*.toml` that is not `Cargo.toml`.
pub fn find_manifest(dir: &Path) -> Result<(PathBuf, Manifest)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let is_toml = path.extension().is_some_and(|ext| ext == "toml");
        let is_cargo = path.file_name().is_some_and(|name| name == "Cargo.toml");
        if is_toml && !is_cargo {
            found.push(path);
        }
    }
    let path = match found.as_slice() {
        [path] => path.clone(),
        [] => bail!("no plugin manifest (NAME.toml) in {}", dir.display()),
        _ => bail!("more than one NAME.toml in {}: {found:?}", dir.display()),
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest = Manifest::parse(&text).with_context(|| format!("in {}", path.display()))?;
    let stem = path.file_stem().and_then(|stem| stem.to_str());
    if stem != Some(manifest.name.as_str()) {
        bail!(
            "{} names the plugin {:?}: the file must be {}.toml",
            path.display(),
            manifest.name,
            manifest.name
        );
    }
    Ok((path, manifest))
}

/// A directory of its own under the system's temporary space: wasm builds (another
/// target, possibly another compiler and a std built from source) never share artifacts
/// with native ones, so mixing them in one cache would only make both wait on its lock.
pub fn default_target_dir() -> PathBuf {
    std::env::temp_dir().join("wasap-plugin-target")
}
