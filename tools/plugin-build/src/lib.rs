//! wasap-plugin-build as a library: the same build the command runs, for
//! tools and tests that build plugins in-process (wasap's own black-box tests
//! build their test plugins this way).
//!
//! A plugin crate is compiled for `wasm32-unknown-unknown` as a cdylib, encoded
//! as a component with wit-component, validated, and checked against its
//! manifest: it imports only what the manifest grants and exports the plugin
//! world. A JavaScript package (`package.json`) is built with componentize-js
//! and a Python module (`app.py`) with componentize-py, against the plugin
//! world narrowed to the manifest's grants, then checked the same way.
//!
//! Rust builds are reproducible: the same source and compiler give the same bytes wherever
//! the checkout, the cargo registry and the target directory are (see `reproducible`), which
//! is what lets the built-in plugins and the test components be committed and checked by CI
//! (see `committed`).

mod committed;
mod component;
mod javascript;
mod language;
mod python;
mod reproducible;
mod toolchain;
mod world;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasap_plugin_manifest::Manifest;

pub use committed::CommittedSet;
pub use language::Language;
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
    /// Only encode, check and write this core module instead of compiling the crate
    /// (Rust plugins only).
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
    pub language: Language,
    pub component_bytes: usize,
    /// The size of the core module a Rust plugin was encoded from.
    pub core_bytes: Option<usize>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Builds the plugin crate in `dir` into a checked component.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<Built> {
    let (manifest_path, manifest) = find_manifest(dir)?;

    let language = Language::detect(dir)?;
    let target_dir = options.target_dir.clone().unwrap_or_else(default_target_dir);
    let (component, core_bytes) = match language {
        Language::Rust => {
            let core = rust_core_module(dir, &manifest, &target_dir, options)?;
            (component::encode(&core)?, Some(core.len()))
        }
        Language::JavaScript | Language::Python => {
            if options.from_module.is_some() {
                bail!("--from-module is for Rust plugins; {} is {language:?}", dir.display());
            }
            eprintln!("building {} {} ({language:?})", manifest.name, manifest.version);
            let scratch = target_dir.join(format!("{}-{}", language.tag(), manifest.name));
            std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
            let wit_dir = world::write(&manifest, &scratch)?;
            let component = match language {
                Language::JavaScript => javascript::build(dir, &wit_dir, world::WORLD, &scratch)?,
                _ => python::build(dir, &wit_dir, world::WORLD, &target_dir, &scratch)?,
            };
            (component, None)
        }
    };
    let shape = component::inspect(&component)?;
    component::check(&shape, &manifest).with_context(|| format!("checking against {}", manifest_path.display()))?;

    let out_dir = options.out_dir.as_deref().unwrap_or(dir);
    std::fs::create_dir_all(out_dir)?;
    let out = out_dir.join(format!("{}.wasm", manifest.name));
    std::fs::write(&out, &component).with_context(|| format!("writing {}", out.display()))?;
    Ok(Built {
        path: out,
        manifest,
        language,
        component_bytes: component.len(),
        core_bytes,
        imports: shape.imports,
        exports: shape.exports,
    })
}

/// Compiles a Rust plugin crate into its core module (or reads `--from-module`).
fn rust_core_module(dir: &Path, manifest: &Manifest, target_dir: &Path, options: &BuildOptions) -> Result<Vec<u8>> {
    if let Some(path) = &options.from_module {
        return std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    }
    let toolchain = options.toolchain.resolve()?;
    eprintln!(
        "building {} {} with the {} toolchain",
        manifest.name,
        manifest.version,
        toolchain.describe()
    );
    let module = toolchain.build(&dir.join("Cargo.toml"), target_dir)?;
    std::fs::read(&module).with_context(|| format!("reading {}", module.display()))
}

/// Runs a build step, failing with its name and exit status.
fn run(command: &mut std::process::Command, what: &str) -> Result<()> {
    let status = command.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The one manifest in `dir`: a `*.toml` that is not `Cargo.toml`.
pub fn find_manifest(dir: &Path) -> Result<(PathBuf, Manifest)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let is_toml = path.extension().is_some_and(|ext| ext == "toml");
        // Cargo's and Python's project files are not plugin manifests.
        let is_cargo = path
            .file_name()
            .is_some_and(|name| name == "Cargo.toml" || name == "pyproject.toml");
        if is_toml && !is_cargo {
            found.push(path);
        }
    }
    let path = match found.as_slice() {
        [path] => path.clone(),
        [] => bail!("no plugin manifest (NAME.toml) in {}", dir.display()),
        _ => bail!("more than one NAME.toml in {}: {found:?}", dir.display()),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
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
