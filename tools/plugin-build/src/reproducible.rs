//! Making a wasm build independent of where things live on the building machine.
//!
//! rustc writes source paths into the module (panic locations, `file!()`): the checkout's,
//! the cargo registry's, std's source when it is built from source, and the target
//! directory's (generated code under `OUT_DIR`). The built-in plugins are committed as
//! `.wasm` and CI rebuilds them from a clone elsewhere and compares the bytes, so each of
//! those prefixes is remapped to a fixed name with `--remap-path-prefix`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The directories whose paths must not reach the module, and the names they get.
#[derive(Debug, Clone)]
pub struct Remaps {
    pairs: Vec<(PathBuf, &'static str)>,
}

impl Remaps {
    /// The prefixes of a build of `manifest_path` with `cargo` and `rustc` into `target_dir`.
    pub fn discover(cargo: &OsString, rustc: &OsString, manifest_path: &Path, target_dir: &Path) -> Result<Remaps> {
        // Less specific first: rustc applies the last prefix that matches, and the
        // target directory or CARGO_HOME may well lie inside the checkout or each other.
        std::fs::create_dir_all(target_dir).with_context(|| format!("creating {}", target_dir.display()))?;
        let mut pairs = Vec::new();
        for (dir, name) in [
            (std_source(rustc)?, "/rust-src"),
            (cargo_home()?, "/cargo-home"),
            (workspace_root(cargo, manifest_path)?, "/wasap"),
            (target_dir.to_path_buf(), "/wasap-target"),
        ] {
            // Both spellings: cargo passes some paths as configured, some resolved.
            let resolved = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            let given = std::path::absolute(&dir).unwrap_or(dir);
            if resolved != given {
                pairs.push((given, name));
            }
            pairs.push((resolved, name));
        }
        pairs.sort_by_key(|(path, _)| path.components().count());
        Ok(Remaps { pairs })
    }

    /// The rustc flags, one per remapped directory.
    pub fn flags(&self) -> Vec<String> {
        self.pairs
            .iter()
            .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
            .collect()
    }

    /// Adds the flags to `cargo` without dropping any the caller already has: rustflags
    /// from the environment are kept and extended; otherwise they go in as target
    /// rustflags on the command line, which cargo merges with those of config files.
    pub fn apply(&self, cargo: &mut Command, target: &str) {
        let mut from_env = env_rustflags();
        if let Some(flags) = from_env.as_mut() {
            flags.extend(self.flags());
            cargo
                .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
                .env_remove("RUSTFLAGS");
        } else {
            // JSON strings are TOML basic strings: this quotes paths with any characters.
            let list = serde_json::to_string(&self.flags()).expect("strings serialise");
            cargo.arg("--config").arg(format!("target.{target}.rustflags={list}"));
        }
    }
}

/// Rustflags the environment already gives cargo, in the precedence cargo uses.
fn env_rustflags() -> Option<Vec<String>> {
    if let Ok(encoded) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        return Some(
            encoded
                .split('\x1f')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    std::env::var("RUSTFLAGS")
        .ok()
        .map(|flags| flags.split_whitespace().map(str::to_owned).collect())
}

/// Where std's source is when std is built from source (build-std); a rustup toolchain's
/// prebuilt std already carries remapped `/rustc/HASH/` paths.
fn std_source(rustc: &OsString) -> Result<PathBuf> {
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .with_context(|| format!("running {rustc:?} --print sysroot"))?;
    if !output.status.success() {
        bail!("{rustc:?} --print sysroot failed ({})", output.status);
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    Ok(sysroot.join("lib/rustlib/src/rust"))
}

/// `$CARGO_HOME`, where the registry's and git dependencies' sources are.
fn cargo_home() -> Result<PathBuf> {
    match std::env::var_os("CARGO_HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home)),
        _ => std::env::home_dir()
            .map(|home| home.join(".cargo"))
            .context("no CARGO_HOME and no home directory"),
    }
}

/// The root of the workspace the plugin crate belongs to (the crate's own directory
/// when it has none): cargo passes paths of workspace members relative to it, but
/// proc macros and build scripts see it whole.
fn workspace_root(cargo: &OsString, manifest_path: &Path) -> Result<PathBuf> {
    let output = Command::new(cargo)
        .args([
            "locate-project",
            "--workspace",
            "--message-format",
            "plain",
            "--manifest-path",
        ])
        .arg(manifest_path)
        .output()
        .with_context(|| format!("running {cargo:?} locate-project"))?;
    if !output.status.success() {
        bail!(
            "cargo locate-project failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let workspace_manifest = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let root = workspace_manifest
        .parent()
        .context("the workspace manifest has no directory")?;
    Ok(root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_prefix_comes_last() {
        let mut pairs = vec![
            (PathBuf::from("/work/repo/target"), "/wasap-target"),
            (PathBuf::from("/work/repo"), "/wasap"),
        ];
        pairs.sort_by_key(|(path, _)| path.components().count());
        let remaps = Remaps { pairs };
        assert_eq!(
            remaps.flags(),
            [
                "--remap-path-prefix=/work/repo=/wasap",
                "--remap-path-prefix=/work/repo/target=/wasap-target"
            ]
        );
    }
}
