//! The log output: a server whose stdout is a pipe (a file, journald,
//! `docker logs`) writes no ANSI colour codes (issue 15, finding 8), and
//! clients that go away mid-request are no errors (finding 2).
//!
//! The server runs as a child process of this test binary (as in
//! `wasap_tests::child_server`), with its logging set up by
//! `wasap::logging::init` as `main.rs` does, and its stdout piped to the test.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasap_tests::bench_client::Process;
use wasap_tests::{TestDb, data_dir};

/// `--exact` path of [`child`].
const ENTRY: &str = "log_output::child";

/// Holds the child's `wasap serve` flags, as a JSON array.
const CHILD_ENV: &str = "WASAP_TEST_LOG_CHILD";

/// In a child started by [`piped_logs_carry_no_colour_codes`]: logs as the
/// binary does and serves until stdin closes. Anywhere else: nothing.
#[test]
fn child() {
    let Ok(flags) = std::env::var(CHILD_ENV) else { return };
    let flags: Vec<String> = serde_json::from_str(&flags).expect("the child's flags");
    let config = wasap::Config::from_flags(flags).expect("the child's flags parse");
    wasap::logging::init(&config.log);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let (gone_tx, gone) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
            let _ = gone_tx.send(());
        });
        wasap::run(config, async {
            let _ = gone.await;
        })
        .await
        .expect("the child server runs");
    });
}

/// The admin token the child runs with.
const TOKEN: &str = "log-output-test-admin-token-0123456789";

/// Ways a client goes away mid-request; the client addresses used, the
/// last one's abort certain to end its connection with an error.
async fn abort_requests(addr: std::net::SocketAddr) -> Vec<std::net::SocketAddr> {
    let mut used = Vec::new();
    // Half a body, then a reset.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    used.push(stream.local_addr().unwrap());
    let head = format!(
        "POST /api/instances HTTP/1.1\r\nHost: wasap\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"instance_id\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream.set_zero_linger().unwrap();
    drop(stream);
    // A large answer asked for, then a reset instead of reading it.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    used.push(stream.local_addr().unwrap());
    stream
        .write_all(b"GET /openapi.json HTTP/1.1\r\nHost: wasap\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1];
    let _ = tokio::time::timeout(wasap_tests::WAIT, stream.read_exact(&mut first)).await;
    stream.set_zero_linger().unwrap();
    drop(stream);
    // Half a head, then a close: an incomplete request, always.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    used.push(stream.local_addr().unwrap());
    stream.write_all(b"GET /health HTTP/1.1\r\nHost").await.unwrap();
    drop(stream);
    used
}

#[tokio::test]
async fn piped_logs_carry_no_colour_codes_and_client_aborts_are_no_errors() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let path = dir.path().display().to_string();
    let flags = [
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "sim",
        "--database-url",
        db.url(),
        "--data-dir",
        &path,
        "--plugins-dir",
        &format!("{path}/plugins.d"),
        "--api-token",
        TOKEN,
        "--log",
        "info,wasap=debug",
    ]
    .map(str::to_owned);
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", ENTRY, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, serde_json::to_string(&flags).unwrap())
        // What is checked is the pipe, not the user's preference.
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().unwrap();
    let process = Process(child);
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    // Until the server says it listens (it may compile the built-in plugins first).
    let mut output = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let listening = loop {
        let line = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .expect("the child server logs that it listens")
            .expect("the child server ended before it listened");
        output.push(line.clone());
        if line.contains("wasap listening") {
            break line;
        }
    };
    let addr: std::net::SocketAddr = listening
        .split_whitespace()
        .find_map(|field| field.strip_prefix("addr="))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {listening}"));
    let clients = abort_requests(addr).await;
    // Until the server has logged the last one's end (at debug).
    let last = format!("peer={} ", clients.last().unwrap());
    loop {
        let line = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .unwrap_or_else(|_| panic!("the aborted request was not logged: {output:#?}"))
            .expect("the child server ended");
        let done = line.contains(&last);
        output.push(line);
        if done {
            break;
        }
    }
    drop(process);
    while let Some(line) = lines.recv().await {
        output.push(line);
    }
    let of_clients: Vec<&String> = output
        .iter()
        .filter(|l| clients.iter().any(|c| l.contains(&format!("peer={c} "))))
        .collect();
    assert!(
        of_clients
            .iter()
            .all(|l| l.contains(" DEBUG ") && l.contains("ended by the client")),
        "{of_clients:#?}"
    );
    let errors: Vec<&String> = output.iter().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "errors logged: {errors:#?}");
    assert!(output.iter().any(|l| l.contains(" INFO ")), "{output:#?}");
    let coloured: Vec<&String> = output.iter().filter(|l| l.contains('\x1b')).collect();
    assert!(coloured.is_empty(), "escape codes in piped logs: {coloured:#?}");
}
