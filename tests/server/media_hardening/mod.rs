//! Media hardening (issue 15): media files served from disk in pieces, with
//! ranges and safe headers; retention by age, total size and instance; the
//! free-disk floor; uploads spooled to disk; media transfers bounded.
//!
//! The memory tests run the server as a child process and read its resident
//! memory (`VmRSS`) from `/proc`, so nothing of the test's own allocations counts.

mod retention;
mod serving;
mod uploads;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasap_tests::TestDb;

/// The contact whose messages the tests send.
const CONTACT: &str = "6281234567890";

/// Resident memory of process `pid`, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/<pid>/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// The highest resident memory of `pid` seen while sampling it for `period`.
async fn peak_rss(pid: u32, period: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + period;
    let mut peak = rss_bytes(pid);
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        peak = peak.max(rss_bytes(pid));
    }
    peak
}

/// A media file name as servers before per-instance directories generated
/// them (`<secs>-<32 hex>.<ext>`, directly in `media/`): such URLs keep working.
fn flat_name(ext: &str) -> String {
    format!("1700000000-{}.{ext}", hex::encode(rand::random::<[u8; 16]>()))
}

/// A TCP connection to `addr` on which `head` (request line and headers,
/// ending in the blank line) has been sent.
async fn raw_request(addr: SocketAddr, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the server");
    stream.write_all(head.as_bytes()).await.expect("send the request head");
    stream
}

/// Reads a response head (up to its blank line) byte by byte, so nothing of
/// the body is taken from the socket.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(wasap_tests::WAIT, stream.read(&mut byte))
            .await
            .expect("the response head in time")
            .expect("read the response head");
        assert!(
            n == 1,
            "the connection closed after {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("an ASCII response head")
}

/// `wasap serve` flags of a child server on the sim engine, `db` and `dir`, plus `extra`.
fn child_flags(db: &TestDb, dir: &Path, extra: &[&str]) -> Vec<String> {
    let dir = dir.display().to_string();
    let mut flags: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "sim",
        "--allow-private-urls",
        "--database-url",
        db.url(),
        "--data-dir",
        &dir,
        "--plugins-dir",
        &format!("{dir}/plugins.d"),
        "--log",
        "warn",
    ]
    .map(str::to_owned)
    .to_vec();
    flags.extend(extra.iter().map(|s| (*s).to_owned()));
    flags
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
