//! The plugin host under abuse, black-box: an idle server does not reload its
//! plugins, a plugin spinning at its ceiling does not hold up the API, manifests
//! above the server's ceilings are refused, refused uploads leave nothing
//! behind, unused compiled artifacts are collected, and installs of one name
//! are one at a time.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasap::events::EventKind;
use wasap_tests::child_server::ChildServer;
use wasap_tests::file_server::fixtures::sha256_hex;
use wasap_tests::plugins::{PROBE, component, install, probe_manifest, workspace_root};
use wasap_tests::websocket::{self as ws, Token};
use wasap_tests::{Events, TestDb, TestServer, WAIT, data_dir, sim_config};

/// The contact whose messages the tests send.
const CONTACT: &str = "6281234567890";

async fn install_ok(server: &TestServer, manifest: &str) -> Value {
    let (status, body) = install(server, manifest, component(PROBE)).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn plugin(server: &TestServer, name: &str) -> Value {
    let (status, body) = server.admin().get(&format!("/api/plugins/{name}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Drops plugin `name` (an echoing probe) into the plugins directory and waits
/// until the server says it loaded: proof that the watcher has handled every
/// change made before (it handles them in order).
async fn drop_and_wait_loaded(server: &mut TestServer, name: &str) {
    let dir = server.data_dir.join("plugins.d");
    std::fs::write(dir.join(format!("{name}.wasm")), component(PROBE)).unwrap();
    std::fs::write(dir.join(format!("{name}.toml")), probe_manifest(name, "echo", 100, "")).unwrap();
    wait_system(&mut server.events, &format!("plugin loaded: {name} ")).await;
}

/// Waits for a `system` event whose message starts with `prefix`; the events before it.
async fn wait_system(events: &mut Events, prefix: &str) -> Vec<std::sync::Arc<wasap::events::Event>> {
    events
        .wait_for(
            &format!("a system event `{prefix}...`"),
            |e| matches!(&e.kind, EventKind::System { message } if message.starts_with(prefix)),
        )
        .await
        .1
}

/// Changes everything about a file but its content: opened, read, opened for
/// writing and closed unwritten, its times set (what `touch` does).
fn touch(path: &Path) {
    std::fs::read(path).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    drop(file);
}

#[tokio::test]
async fn an_idle_server_does_not_reload_its_plugins_and_a_touch_changes_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    // One plugin dropped into the directory before start-up, one uploaded.
    let plugins_dir = dir.path().join("plugins.d");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    std::fs::write(plugins_dir.join("beta.wasm"), component(PROBE)).unwrap();
    std::fs::write(plugins_dir.join("beta.toml"), probe_manifest("beta", "echo", 100, "")).unwrap();
    let mut server = TestServer::start(&db, dir.path()).await;
    install_ok(&server, &probe_manifest("alpha", "echo", 100, "")).await;
    // The watcher has seen the upload's own writes once this later change is loaded.
    drop_and_wait_loaded(&mut server, "marker").await;
    let loads = |info: &Value| info["loads"].as_u64().expect("loads");
    let (alpha, beta) = (
        loads(&plugin(&server, "alpha").await),
        loads(&plugin(&server, "beta").await),
    );
    assert_eq!((alpha, beta), (1, 1), "each loaded once: at start-up or by its upload");

    // Both are read, reopened and touched; then a change of another plugin.
    for name in ["alpha", "beta"] {
        touch(&plugins_dir.join(format!("{name}.wasm")));
        touch(&plugins_dir.join(format!("{name}.toml")));
    }
    // Changes are handled in name order within a batch, and batches in order:
    // once zeta is loaded, whatever the touches caused has happened.
    let seen = {
        let dir = plugins_dir.clone();
        std::fs::write(dir.join("zeta.wasm"), component(PROBE)).unwrap();
        std::fs::write(dir.join("zeta.toml"), probe_manifest("zeta", "echo", 100, "")).unwrap();
        wait_system(&mut server.events, "plugin loaded: zeta ").await
    };
    assert_eq!(loads(&plugin(&server, "alpha").await), alpha, "alpha was not reloaded");
    assert_eq!(loads(&plugin(&server, "beta").await), beta, "beta was not reloaded");
    assert!(
        !seen.iter().any(|e| matches!(&e.kind, EventKind::System { message } if message.contains("alpha") || message.contains("beta"))),
        "{seen:#?}"
    );
    let metrics = server.admin().get_raw("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("wasap_plugin_reloads_total{plugin=\"alpha\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wasap_plugin_reloads_total{plugin=\"beta\"} 1\n"),
        "{metrics}"
    );

    // A real change still reloads.
    let changed = probe_manifest("alpha", "echo", 100, "").replace("tag = \"alpha\"", "tag = \"v2\"");
    std::fs::write(plugins_dir.join("alpha.toml"), changed).unwrap();
    wait_system(&mut server.events, "plugin reloaded: alpha ").await;
    assert_eq!(loads(&plugin(&server, "alpha").await), alpha + 1);
    server.stop().await;
}

/// `wasap serve` flags for a child server in `dir` whose plugins may run at
/// most `deadline_ms` per call. Its database is the SQLite file in `dir`
/// whatever engine the suite runs on: `/health` writes to the database once a
/// second, and a PostgreSQL commit waits for an fsync, whose latency on a
/// busy machine says nothing about the plugins.
fn child_flags(dir: &Path, deadline_ms: u32) -> Vec<String> {
    let dir = dir.display().to_string();
    [
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "sim",
        "--allow-private-urls",
        "--data-dir",
        &dir,
        "--plugins-dir",
        &format!("{dir}/plugins.d"),
        "--reconnect-min-ms",
        "20",
        "--plugin-max-deadline-ms",
        &deadline_ms.to_string(),
        "--log",
        "warn",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test]
async fn health_answers_within_100ms_while_plugins_spin_at_their_ceiling() {
    const CEILING_MS: u32 = 1000;
    // Twice as many spinning calls as the child has runtime workers (one per
    // core), so that without yielding every worker would be held, whichever
    // worker each call starts on. (The CPU they take is that of the workers
    // however many there are.)
    let spinners = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
    let dir = data_dir();
    // A process of its own, with a runtime like the binary's (one worker per core).
    let server = ChildServer::start(crate::child::ENTRY, &child_flags(dir.path(), CEILING_MS)).await;
    let admin = server.admin();
    let mut global = ws::open_to(server.addr, "/ws", Token::Header(&server.admin_token)).await;
    for i in 0..spinners {
        let id = format!("spin{i}");
        let (status, created) = admin.post("/api/instances", json!({ "instance_id": id })).await;
        assert_eq!(status, 201, "{created}");
        admin.get(&format!("/api/instances/{id}/qr")).await;
        server.sim(&id).scan(&format!("62811000003{i:02}")).await;
        loop {
            let (frame, _) = global.wait_event("instance.status").await;
            if frame["data"]["instance_id"] == id.as_str() && frame["data"]["status"] == "online" {
                break;
            }
        }
    }
    // Fuel to spare: the deadline, at the ceiling, is what stops the loop.
    let manifest = probe_manifest("spinner", "loop", 10, "")
        .replace("deadline_ms = 500", &format!("deadline_ms = {CEILING_MS}"))
        .replace("fuel = 50_000_000", "fuel = 100_000_000_000");
    let form = reqwest::multipart::Form::new().text("manifest", manifest).part(
        "component",
        reqwest::multipart::Part::bytes(component(PROBE)).file_name("p.wasm"),
    );
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/plugins", server.base()))
        .bearer_auth(&server.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());

    // The connection and the database pool warmed up, so that only the plugins can slow /health.
    for _ in 0..20 {
        let response = client.get(format!("{}/health", server.base())).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    // Every instance's worker runs the spinner at once.
    for i in 0..spinners {
        server.sim(&format!("spin{i}")).text(CONTACT, "spin").await;
    }
    let started = Instant::now();
    // The spinning events are pending in the plugins (`/metrics`) until
    // their calls reach the deadline.
    let mut pending = admin.metric("wasap_plugin_events_pending").await;
    while pending < 1.0 {
        assert!(started.elapsed() < WAIT, "no event pending while plugins spin");
        pending = admin.metric("wasap_plugin_events_pending").await;
    }
    let (mut round_trips, mut slowest) = (0usize, Duration::ZERO);
    loop {
        let sent = Instant::now();
        let response = client.get(format!("{}/health", server.base())).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        let took = sent.elapsed();
        slowest = slowest.max(took);
        assert!(
            took < Duration::from_millis(100),
            "/health took {took:?} while plugins spin (round trip {round_trips})"
        );
        round_trips += 1;
        if round_trips.is_multiple_of(20) {
            let (_, info) = admin.get("/api/plugins/spinner").await;
            if info["stats"]["errors"] == spinners {
                let error = info["stats"]["last_error"].as_str().unwrap_or_default().to_owned();
                assert!(error.contains("exceeded its deadline"), "{info}");
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the spinners never stopped"
        );
    }
    // The measurements covered the spinning: every call ran to its deadline.
    assert!(
        started.elapsed() >= Duration::from_millis(CEILING_MS.into()),
        "{:?}",
        started.elapsed()
    );
    // Once every call is over, nothing is pending.
    admin.plugins_settled().await;
    println!(
        "{round_trips} /health round trips in {:?} while {spinners} plugins spun for {CEILING_MS} ms each; slowest {slowest:?}",
        started.elapsed()
    );
    server.kill();
}

#[tokio::test]
async fn manifests_above_the_servers_ceilings_are_refused() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.plugin_max_deadline_ms = 2000;
    config.plugin_max_fuel = 1_000_000_000;
    let mut server = TestServer::start_with(config).await;
    let probe = probe_manifest("greedy", "echo", 100, "");
    for (field, from, to, setting) in [
        (
            "fuel",
            "fuel = 50_000_000",
            "fuel = 18446744073709551615",
            "WASAP_PLUGIN_MAX_FUEL",
        ),
        (
            "deadline_ms",
            "deadline_ms = 500",
            "deadline_ms = 4233600000",
            "WASAP_PLUGIN_MAX_DEADLINE_MS",
        ),
        (
            "memory_mb",
            "memory_mb = 16",
            "memory_mb = 1024",
            "WASAP_PLUGIN_MAX_MEMORY_MB",
        ),
    ] {
        let (status, body) = install(&server, &probe.replace(from, to), component(PROBE)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("plugin_limits_too_high")),
            "{field}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("limits.{field}")) && message.contains(setting),
            "{message}"
        );
    }
    let plugins_dir = dir.path().join("plugins.d");
    let files = |dir: &Path| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files(&plugins_dir), 0, "nothing of the refused uploads was written");
    // At the ceilings is fine.
    let at = probe
        .replace("fuel = 50_000_000", "fuel = 1_000_000_000")
        .replace("deadline_ms = 500", "deadline_ms = 2000")
        .replace("memory_mb = 16", "memory_mb = 256");
    let (status, body) = install(&server, &at, component(PROBE)).await;
    assert_eq!(status, 201, "{body}");

    // Files dropped into the directory are refused the same way, and say why.
    std::fs::write(plugins_dir.join("sneaky.wasm"), component(PROBE)).unwrap();
    let sneaky = probe_manifest("sneaky", "echo", 100, "").replace("deadline_ms = 500", "deadline_ms = 60000");
    std::fs::write(plugins_dir.join("sneaky.toml"), sneaky).unwrap();
    server
        .events
        .wait_for("a plugin_error event about sneaky's limits", |e| {
            matches!(&e.kind, EventKind::PluginError { plugin, error } if plugin == "sneaky" && error.contains("ceiling"))
        })
        .await;
    let info = plugin(&server, "sneaky").await;
    assert_eq!(info["running"], false, "{info}");
    assert!(
        info["load_error"]
            .as_str()
            .is_some_and(|e| e.contains("limits.deadline_ms = 60000") && e.contains("ceiling of 2000")),
        "{info}"
    );
    server.stop().await;
}

/// The names of the files in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The artifact names of the built-in outputs' committed components.
fn builtin_artifacts() -> Vec<String> {
    let mut names: Vec<String> = ["webhook", "websocket"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(workspace_root().join(format!("host/builtin/{name}.wasm"))).unwrap();
            format!("{}.cwasm", sha256_hex(&bytes))
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn refused_uploads_leave_nothing_behind_and_unused_artifacts_are_collected() {
    let db = TestDb::new().await;
    let dir = data_dir();
    // An artifact of a plugin long gone, and a partial one a crash left.
    let cache = dir.path().join("plugin-cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join(format!("{}.cwasm", "ab".repeat(32))), b"stale").unwrap();
    let partial = cache.join(format!("{}.cwasm.partial", "cd".repeat(32)));
    std::fs::write(&partial, b"half").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&partial)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let server = TestServer::start(&db, dir.path()).await;
    let builtins = builtin_artifacts();
    assert_eq!(names_in(&cache), builtins, "only the loaded plugins' artifacts stay");

    // A plugin whose init refuses its config: refused, and nothing is kept.
    let (status, body) = install(
        &server,
        &probe_manifest("picky", "echo", 100, "bogus = 1"),
        component(PROBE),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_plugin")),
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("init failed"),
        "{body}"
    );
    let plugins_dir = dir.path().join("plugins.d");
    assert_eq!(names_in(&plugins_dir), Vec::<String>::new());
    assert_eq!(names_in(&cache), builtins, "no artifact of the refused component");
    let (status, _) = server.admin().get("/api/plugins/picky").await;
    assert_eq!(status, 404);

    // One that starts is kept, with its artifact; deleting it collects the artifact.
    install_ok(&server, &probe_manifest("kept", "echo", 100, "")).await;
    let probe_artifact = format!("{}.cwasm", sha256_hex(&component(PROBE)));
    assert!(names_in(&cache).contains(&probe_artifact), "{:?}", names_in(&cache));
    assert_eq!(names_in(&plugins_dir), ["kept.toml", "kept.wasm"]);
    let (status, _) = server.admin().delete("/api/plugins/kept").await;
    assert_eq!(status, 200);
    assert_eq!(names_in(&cache), builtins);
    server.stop().await;
}

#[tokio::test]
async fn concurrent_installs_of_one_name_leave_the_files_of_the_loaded_version() {
    const INSTALLS: usize = 6;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let manifests: Vec<String> = (0..INSTALLS)
        .map(|i| {
            probe_manifest("same", "echo", 100, "").replace("version = \"0.1.0\"", &format!("version = \"1.0.{i}\""))
        })
        .collect();
    let answers = futures::future::join_all(manifests.iter().map(|m| install(&server, m, component(PROBE)))).await;
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 201, "{body}");
        // Each install answers with the version it installed, not another's.
        assert_eq!(body["version"], format!("1.0.{i}"), "{body}");
    }
    // Once the watcher has seen all their writes, the files on disk are the loaded version.
    drop_and_wait_loaded(&mut server, "marker").await;
    let info = plugin(&server, "same").await;
    let plugins_dir = dir.path().join("plugins.d");
    let on_disk = std::fs::read_to_string(plugins_dir.join("same.toml")).unwrap();
    let version = info["version"].as_str().unwrap();
    assert!(
        on_disk.contains(&format!("version = \"{version}\"")),
        "loaded {version}, on disk:\n{on_disk}"
    );
    assert_eq!(
        info["digest"],
        sha256_hex(&std::fs::read(plugins_dir.join("same.wasm")).unwrap())
    );
    assert_eq!(info["load_error"], Value::Null, "{info}");
    assert_eq!(
        names_in(&plugins_dir),
        ["marker.toml", "marker.wasm", "same.toml", "same.wasm"],
        "no partial files left"
    );
    server.stop().await;
}
