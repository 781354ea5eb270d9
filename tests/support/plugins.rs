//! Plugins for black-box tests, and their installation into a running server through
//! the management API.
//!
//! The Rust plugins the tests install (the probe, the examples, the built-ins) are read
//! from the components committed to the repository (`tests/components/`, `host/builtin/`),
//! so the plain test command needs no wasm toolchain; `.ci/run` rebuilds those files from
//! source and fails when one is stale. Plugins in other languages (the JavaScript and
//! Python starters) are built from source, with the same library `wasap-plugin-build`
//! runs, by the toolchain tier's tests only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use wasap_plugin_build::CommittedSet;

/// The built-in plugins every server runs out of the box (with the default
/// configuration), in `GET /api/plugins` order.
pub const BUILTIN_PLUGINS: &[&str] = &["webhook", "websocket"];

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

/// The component of the plugin crate at `crate_dir` (relative to the workspace root),
/// e.g. `plugins/examples/redactor`: the committed one for a Rust crate of a committed set,
/// else built from source once per test process.
pub fn component(crate_dir: &str) -> Vec<u8> {
    let root = workspace_root();
    let path = committed_component(&root, crate_dir).unwrap_or_else(|| built_from_source(crate_dir));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (refresh the committed components with `cargo run -p wasap-plugin-build -- --test-components`)",
            path.display()
        )
    })
}

/// Where the committed component of `crate_dir` is, if a committed set builds it.
fn committed_component(root: &Path, crate_dir: &str) -> Option<PathBuf> {
    let parent = Path::new(crate_dir).parent()?.to_str()?;
    let set = [CommittedSet::Builtin, CommittedSet::Test]
        .into_iter()
        .find(|set| set.crate_parents().contains(&parent))?;
    let (_, manifest) = wasap_plugin_build::find_manifest(&root.join(crate_dir)).expect("the crate's manifest");
    Some(root.join(set.components_dir()).join(format!("{}.wasm", manifest.name)))
}

/// The component built from the source of the plugin at `crate_dir`, whatever its
/// language: the toolchain tier's tests only, as it needs the plugin's toolchain.
pub fn component_built_from_source(crate_dir: &str) -> Vec<u8> {
    let path = built_from_source(crate_dir);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Builds the plugin at `crate_dir` from source, once per test process (see
/// docs/ARCHITECTURE.md for the toolchains).
fn built_from_source(crate_dir: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    // Held while building: cargo would serialise concurrent builds anyway.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let map = built.get_or_insert_with(HashMap::new);
    if let Some(path) = map.get(crate_dir) {
        return path.clone();
    }
    let out_dir = std::env::temp_dir()
        .join("wasap-test-plugins")
        .join(crate_dir.replace('/', "_"));
    let options = wasap_plugin_build::BuildOptions {
        out_dir: Some(out_dir),
        ..Default::default()
    };
    let result = wasap_plugin_build::build(&workspace_root().join(crate_dir), &options).unwrap_or_else(|e| {
        panic!("cannot build the test plugin {crate_dir} (is its toolchain installed? see docs/ARCHITECTURE.md): {e:#}")
    });
    map.insert(crate_dir.to_owned(), result.path.clone());
    result.path
}

/// The manifest that sits beside the plugin crate at `crate_dir`.
pub fn manifest(crate_dir: &str) -> String {
    let (path, _) = wasap_plugin_build::find_manifest(&workspace_root().join(crate_dir)).expect("the crate's manifest");
    std::fs::read_to_string(path).expect("the manifest is readable")
}

/// Installs a plugin through `POST /api/plugins`; the status and the JSON answer.
pub async fn install(server: &crate::TestServer, manifest: &str, component: Vec<u8>) -> (u16, serde_json::Value) {
    let form = reqwest::multipart::Form::new()
        .text("manifest", manifest.to_owned())
        .part(
            "component",
            reqwest::multipart::Part::bytes(component).file_name("plugin.wasm"),
        );
    let response = reqwest::Client::new()
        .post(server.url("/api/plugins"))
        .bearer_auth(&server.admin_token)
        .multipart(form)
        .send()
        .await
        .expect("the upload reaches the server");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// The crate of the `probe` test plugin (see `tests/plugins/probe/src/lib.rs` for its modes).
pub const PROBE: &str = "tests/plugins/probe";

/// The probe as the SDK of `wasap:plugin@0.1.0` built it, frozen (see
/// `tests/components/v0.1.0/README.md`): a plugin of the released version, which the
/// server must keep loading and running. It knows every mode of today's probe but
/// `actions`, and loads with [`probe_manifest`].
pub fn probe_v0_1() -> Vec<u8> {
    let path = workspace_root().join("tests/components/v0.1.0/probe.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The probe's manifest under another name, mode, order and extra TOML.
pub fn probe_manifest(name: &str, mode: &str, order: i32, extra: &str) -> String {
    let base = manifest(PROBE);
    let base = base
        .replace("name = \"probe\"", &format!("name = \"{name}\""))
        .replace("order = 100", &format!("order = {order}"))
        .replace("mode = \"echo\"", &format!("mode = \"{mode}\""))
        .replace("tag = \"probe\"", &format!("tag = \"{name}\""));
    format!("{base}\n{extra}")
}
