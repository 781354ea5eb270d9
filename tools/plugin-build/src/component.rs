//! From core module to checked component: encode, validate, inspect, check.
//!
//! The checks are the ones the host's loader will make, run early so that a plugin author
//! learns at build time, not at deploy time, that the plugin imports something its
//! manifest does not grant or does not export the plugin world.

use anyhow::{Context, Result, bail};
use wasap_plugin_manifest::{Manifest, import_capability};
use wasmparser::{ComponentTypeRef, Parser, Payload, Validator, WasmFeatures};

/// The component's top-level import and export names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Instance and function imports: interface names such as `wasap:plugin/kv@0.2.0`.
    pub imports: Vec<String>,
    /// Function names such as `handle-event`.
    pub exports: Vec<String>,
}

/// The exports the host calls.
const REQUIRED_EXPORTS: [&str; 2] = ["init", "handle-event"];

/// Encodes a core module built with wit-bindgen (it carries its WIT world in a custom
/// section) as a component. wit-component keeps only the imports the module really
/// calls, so a plugin that never touches the store does not import `kv`.
pub fn encode(core: &[u8]) -> Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .context("reading the core module (was it built with wasap-plugin-sdk?)")?
        .validate(true)
        .encode()
        .context("encoding the component")
}

/// Validates `component` and lists its top-level imports and exports.
pub fn inspect(component: &[u8]) -> Result<Shape> {
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(component)
        .context("the component is not valid")?;

    let mut shape = Shape::default();
    // Nested modules and components have imports and exports of their own; only the
    // outermost component's count.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        match payload? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import?;
                    // The world's `use types.{event, outcome}` also appears as type
                    // imports: equalities the linker checks, not something it provides.
                    if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                        shape.imports.push(import.name.name.to_owned());
                    }
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    shape.exports.push(export?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    if shape.exports.is_empty() && shape.imports.is_empty() && !Parser::is_component(component) {
        bail!("not a component");
    }
    Ok(shape)
}

/// Checks the component's imports against the manifest's capabilities, and that it
/// exports the plugin world.
pub fn check(shape: &Shape, manifest: &Manifest) -> Result<()> {
    let mut problems = Vec::new();
    for import in &shape.imports {
        match import_capability(import) {
            None => problems.push(format!(
                "imports {import}, which no wasap capability provides (a WASI import means \
                 the crate was built for a wasip target or uses std I/O)"
            )),
            Some(capability) if !manifest.capabilities.grants_import(import) => problems.push(format!(
                "imports {import} but [capabilities] does not grant `{capability}`"
            )),
            Some(_) => {}
        }
    }
    for export in REQUIRED_EXPORTS {
        if !shape.exports.iter().any(|name| name == export) {
            problems.push(format!("does not export `{export}` (use export_plugin!)"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("the component {}", problems.join("; "))
    }
}

#[cfg(test)]
mod tests;
