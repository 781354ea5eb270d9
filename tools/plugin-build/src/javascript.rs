//! JavaScript plugins: an npm package whose entry module exports `init` and
//! `handleEvent`, turned into a component by componentize-js (StarlingMonkey, a
//! SpiderMonkey build for WASI, snapshotted after the module's top level ran).
//!
//! componentize-js is the package's own dev dependency, pinned by its
//! `package-lock.json`; the first build installs it. All of the
//! engine's optional WASI features (stdio, random, clocks, http, fetch) are
//! left out, so the component imports nothing but the granted wasap interfaces.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::run;

/// The package the build needs in `node_modules`.
const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js";

/// Runs componentize-js through its library API (the documented way to build offline).
const BUILD_SCRIPT: &str = r#"
import { componentize } from "@bytecodealliance/componentize-js";
import { writeFile } from "node:fs/promises";
const env = process.env;
const { component } = await componentize({
  sourcePath: env.WASAP_JS_SOURCE,
  witPath: env.WASAP_WIT_DIR,
  worldName: env.WASAP_WIT_WORLD,
  disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
});
await writeFile(env.WASAP_OUT, component);
"#;

/// Builds the package in `dir` against the WIT in `wit_dir`; the component's bytes.
pub fn build(dir: &Path, wit_dir: &Path, world: &str, scratch: &Path) -> Result<Vec<u8>> {
    let source = entry_module(dir)?;
    // npm writes its hidden lock file last: without it, an install was cut
    // short and is done again.
    if !dir.join("node_modules").join(".package-lock.json").is_file()
        || !dir.join("node_modules").join(COMPONENTIZE_JS).is_dir()
    {
        if !dir.join("package-lock.json").is_file() {
            bail!(
                "{} has no package-lock.json: run `npm install --save-dev {COMPONENTIZE_JS}` once",
                dir.display()
            );
        }
        eprintln!("installing {COMPONENTIZE_JS} (npm install) in {}", dir.display());
        // Not `npm ci`: it refuses a lock file that lacks the optional
        // per-platform binaries of other systems (which a registry mirror may
        // not carry), while `npm install --no-save` installs what the lock
        // pins, skips what this platform does not need, and rewrites nothing.
        run(
            Command::new("npm")
                .args(["install", "--no-save", "--no-audit", "--no-fund"])
                .current_dir(dir),
            "npm install (is Node.js with npm installed?)",
        )?;
    }
    let out = scratch.join("component.wasm");
    run(
        Command::new("node")
            .args(["--input-type=module", "-e", BUILD_SCRIPT])
            .current_dir(dir)
            .env("WASAP_JS_SOURCE", &source)
            .env("WASAP_WIT_DIR", wit_dir)
            .env("WASAP_WIT_WORLD", world)
            .env("WASAP_OUT", &out),
        "componentize-js",
    )?;
    std::fs::read(&out).with_context(|| format!("reading {}", out.display()))
}

/// The module `package.json` names as `main` (default `src/plugin.js`).
fn entry_module(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("package.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let package: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let main = package
        .get("main")
        .and_then(|main| main.as_str())
        .unwrap_or("src/plugin.js");
    let source = dir.join(main);
    if !source.is_file() {
        bail!(
            "{} names `{main}` as its main module, which does not exist",
            path.display()
        );
    }
    Ok(source)
}
