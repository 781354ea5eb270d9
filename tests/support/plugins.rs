//! Plugins for black-box tests, built from source once per test process with
//! the same library `wasap-plugin-build` runs (so the wasm toolchain of
//! docs/ARCHITECTURE.md must be installed; `.ci/run` installs it), and installed
//! into a running server through the management API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// The component built from the plugin crate at `crate_dir` (relative to the
/// workspace root), e.g. `plugins/examples/redactor`.
pub fn component(crate_dir: &str) -> Vec<u8> {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    // Held while building: cargo would serialise concurrent builds anyway.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let map = built.get_or_insert_with(HashMap::new);
    let path = match map.get(crate_dir) {
        Some(path) => path.clone(),
        None => {
            let out_dir = std::env::temp_dir()
                .join("wasap-test-plugins")
                .join(crate_dir.replace('/', "_"));
            let options = wasap_plugin_build::BuildOptions {
                out_dir: Some(out_dir),
                ..Default::default()
            };
            let result = wasap_plugin_build::build(&workspace_root().join(crate_dir), &options)
                .unwrap_or_else(|e| panic!("cannot build the test plugin {crate_dir} (is the wasm toolchain installed? see docs/ARCHITECTURE.md): {e:#}"));
            map.insert(crate_dir.to_owned(), result.path.clone());
            result.path
        }
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
