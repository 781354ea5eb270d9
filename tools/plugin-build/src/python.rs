//! Python plugins: a module `app.py` defining `class WitWorld(wit_world.WitWorld)`
//! with `init` and `handle_event`, turned into a component by componentize-py
//! (CPython for WASI, snapshotted after the module was imported).
//!
//! componentize-py comes from PyPI at the version the plugin's `requirements.txt`
//! pins, installed with the plugin's other requirements into a virtual
//! environment under the build's target directory (one per distinct
//! requirements file), so nothing is installed globally.
//!
//! `--stub-wasi` replaces every WASI import with a trap: the component imports
//! only the granted wasap interfaces. Two consequences for authors, said in the
//! starter too: write through `log` (the starter points `sys.stdout` at it),
//! since a bare WASI write would trap; and `random` is seeded at build time.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::run;

/// Builds `app.py` in `dir` against the WIT in `wit_dir`; the component's bytes.
pub fn build(dir: &Path, wit_dir: &Path, world: &str, target_dir: &Path, scratch: &Path) -> Result<Vec<u8>> {
    let venv = environment(dir, target_dir)?;
    let out = scratch.join("component.wasm");
    run(
        Command::new(venv.join("bin").join("componentize-py"))
            .arg("-d")
            .arg(wit_dir)
            .args(["-w", world, "componentize", "--stub-wasi", "app", "-o"])
            .arg(&out)
            .current_dir(dir)
            .env("VIRTUAL_ENV", &venv),
        "componentize-py",
    )?;
    std::fs::read(&out).with_context(|| format!("reading {}", out.display()))
}

/// The virtual environment holding the plugin's requirements, made on first use.
fn environment(dir: &Path, target_dir: &Path) -> Result<PathBuf> {
    let requirements = dir.join("requirements.txt");
    let text = std::fs::read_to_string(&requirements).with_context(|| {
        format!(
            "reading {} (it pins componentize-py, e.g. `componentize-py==0.25.1`)",
            requirements.display()
        )
    })?;
    if !text
        .lines()
        .any(|line| line.trim_start().starts_with("componentize-py"))
    {
        bail!("{} does not name componentize-py", requirements.display());
    }
    let venv = target_dir.join(format!("python-{:016x}", fnv1a(text.as_bytes())));
    // A venv's scripts name their interpreter by absolute path, so it cannot be
    // built aside and renamed: a marker written last says it is complete.
    let complete = venv.join(".wasap-complete");
    if complete.is_file() {
        return Ok(venv);
    }
    eprintln!("installing {} into {}", requirements.display(), venv.display());
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv (is Python 3 with venv installed?)",
    )?;
    run(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
        "pip install -r requirements.txt",
    )?;
    std::fs::write(&complete, b"").with_context(|| format!("writing {}", complete.display()))?;
    Ok(venv)
}

/// FNV-1a: a stable name for a requirements file's environment.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
