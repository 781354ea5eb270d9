//! Media retention: by age, by total size (oldest first), and with the
//! instance it came to; and the free-disk floor under which new media is
//! not stored (the message still arrives, with `download_error`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::json;
use wasap::events::{EventKind, Media};
use wasap_tests::{TestDb, TestServer, WAIT, data_dir, online, sim_config};

use super::{CONTACT, files_under, flat_name};

/// Writes `size` bytes to a new file in `staging`, dated `age` ago, and
/// moves it to `dest` (a rename keeps the date, so a sweep never sees the
/// file undated).
fn aged_file(staging: &Path, dest: PathBuf, size: usize, age: Duration) -> PathBuf {
    std::fs::create_dir_all(staging).unwrap();
    let temporary = staging.join(dest.file_name().unwrap());
    std::fs::write(&temporary, vec![7u8; size]).unwrap();
    let file = std::fs::File::options().write(true).open(&temporary).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
    drop(file);
    std::fs::rename(&temporary, &dest).unwrap();
    dest
}

/// Waits (up to [`WAIT`]) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status_of(server: &TestServer, file: &Path) -> u16 {
    let name = file.file_name().unwrap().to_str().unwrap();
    server
        .client(None)
        .get_raw(&format!("/statics/media/{name}"), None)
        .await
        .status()
        .as_u16()
}

/// A contact sends instance `id` an image; the media of the event the host published.
async fn incoming_image(server: &mut TestServer, id: &str, bytes: &[u8]) -> Media {
    let message_id = server
        .sim(id)
        .incoming(json!({
            "from": CONTACT, "kind": "image",
            "media": { "base64": base64::engine::general_purpose::STANDARD.encode(bytes), "mime_type": "image/jpeg" },
        }))
        .await;
    let (event, _) = server
        .events
        .wait_for(
            "the image",
            |e| matches!(&e.kind, EventKind::Message(m) if m.id == message_id),
        )
        .await;
    let EventKind::Message(message) = &event.kind else {
        unreachable!()
    };
    message.content.media().expect("an image has media").clone()
}

#[tokio::test]
async fn media_older_than_the_retention_age_is_deleted() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.media_retention_days = 2;
    config.media_sweep_interval_ms = 50;
    let server = TestServer::start_with(config).await;
    let media = dir.path().join("media");
    let staging = dir.path().join("staging");
    let instance_dir = media.join("0123456789abcdef");
    std::fs::create_dir_all(&instance_dir).unwrap();
    let day = Duration::from_secs(24 * 3600);
    let instance_name = |ext: &str| format!("0123456789abcdef-{}", flat_name(ext));
    let young = aged_file(&staging, media.join(flat_name("jpg")), 100, day);
    let young_of_instance = aged_file(&staging, instance_dir.join(instance_name("pdf")), 100, day);
    // Written after start-up: a later sweep, not the first, finds them.
    let old = aged_file(&staging, media.join(flat_name("jpg")), 100, 3 * day);
    let old_of_instance = aged_file(&staging, instance_dir.join(instance_name("pdf")), 100, 3 * day);

    until("the old files are deleted", || {
        !old.exists() && !old_of_instance.exists()
    })
    .await;
    assert!(young.exists() && young_of_instance.exists(), "younger files are kept");
    assert_eq!(status_of(&server, &old).await, 404);
    assert_eq!(status_of(&server, &old_of_instance).await, 404);
    assert_eq!(status_of(&server, &young).await, 200);
    assert_eq!(status_of(&server, &young_of_instance).await, 200);
    server.stop().await;
}

#[tokio::test]
async fn media_over_the_total_cap_is_deleted_oldest_first() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.media_max_total_bytes = 2500;
    config.media_sweep_interval_ms = 50;
    let server = TestServer::start_with(config).await;
    let media = dir.path().join("media");
    let staging = dir.path().join("staging");
    let hour = Duration::from_secs(3600);
    // Five files of 1000 bytes, an hour apart, moved in newest first.
    let mut files: Vec<PathBuf> = (1..=5u32)
        .map(|hours| aged_file(&staging, media.join(flat_name("mp4")), 1000, hours * hour))
        .collect();
    files.reverse(); // oldest first
    until("the media is under its cap", || files_under(&media).len() <= 2).await;
    for (i, file) in files.iter().enumerate() {
        assert_eq!(file.exists(), i >= 3, "file {i} (0 is the oldest)");
    }
    assert_eq!(status_of(&server, &files[0]).await, 404);
    assert_eq!(status_of(&server, &files[4]).await, 200);
    server.stop().await;
}

#[tokio::test]
async fn deleting_an_instance_deletes_its_media() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000501").await;
    online(&mut server, "other", "6281100000502").await;
    let mut stored = Vec::new();
    for id in ["shop", "other", "shop"] {
        let media = incoming_image(&mut server, id, b"\xff\xd8\xff\xe0 a jpeg").await;
        let path = media.media_path.expect("stored");
        assert_eq!(
            server.client(None).get_raw(&format!("/{path}"), None).await.status(),
            200
        );
        stored.push((id, path));
    }
    let (doomed, kept): (Vec<_>, Vec<_>) = stored.into_iter().partition(|(id, _)| *id == "shop");
    let doomed: Vec<String> = doomed.into_iter().map(|(_, path)| path).collect();
    let kept: Vec<String> = kept.into_iter().map(|(_, path)| path).collect();
    assert_eq!(files_under(&dir.path().join("media")).len(), 3);

    let (status, body) = server.admin().delete("/api/instances/shop").await;
    assert!(status < 300, "{status} {body}");
    for path in &doomed {
        assert_eq!(
            server.client(None).get_raw(&format!("/{path}"), None).await.status(),
            404,
            "{path}"
        );
    }
    assert_eq!(
        server
            .client(None)
            .get_raw(&format!("/{}", kept[0]), None)
            .await
            .status(),
        200
    );
    let left = files_under(&dir.path().join("media"));
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(kept[0].ends_with(left[0].file_name().unwrap().to_str().unwrap()));
    server.stop().await;
}

#[tokio::test]
async fn under_the_free_disk_floor_the_message_arrives_without_its_media() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    // More than any disk has free.
    config.media_min_free_bytes = u64::MAX;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6281100000503").await;
    let media = incoming_image(&mut server, "shop", b"\xff\xd8\xff\xe0 a jpeg").await;
    assert_eq!(media.media_path, None);
    let error = media.download_error.expect("the reason is told");
    assert!(error.contains("free"), "{error}");
    assert!(files_under(&dir.path().join("media")).is_empty(), "no file is stored");

    // Uploads are refused too, before anything is written.
    let form = reqwest::multipart::Form::new().text("to", CONTACT).part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.7 a pdf".to_vec())
            .file_name("a.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let response = reqwest::Client::new()
        .post(server.url("/api/send/shop/media"))
        .bearer_auth(&server.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 507);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_storage");
    server.stop().await;
}
