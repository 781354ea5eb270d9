//! wasap-plugin-build: one command from a plugin crate to a checked component.
//!
//! `wasap-plugin-build [PLUGIN_DIR...]` finds the plugin's manifest (the one `*.toml` beside
//! its `Cargo.toml` that is not `Cargo.toml`), compiles the crate's library for
//! `wasm32-unknown-unknown` as a cdylib, encodes the core module as a component with
//! wit-component, validates it, checks that it imports only what its manifest grants and
//! exports the plugin world, and writes `NAME.wasm` beside `NAME.toml` (or into `--out-dir`).

mod component;
mod toolchain;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;
use wasap_plugin_manifest::Manifest;

use toolchain::Toolchain;

/// Builds a wasap plugin crate into NAME.wasm beside its NAME.toml manifest.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The plugin crates' directories (each with Cargo.toml and NAME.toml).
    #[arg(default_value = ".")]
    plugin_dirs: Vec<PathBuf>,
    /// Where to write NAME.wasm (default: beside NAME.toml).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Cargo's target directory for the wasm build, kept apart from native builds.
    #[arg(long, env = "WASAP_PLUGIN_TARGET_DIR")]
    target_dir: Option<PathBuf>,
    /// Which Rust toolchain compiles to wasm32.
    #[arg(long, value_enum, default_value_t = Toolchain::Auto)]
    toolchain: Toolchain,
    /// Only encode, check and write this core module instead of compiling the crate.
    #[arg(long, value_name = "CORE.wasm")]
    from_module: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if args.from_module.is_some() && args.plugin_dirs.len() > 1 {
        eprintln!("wasap-plugin-build: --from-module takes one plugin directory");
        std::process::exit(2);
    }
    let mut failed = false;
    for dir in &args.plugin_dirs {
        if let Err(err) = build(&args, dir) {
            eprintln!("wasap-plugin-build: {}: {err:#}", dir.display());
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}

fn build(args: &Args, dir: &Path) -> Result<()> {
    let (manifest_path, manifest) = find_manifest(dir)?;

    let core = match &args.from_module {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => {
            let target_dir = args.target_dir.clone().unwrap_or_else(default_target_dir);
            let toolchain = args.toolchain.resolve()?;
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

    let out_dir = args.out_dir.as_deref().unwrap_or(dir);
    std::fs::create_dir_all(out_dir)?;
    let out = out_dir.join(format!("{}.wasm", manifest.name));
    std::fs::write(&out, &component).with_context(|| format!("writing {}", out.display()))?;

    println!(
        "{}: {} bytes (core module {} bytes)",
        out.display(),
        component.len(),
        core.len()
    );
    println!("  imports: {}", list(&shape.imports));
    println!("  exports: {}", list(&shape.exports));
    Ok(())
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// The one manifest in `dir`: a `*.toml` that is not `Cargo.toml`.
fn find_manifest(dir: &Path) -> Result<(PathBuf, Manifest)> {
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
fn default_target_dir() -> PathBuf {
    std::env::temp_dir().join("wasap-plugin-target")
}
