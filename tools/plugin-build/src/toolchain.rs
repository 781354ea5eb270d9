//! Choosing a Rust toolchain that can compile to `wasm32-unknown-unknown`, and running it.
//!
//! A rustup toolchain with the wasm32 target installed is preferred: it builds with the
//! prebuilt std. Without one (as on the project's machines, whose rustup cannot download
//! targets), Debian's `rustc-web` is used: it ships std's source, so cargo builds std for
//! wasm32 itself (`-Zbuild-std`, allowed on a stable compiler by `RUSTC_BOOTSTRAP=1`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::reproducible::Remaps;

const TARGET: &str = "wasm32-unknown-unknown";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_PACKAGES: &str = "rustc-web cargo-web rust-web-src rust-web-llvm lld-22";

/// Which toolchain compiles the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Toolchain {
    /// rustup's when it has the wasm32 target, otherwise Debian's.
    Auto,
    /// `cargo` from PATH, with rustup's `wasm32-unknown-unknown` target.
    Rustup,
    /// Debian's `rustc-web`, building std from source.
    Debian,
}

impl Toolchain {
    /// Picks a concrete toolchain, or says what to install.
    pub fn resolve(self) -> Result<Toolchain> {
        match self {
            Toolchain::Auto if rustup_has_target() => Ok(Toolchain::Rustup),
            Toolchain::Auto if debian_usable().is_ok() => Ok(Toolchain::Debian),
            Toolchain::Auto => bail!(
                "no Rust toolchain for {TARGET}: run `rustup target add {TARGET}`, or \
                 `apt-get install -y {DEBIAN_PACKAGES}` ({})",
                debian_usable().unwrap_err()
            ),
            Toolchain::Rustup if !rustup_has_target() => {
                bail!("rustup has no {TARGET} target: run `rustup target add {TARGET}`")
            }
            Toolchain::Debian => debian_usable().map(|()| Toolchain::Debian),
            other => Ok(other),
        }
    }

    /// A few words for the build log.
    pub fn describe(self) -> &'static str {
        match self {
            Toolchain::Auto => "automatic",
            Toolchain::Rustup => "rustup wasm32",
            Toolchain::Debian => "Debian rustc-web (build-std)",
        }
    }

    /// Compiles the library of the crate at `manifest_path` as a wasm32 cdylib and returns
    /// the core module's path.
    pub fn build(self, manifest_path: &Path, target_dir: &Path) -> Result<PathBuf> {
        let (cargo_program, rustc_program) = match self {
            Toolchain::Debian => (DEBIAN_CARGO.into(), DEBIAN_RUSTC.into()),
            _ => (
                std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
                std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()),
            ),
        };
        let mut cargo = Command::new(&cargo_program);
        if self == Toolchain::Debian {
            // rustup's proxies would otherwise pick their own compiler for build scripts.
            cargo
                .env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTC_BOOTSTRAP", "1")
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("RUSTC_WRAPPER");
        }
        cargo
            .arg("rustc")
            .arg("--manifest-path")
            .arg(manifest_path)
            .arg("--target-dir")
            .arg(target_dir)
            .args(["--lib", "--release", "--target", TARGET, "--crate-type", "cdylib"])
            .args(["--message-format", "json-render-diagnostics"]);
        if self == Toolchain::Debian {
            cargo.arg("-Zbuild-std=std,panic_abort");
        }
        // Small and self-contained: plugins are loaded often and kept in memory. No
        // `strip`: wasm-ld's strip would drop the component-type section wit-bindgen
        // embeds, and the component encoder needs it.
        for setting in [
            "profile.release.opt-level=\"s\"",
            "profile.release.lto=true",
            "profile.release.codegen-units=1",
            "profile.release.panic=\"abort\"",
            "profile.release.debug=false",
        ] {
            cargo.args(["--config", setting]);
        }
        // The same bytes wherever the checkout, the registry and the target directory are.
        Remaps::discover(&cargo_program, &rustc_program, manifest_path, target_dir)?.apply(&mut cargo, TARGET);
        cargo.stdout(Stdio::piped()).stderr(Stdio::inherit());

        let output = cargo
            .output()
            .with_context(|| format!("running {:?}", cargo.get_program()))?;
        if !output.status.success() {
            bail!("cargo failed ({})", output.status);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        core_module(&stdout).context("cargo reported no .wasm artifact")
    }
}

/// The last `.wasm` file among cargo's `compiler-artifact` messages: the crate itself
/// comes after its dependencies.
fn core_module(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|name| name.as_str().map(PathBuf::from))
        .rfind(|path| path.extension().is_some_and(|ext| ext == "wasm"))
}

fn rustup_has_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).lines().any(|l| l == TARGET))
}

/// Whether Debian's toolchain is complete: cargo, rustc, std's source, and the linker
/// (`rust-lld` is a link to `lld-22`, which is a package of its own).
fn debian_usable() -> Result<()> {
    let sysroot = Command::new(DEBIAN_RUSTC)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .context("no Debian rustc (package rustc-web)")?;
    if !Path::new(DEBIAN_CARGO).exists() {
        bail!("no Debian cargo (package cargo-web)");
    }
    if !sysroot.join("lib/rustlib/src/rust/library/std").is_dir() {
        bail!("no std source for build-std (package rust-web-src)");
    }
    // `exists` follows the link, so a dangling rust-lld counts as missing.
    if !Path::new("/usr/bin/rust-lld").exists() {
        bail!("no wasm linker: /usr/bin/rust-lld is missing or dangling (package lld-22)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crate_module_is_the_last_wasm_artifact() {
        let messages = r#"{"reason":"compiler-artifact","filenames":["/t/libserde.rlib"]}
{"reason":"build-script-executed"}
{"reason":"compiler-artifact","filenames":["/t/wasm32-unknown-unknown/release/redactor.wasm"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            core_module(messages),
            Some(PathBuf::from("/t/wasm32-unknown-unknown/release/redactor.wasm"))
        );
        assert_eq!(core_module("{\"reason\":\"build-finished\"}"), None);
    }
}
