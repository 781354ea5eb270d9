//! Data at rest (issue 15): the data directory and what the server keeps in
//! it (the SQLite database and its WAL, media, the admin token and the
//! webhook secret) are the owner's alone (0700 directories, 0600 files), an
//! existing looser data directory is tightened at start, and plugins are
//! read from `<data-dir>/plugins.d` unless a plugins directory is set.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine as _;
use serde_json::json;
use wasap::events::EventKind;
use wasap_tests::plugins::{component, manifest};
use wasap_tests::{TestDb, TestServer, data_dir, online, sim_config};

const CONTACT: &str = "6281234567890";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_data_directory_and_its_files_are_private_to_the_owner() {
    let db = TestDb::new().await;
    let root = data_dir();
    // Not there yet: the server creates it.
    let data = root.path().join("data");
    let mut config = sim_config(&db, &data);
    // The default database: the SQLite file in the data directory.
    config.database_url = None;
    // A global webhook, so that the server generates and keeps its secret.
    config.webhooks = vec!["http://127.0.0.1:9/hook".to_owned()];
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6281100000401").await;
    let bytes = b"\xff\xd8\xff\xe0 a jpeg";
    let id = server
        .sim("shop")
        .incoming(json!({
            "from": CONTACT, "kind": "image",
            "media": { "base64": base64::engine::general_purpose::STANDARD.encode(bytes), "mime_type": "image/jpeg" },
        }))
        .await;
    let (event, _) = server
        .events
        .wait_for("the image", |e| matches!(&e.kind, EventKind::Message(m) if m.id == id))
        .await;
    let EventKind::Message(message) = &event.kind else {
        unreachable!()
    };
    let media_path = message
        .content
        .media()
        .and_then(|m| m.media_path.clone())
        .expect("stored");
    let name = media_path.trim_start_matches("statics/media/");
    let file = find(&data.join("media"), name).expect("the media file is under <data-dir>/media");

    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(mode(&data.join("media")), 0o700, "the media directory");
    assert_eq!(mode(file.parent().unwrap()), 0o700, "the media file's directory");
    assert_eq!(mode(&file), 0o600, "a media file");
    for private in [
        "wasap.db",
        "wasap.db-wal",
        "wasap.db-shm",
        "admin_token",
        "webhook_secret",
    ] {
        assert_eq!(mode(&data.join(private)), 0o600, "{private}");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_existing_data_directory_is_tightened_at_start() {
    let db = TestDb::new().await;
    let root = data_dir();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // An empty file is a new SQLite database; this one is readable by all.
    std::fs::write(data.join("wasap.db"), b"").unwrap();
    std::fs::set_permissions(data.join("wasap.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut config = sim_config(&db, &data);
    config.database_url = None;
    let server = TestServer::start_with(config).await;
    let (status, _) = server.admin().get("/api/instances").await;
    assert_eq!(status, 200);
    assert_eq!(mode(&data), 0o700, "the data directory");
    for private in ["wasap.db", "wasap.db-wal", "wasap.db-shm"] {
        assert_eq!(mode(&data.join(private)), 0o600, "{private}");
    }
    server.stop().await;
}

#[tokio::test]
async fn plugins_are_read_from_the_data_directory_by_default() {
    const PROBE: &str = "tests/plugins/probe";
    let db = TestDb::new().await;
    let dir = data_dir();
    let plugins = dir.path().join("plugins.d");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(plugins.join("probe.wasm"), component(PROBE)).unwrap();
    std::fs::write(plugins.join("probe.toml"), manifest(PROBE)).unwrap();
    // Exactly as `wasap serve --data-dir DIR` parses it: no plugins directory given.
    let data = dir.path().display().to_string();
    let config = wasap::Config::from_flags([
        "--data-dir",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "sim",
        "--database-url",
        db.url(),
    ])
    .unwrap();
    let server = TestServer::start_with(config).await;
    let (status, body) = server.admin().get("/api/plugins/probe").await;
    assert_eq!(status, 200, "the plugin in <data-dir>/plugins.d is loaded: {body}");
    server.stop().await;
}

/// The file named `name` somewhere under `dir`.
fn find(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let found = if path.is_dir() {
            find(&path, name)
        } else {
            path.file_name().is_some_and(|n| n == name).then_some(path)
        };
        if found.is_some() {
            return found;
        }
    }
    None
}
