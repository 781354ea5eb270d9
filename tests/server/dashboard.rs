//! The web dashboard: its page and files are served without a token and with
//! the right headers, and, end to end, a real headless Chromium (Debian's,
//! driven by `tests/e2e/dashboard.mjs` with Playwright's core library) signs
//! in, creates an instance, sees its QR code rotate, sees it turn online when
//! the simulated phone scans it, sends a text from the instance's card, sees
//! incoming messages in the live feed and reacts to one (then withdraws it),
//! sets a webhook, retries its failed delivery, sees a queued job and cancels
//! it, sees the instance's pacing in force and sets it, disables a plugin and
//! uploads one; each step is checked on the page by the script and through
//! the API here.
//!
//! The script leaves screenshots of the main views in the workspace's
//! `target/screenshots/dashboard/`, for a person to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use wasap_tests::webhook_receiver::{Behaviour, WebhookReceiver};
use wasap_tests::{TestDb, TestServer, WAIT, data_dir, sim_config};

/// The Chromium the script launches unless `WASAP_CHROMIUM` names another.
const CHROMIUM: &str = "/usr/bin/chromium";
const HOOK_PATH: &str = "/dashboard-hook";
/// The name of the plugin the page uploads.
const UPLOADED: &str = "e2e-upload";
/// Failures the receiver answers before it accepts: as many as the server
/// attempts, so the delivery ends `failed` and the page's Retry delivers it.
const ATTEMPTS: u32 = 2;
/// The contact the page writes to and reacts to (as the script names it).
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";

#[tokio::test]
async fn the_page_and_its_files_need_no_token_and_carry_their_types() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let anonymous = server.client(None);
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/dashboard/app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/instances.js", "text/javascript; charset=utf-8"),
        ("/dashboard/compose.js", "text/javascript; charset=utf-8"),
        ("/dashboard/style.css", "text/css; charset=utf-8"),
    ] {
        let response = anonymous.get_raw(path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert_eq!(header("content-type"), content_type, "{path}");
        assert_eq!(header("cache-control"), "no-cache", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!response.text().await.unwrap().is_empty(), "{path}");
    }
    let (status, body) = anonymous.get("/dashboard/nothing.js").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("asset_not_found")),
        "{body}"
    );
    // The page is public; what it shows is not.
    let (status, _) = anonymous.get("/api/instances").await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
#[ignore = "toolchain tier (Chromium, Node.js, the npm registry): run with -- --include-ignored, as bash .ci/run does"]
async fn a_browser_drives_the_dashboard_end_to_end() {
    let chromium = std::env::var("WASAP_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    assert!(
        Path::new(&chromium).is_file(),
        "the dashboard test needs Chromium at {chromium} (apt-get install chromium, or set WASAP_CHROMIUM)"
    );
    let e2e = workspace().join("tests/e2e");
    install_playwright(&e2e);

    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    // The page must follow a rotation: rotate every second instead of every 20.
    config.sim_qr_interval_secs = 1;
    config.webhook_attempts = ATTEMPTS;
    config.webhook_backoff_ms = vec![50];
    let server = TestServer::start_with(config).await;
    let mut receiver = WebhookReceiver::start().await;
    receiver.set(HOOK_PATH, Behaviour::FailFirst(ATTEMPTS as usize));
    let upload = tempfile::tempdir().expect("a folder for the upload");
    let (manifest_path, component_path) = plugin_to_upload(upload.path());
    let screenshots = workspace().join("target/screenshots/dashboard");
    std::fs::create_dir_all(&screenshots).expect("create the screenshot folder");

    let mut node = Command::new("node");
    node.arg("dashboard.mjs")
        .current_dir(&e2e)
        .env("WASAP_URL", server.url(""))
        .env("WASAP_TOKEN", &server.admin_token)
        .env("WASAP_CHROMIUM", &chromium)
        .env("WASAP_WEBHOOK_URL", receiver.url(HOOK_PATH))
        .env("WASAP_SCREENSHOTS", &screenshots)
        .env("WASAP_UPLOAD_MANIFEST", &manifest_path)
        .env("WASAP_UPLOAD_COMPONENT", &component_path);
    // The server runs on this test's runtime: wait for the browser elsewhere.
    let output = tokio::task::spawn_blocking(move || node.output())
        .await
        .expect("the waiting thread")
        .unwrap_or_else(|e| panic!("cannot run node (the dashboard test needs Node.js: apt-get install nodejs): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser test failed ({}):\n{stdout}\n{stderr}",
        output.status
    );

    // What the page did, as the API sees it.
    let admin = server.admin();
    let (_, instance) = admin.get("/api/instances/e2e").await;
    assert_eq!(instance["status"], "online", "{instance}");
    assert_eq!(instance["phone_number"], "6281234500001", "{instance}");
    let (_, hooks) = admin.get("/api/instances/e2e/webhooks").await;
    let hooks = hooks["webhooks"].as_array().expect("webhooks").clone();
    assert!(
        hooks
            .iter()
            .any(|w| w["url"] == receiver.url(HOOK_PATH).as_str() && w["primary"] == true),
        "the webhook set on the page: {hooks:?}"
    );
    let (_, deliveries) = admin.get("/api/deliveries?instance_id=e2e").await;
    let deliveries = deliveries["deliveries"].as_array().expect("deliveries").clone();
    assert!(
        deliveries.iter().any(|d| d["status"] == "delivered"),
        "the retried delivery: {deliveries:?}"
    );
    // What the page sent, as the simulated network recorded it (oldest first).
    let (_, sent) = admin.get("/sim/instances/e2e/sent").await;
    let sent = sent["messages"].as_array().expect("sent messages").clone();
    let to_contact: Vec<_> = sent.iter().filter(|m| m["to"] == CONTACT_JID).collect();
    assert!(
        to_contact
            .iter()
            .any(|m| m["kind"] == "text" && m["text"] == "Halo dari dashboard"),
        "the text sent from the card: {sent:?}"
    );
    let reactions: Vec<_> = to_contact.iter().filter(|m| m["kind"] == "reaction").collect();
    assert_eq!(
        reactions.iter().map(|m| m["emoji"].as_str()).collect::<Vec<_>>(),
        [Some("👍"), Some("")],
        "the reaction from the feed, then its withdrawal: {sent:?}"
    );
    assert!(
        reactions.iter().all(|m| m["target_id"] == reactions[0]["target_id"]),
        "both on the same message: {sent:?}"
    );
    let (_, pacing) = admin.get("/api/instances/e2e/pacing").await;
    assert_eq!(
        (
            &pacing["pacing"]["per_minute"],
            &pacing["pacing"]["quiet_hours"]["timezone"]
        ),
        (&serde_json::json!(30), &serde_json::json!("Asia/Jakarta")),
        "the pacing set on the page, the quiet hours kept: {pacing}"
    );
    let (_, plugin) = admin.get("/api/plugins/webhook").await;
    assert_eq!(plugin["enabled"], false, "disabled on the page: {plugin}");
    let (_, plugin) = admin.get(&format!("/api/plugins/{UPLOADED}")).await;
    assert_eq!(
        (plugin["running"].as_bool(), plugin["builtin"].as_bool()),
        (Some(true), Some(false)),
        "uploaded on the page: {plugin}"
    );
    // The retry reached the receiver with the message the script sent.
    for failed in 0..ATTEMPTS {
        receiver
            .next(WAIT)
            .await
            .unwrap_or_else(|| panic!("failed attempt {failed} reached the receiver"));
    }
    let delivered = receiver
        .next(WAIT)
        .await
        .expect("the retried delivery reached the receiver");
    assert_eq!(
        delivered.json()["data"]["message"],
        "webhook check from the browser test",
        "{:?}",
        delivered.json()
    );
    server.stop().await;
}

/// A plugin for the page to upload, written to `dir`: the built-in WebSocket
/// output's component under another name, hearing only `system` events so
/// that it doubles no frame of the feed. Its manifest's and component's paths.
fn plugin_to_upload(dir: &Path) -> (PathBuf, PathBuf) {
    let source = std::fs::read_to_string(workspace().join("plugins/builtin/websocket/websocket.toml"))
        .expect("the websocket plugin's manifest");
    let manifest: Vec<String> = source
        .lines()
        .map(|line| {
            if line.starts_with("name = ") {
                format!("name = \"{UPLOADED}\"")
            } else if line.starts_with("events = ") {
                "events = [\"system\"]".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect();
    let (manifest_path, component_path) = (
        dir.join(format!("{UPLOADED}.toml")),
        dir.join(format!("{UPLOADED}.wasm")),
    );
    std::fs::write(&manifest_path, manifest.join("\n")).expect("write the manifest");
    std::fs::copy(workspace().join("host/builtin/websocket.wasm"), &component_path).expect("copy the component");
    (manifest_path, component_path)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace above tests/")
        .to_owned()
}

/// Installs `playwright-core` as `tests/e2e/package-lock.json` pins it, once.
fn install_playwright(dir: &Path) {
    // npm writes its hidden lock file last: without it an install was cut short.
    if dir.join("node_modules/.package-lock.json").is_file() {
        return;
    }
    // Not `npm ci`, which refuses a lock file that lacks other platforms'
    // optional packages; `--no-save` installs what the lock pins, rewriting nothing.
    let status = Command::new("npm")
        .args(["install", "--no-save", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run npm (the dashboard test needs Node.js with npm: apt-get install nodejs npm): {e}")
        });
    assert!(status.success(), "npm install in {} failed: {status}", dir.display());
}
