//! Servers run as child processes of this test binary (see
//! `wasap_tests::child_server`), for the tests that end one with `kill -9`:
//! the entry a child runs, and what those tests share: a child's flags on
//! the test's engine, database and data directory, starting and restarting
//! it, and an instance linked and online on it.

use std::path::Path;

use serde_json::json;
use wasap_tests::TestDb;
use wasap_tests::child_server::ChildServer;
use wasap_tests::engines::{Driver, Whatsapp};
use wasap_tests::websocket::{self as ws, Token};

/// `--exact` path of [`server`].
pub const ENTRY: &str = "child::server";

/// Serves only in a child started by `ChildServer::start`; in a normal test
/// run there is nothing to check and it returns at once.
#[test]
fn server() {
    wasap_tests::child_server::serve_if_child();
}

/// `wasap serve` flags of a child server on `db` and `dir` on `whatsapp`'s
/// engine, reconnecting within 200 ms, with `extra` flags after them.
pub fn flags(whatsapp: &Whatsapp, db: &TestDb, dir: &Path, extra: &[&str]) -> Vec<String> {
    let dir = dir.display().to_string();
    let mut flags: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        db.url(),
        "--data-dir",
        &dir,
        "--plugins-dir",
        &format!("{dir}/plugins.d"),
        "--reconnect-min-ms",
        "20",
        "--reconnect-max-ms",
        "200",
        "--log",
        "warn",
    ]
    .map(str::to_owned)
    .to_vec();
    flags.extend(extra.iter().map(|flag| (*flag).to_owned()));
    flags.extend(whatsapp.engine_flags());
    flags
}

/// Starts a child server with `flags`.
pub async fn start(flags: &[String]) -> ChildServer {
    ChildServer::start(ENTRY, flags).await
}

/// Starts a child server with `flags` and `env` in its environment.
pub async fn start_with_env(flags: &[String], env: &[(&str, &str)]) -> ChildServer {
    ChildServer::start_with_env(ENTRY, flags, env).await
}

/// Ends `server` as `kill -9` does and starts another with `flags` (the same
/// database and data directory): nothing of the first survives but what it wrote.
pub async fn restart(server: ChildServer, flags: &[String]) -> ChildServer {
    server.kill();
    start(flags).await
}

/// Creates instance `id` on `server`, links it as `phone` (push name "Shop")
/// and waits until it is online; WhatsApp's side of it.
pub async fn online(whatsapp: &Whatsapp, server: &ChildServer, id: &str, phone: &str) -> Driver {
    let mut global = ws::open_to(server.addr, "/ws", Token::Header(&server.admin_token)).await;
    let (status, created) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": id }))
        .await;
    assert_eq!(status, 201, "{created}");
    let driver = whatsapp.child_driver(server, id);
    driver.scan(phone, "Shop").await;
    while global.wait_event("instance.status").await.0["data"]["status"] != "online" {}
    driver
}
