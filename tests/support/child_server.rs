//! A wasap server in a child process, for the tests that end it the way
//! `kill -9` does: nothing of the server survives but what it wrote (its
//! sockets, tasks and buffers die with the process, no shutdown code runs).
//!
//! The tests crate cannot name the `wasap` binary (`CARGO_BIN_EXE_*` exists
//! only inside the binary's own package, and `cargo test --test server` need
//! not even build it), so the test binary re-executes itself: the parent runs
//! the current executable with `--exact <entry> --nocapture` and the server's
//! flags in [`CHILD_ENV`]; the entry, a `#[test]` that calls
//! [`serve_if_child`], parses them as `wasap serve` does, starts the server
//! through `wasap::Server` (as `main.rs` does), prints its address and admin
//! token, and serves until it is killed, or until its stdin closes because
//! the parent went away. Without [`CHILD_ENV`] the entry returns at once.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bench_client::Process;

/// Holds the child's `wasap serve` flags, as a JSON array of strings.
pub const CHILD_ENV: &str = "WASAP_TEST_CHILD_SERVER";

/// What a child prints once it listens: this marker, the address, a space, the admin token.
const READY: &str = "wasap-test-child-ready ";

/// How long a child may take to start (it compiles the built-in plugins on a cold cache).
const START_WAIT: Duration = Duration::from_secs(60);

/// How many of a child's last log lines the parent keeps.
const LOG_KEPT: usize = 200;

/// A server running in a child process; killed (SIGKILL) when dropped.
pub struct ChildServer {
    process: Process,
    pub addr: SocketAddr,
    pub admin_token: String,
    log: ChildLog,
}

/// The last lines (at most `LOG_KEPT`) a child logged: its warnings and errors, or
/// what `WASAP_TEST_LOG` asks for. Outlives the child, so a test that fails
/// after a kill can still say what the killed server complained of.
#[derive(Clone, Default)]
pub struct ChildLog(Arc<Mutex<VecDeque<String>>>);

impl ChildLog {
    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().cloned().collect()
    }

    fn keep(&self, line: String) {
        let mut lines = self.0.lock().unwrap();
        if lines.len() == LOG_KEPT {
            lines.pop_front();
        }
        lines.push_back(line);
    }
}

impl ChildServer {
    /// Starts this test binary again as a server: `entry` is the full path of
    /// the `#[test]` that calls [`serve_if_child`], `flags` those of `wasap serve`.
    pub async fn start(entry: &str, flags: &[String]) -> ChildServer {
        ChildServer::start_with_env(entry, flags, &[]).await
    }

    /// [`ChildServer::start`], with `env` set in the child's environment
    /// (a test build's fault, say).
    pub async fn start_with_env(entry: &str, flags: &[String], env: &[(&str, &str)]) -> ChildServer {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut child = Command::new(exe)
            .args(["--exact", entry, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, serde_json::to_string(flags).expect("flags as JSON"))
            .envs(env.iter().copied())
            // Its stdin is the parent's lifeline: closed when the parent dies.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the child server");
        let stdout = child.stdout.take().expect("the child's stdout");
        let process = Process(child);
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let log = ChildLog::default();
        // Reads the ready line, then drains the rest so the child never
        // blocks on a full pipe, keeping the last lines of its log.
        std::thread::spawn({
            let log = log.clone();
            move || {
                let mut ready_tx = Some(ready_tx);
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    // Anywhere in the line: the harness may have begun it with the test's name.
                    match line.split_once(READY) {
                        Some((_, rest)) if ready_tx.is_some() => {
                            let _ = ready_tx.take().map(|tx| tx.send(rest.to_owned()));
                        }
                        _ => log.keep(line),
                    }
                }
            }
        });
        let line = tokio::time::timeout(START_WAIT, ready)
            .await
            .expect("the child server started in time")
            .expect("the child server ended before it listened (its panic is above)");
        let (addr, admin_token) = line.split_once(' ').expect("address and token");
        ChildServer {
            process,
            addr: addr.parse().expect("the child's address"),
            admin_token: admin_token.to_owned(),
            log,
        }
    }

    /// What the child logged (and logs from now on, until it ends).
    pub fn log(&self) -> ChildLog {
        self.log.clone()
    }

    /// The child's process id (to read its memory from `/proc/<pid>/status`, say).
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// `http://<addr>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An HTTP client that sends the admin token.
    pub fn admin(&self) -> crate::Api {
        crate::Api::at(self.base(), Some(&self.admin_token))
    }

    /// Sends SIGKILL and waits for the process to be gone; asserts it died of it.
    pub fn kill(mut self) {
        use std::os::unix::process::ExitStatusExt;
        // `Child::kill` is SIGKILL on Unix.
        self.process.0.kill().expect("SIGKILL the child server");
        let status = self.process.0.wait().expect("reap the child server");
        assert_eq!(status.signal(), Some(9), "the child server died of SIGKILL: {status:?}");
    }
}

/// In a child started by [`ChildServer::start`]: runs the server until the
/// process is killed or its stdin closes. Anywhere else: returns at once.
pub fn serve_if_child() {
    let Ok(flags) = std::env::var(CHILD_ENV) else { return };
    let flags: Vec<String> = serde_json::from_str(&flags).expect("the child's flags, as a JSON array");
    let config = wasap::Config::from_flags(flags).unwrap_or_else(|e| panic!("the child's flags: {e}"));
    // Warnings and errors (whatsapp-rust's too) to stdout, where the parent
    // keeps the last of them (`ChildLog`); rare enough to change no timing.
    let filter = std::env::var("WASAP_TEST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .try_init();
    let runtime = tokio::runtime::Runtime::new().expect("the child server's runtime");
    runtime.block_on(async {
        let server = wasap::Server::bind(config).await.expect("the child server starts");
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{READY}{} {}", server.local_addr(), server.admin_token()).expect("write the ready line");
        stdout.flush().expect("flush the ready line");
        drop(stdout);
        let (gone_tx, gone) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            let _ = gone_tx.send(());
        });
        server
            .run(async {
                let _ = gone.await;
            })
            .await
            .expect("the child server runs");
    });
}
