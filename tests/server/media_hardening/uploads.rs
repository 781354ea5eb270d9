//! Uploads and `mediaUrl` fetches: an upload is spooled to a file, not held
//! in memory while it arrives, and media transfers are bounded per instance
//! and server-wide.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use wasap_tests::child_server::ChildServer;
use wasap_tests::{TestDb, TestServer, data_dir, online, sim_config};

use super::{CONTACT, child_flags, peak_rss, raw_request, read_head, rss_bytes};

const BOUNDARY: &str = "wasap-test-boundary";

/// The multipart body around a file: what goes before its bytes and what after.
fn form_around_file(to: &str, file_name: &str, content_type: &str) -> (String, String) {
    let before = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{to}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    );
    let after = format!("\r\n--{BOUNDARY}--\r\n");
    (before, after)
}

/// The head of an upload to instance `id` of `length` body bytes.
fn upload_head(id: &str, token: &str, length: usize, expect_continue: bool) -> String {
    let expect = if expect_continue {
        "Expect: 100-continue\r\n"
    } else {
        ""
    };
    format!(
        "POST /api/send/{id}/media HTTP/1.1\r\nHost: wasap\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n{expect}\r\n"
    )
}

/// Pairs instance `id` of a child server and waits until it is online.
async fn online_child(server: &ChildServer, id: &str, phone: &str) {
    let admin = server.admin();
    let (status, body) = admin
        .post("/api/instances", serde_json::json!({ "instance_id": id }))
        .await;
    assert_eq!(status, 201, "{body}");
    admin.get(&format!("/api/instances/{id}/qr")).await;
    server.sim(id).scan(phone).await;
    let deadline = tokio::time::Instant::now() + wasap_tests::WAIT;
    loop {
        let (_, info) = admin.get(&format!("/api/instances/{id}")).await;
        if info["status"] == "online" {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} never came online: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_large_upload_is_spooled_to_disk_not_held_in_memory() {
    const SIZE: usize = 80 << 20;
    const CHUNK: usize = 1 << 20;
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = ChildServer::start(crate::child::ENTRY, &child_flags(&db, dir.path(), &[])).await;
    online_child(&server, "up", "6281100000301").await;
    let (before_file, after_file) = form_around_file(CONTACT, "big.pdf", "application/pdf");
    let length = before_file.len() + SIZE + after_file.len();
    let baseline = rss_bytes(server.pid());

    let mut stream = raw_request(server.addr, &upload_head("up", &server.admin_token, length, false)).await;
    stream.write_all(before_file.as_bytes()).await.unwrap();
    let mut chunk = vec![b'%'; CHUNK];
    chunk[..9].copy_from_slice(b"%PDF-1.7\n");
    // All of the file but its last mebibyte: the server has read most of it by now.
    for _ in 0..SIZE / CHUNK - 1 {
        stream.write_all(&chunk).await.unwrap();
        chunk[..9].copy_from_slice(b"more data");
    }
    let peak = peak_rss(server.pid(), Duration::from_millis(1000)).await;
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < SIZE as u64 / 2,
        "receiving {} bytes of an upload grew the server by {growth} bytes",
        SIZE - CHUNK
    );
    stream.write_all(&chunk).await.unwrap();
    stream.write_all(after_file.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let sent = server.sim("up").sent(1).await;
    assert_eq!(sent[0]["kind"], "document", "{sent:?}");
    server.kill();
}

/// Uploads a small PDF to instance `id` as the admin; the status and the error code, if any.
async fn small_upload(server: &TestServer, id: &str) -> (u16, Value) {
    let form = reqwest::multipart::Form::new().text("to", CONTACT).part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.7 small".to_vec())
            .file_name("small.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let response = reqwest::Client::new()
        .post(server.url(&format!("/api/send/{id}/media")))
        .bearer_auth(&server.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn media_transfers_are_bounded_per_instance_and_server_wide() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.media_transfers = 1;
    config.media_transfers_per_instance = 1;
    config.media_transfer_wait_ms = 100;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "a", "6281100000601").await;
    online(&mut server, "b", "6281100000602").await;

    // An upload to `a` that has sent only its head: the server asks for the
    // body (100 Continue) once the upload holds its transfer slot.
    let (before_file, after_file) = form_around_file(CONTACT, "held.pdf", "application/pdf");
    let content = b"%PDF-1.7 held";
    let length = before_file.len() + content.len() + after_file.len();
    let mut held = raw_request(server.addr, &upload_head("a", &server.admin_token, length, true)).await;
    let head = read_head(&mut held).await;
    assert!(head.starts_with("HTTP/1.1 100"), "{head}");

    // The instance's bound: another upload or mediaUrl fetch of `a` is refused with 429.
    let (status, body) = small_upload(&server, "a").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("too_many_media_transfers")),
        "{body}"
    );
    let (status, body) = server
        .admin()
        .post(
            "/api/send/a/media-url",
            json!({ "to": CONTACT, "mediaUrl": "http://127.0.0.1:9/never-fetched.pdf" }),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("too_many_media_transfers")),
        "{body}"
    );
    // The server's bound: `b` has none in flight, but the server's one slot is taken: 503.
    let (status, body) = small_upload(&server, "b").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("too_many_media_transfers")),
        "{body}"
    );

    // The held upload completes, and gives its slot back.
    held.write_all(before_file.as_bytes()).await.unwrap();
    held.write_all(content).await.unwrap();
    held.write_all(after_file.as_bytes()).await.unwrap();
    let head = read_head(&mut held).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (status, body) = small_upload(&server, "a").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = small_upload(&server, "b").await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}
