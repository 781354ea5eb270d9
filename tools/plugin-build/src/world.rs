//! The WIT a JavaScript or Python plugin is built against: wasap's package (embedded from
//! `wit/`) plus a world `granted` that imports only the interfaces the plugin's manifest
//! grants.
//!
//! componentize-js and componentize-py import every interface of the world they are given,
//! used or not, and the host refuses a component that imports something its manifest does
//! not grant. Narrowing the world to the grants keeps the two in step, and makes using an
//! ungranted import a build error ("module not found") instead of a refused upload.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasap_plugin_manifest::Manifest;

/// The world name the generated WIT defines.
pub const WORLD: &str = "granted";

const TYPES_WIT: &str = include_str!("../../../wit/types.wit");
const HOST_WIT: &str = include_str!("../../../wit/host.wit");

/// The interfaces the manifest grants, in the order `wit/host.wit` declares them.
pub fn granted_imports(manifest: &Manifest) -> Vec<&'static str> {
    let caps = &manifest.capabilities;
    [
        ("log", caps.log),
        ("kv", caps.kv),
        ("clock", caps.clock),
        ("http", !caps.http.is_empty()),
    ]
    .into_iter()
    .filter_map(|(name, granted)| granted.then_some(name))
    .collect()
}

/// The text of the `granted` world for `manifest`.
pub fn world_wit(manifest: &Manifest) -> String {
    let package = TYPES_WIT
        .lines()
        .find(|line| line.starts_with("package "))
        .expect("wit/types.wit declares its package");
    let imports: String = granted_imports(manifest)
        .iter()
        .map(|name| format!("    import {name};\n"))
        .collect();
    format!(
        "{package}\n\n/// The plugin world narrowed to what `{name}.toml` grants.\nworld {WORLD} {{\n{imports}\
         \n    use types.{{event, outcome}};\n\n    export init: func(config: string) -> result<_, string>;\n    \
         export handle-event: func(event: event) -> outcome;\n}}\n",
        name = manifest.name,
    )
}

/// Writes the package and the `granted` world into a fresh directory under `parent`.
pub fn write(manifest: &Manifest, parent: &Path) -> Result<PathBuf> {
    let dir = parent.join(format!("wit-{}", manifest.name));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, text) in [
        ("types.wit", TYPES_WIT.to_owned()),
        ("host.wit", HOST_WIT.to_owned()),
        ("granted.wit", world_wit(manifest)),
    ] {
        std::fs::write(dir.join(file), text).with_context(|| format!("writing {file}"))?;
    }
    Ok(dir)
}
