//! `GET /statics/media/{file}`: streamed from disk (memory stays flat while
//! clients hold a large file unread), single byte ranges, and headers that
//! keep a browser from running what it downloads.

use std::time::Duration;

use wasap_tests::child_server::ChildServer;
use wasap_tests::{TestDb, TestServer, data_dir};

use super::{child_flags, flat_name, peak_rss, raw_request, read_head, rss_bytes};

#[tokio::test]
async fn unread_downloads_of_a_large_file_keep_memory_flat() {
    const SIZE: usize = 64 << 20;
    const CLIENTS: usize = 8;
    let db = TestDb::new().await;
    let dir = data_dir();
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let name = flat_name("mp4");
    std::fs::write(media.join(&name), vec![0x5a; SIZE]).unwrap();
    let server = ChildServer::start(crate::child::ENTRY, &child_flags(&db, dir.path(), &[])).await;
    let (status, _) = server.admin().get("/health").await;
    assert_eq!(status, 200);
    let before = rss_bytes(server.pid());

    // Each client reads the response head and then nothing more.
    let mut held = Vec::new();
    for _ in 0..CLIENTS {
        let request = format!("GET /statics/media/{name} HTTP/1.1\r\nHost: wasap\r\n\r\n");
        let mut stream = raw_request(server.addr, &request).await;
        let head = read_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains(&format!("content-length: {SIZE}")),
            "{head}"
        );
        held.push(stream);
    }
    let peak = peak_rss(server.pid(), Duration::from_millis(1500)).await;
    let growth = peak.saturating_sub(before);
    assert!(
        growth < SIZE as u64 / 2,
        "{CLIENTS} unread downloads of a {SIZE}-byte file grew the server by {growth} bytes"
    );
    drop(held);
    server.kill();
}

#[tokio::test]
async fn single_ranges_are_served_as_slices_and_bad_ones_refused() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let name = flat_name("pdf");
    std::fs::write(dir.path().join("media").join(&name), &body).unwrap();
    let url = server.url(&format!("/statics/media/{name}"));
    let http = reqwest::Client::new();
    let get = |range: Option<&'static str>| {
        let request = http.get(&url);
        let request = match range {
            Some(range) => request.header("range", range),
            None => request,
        };
        async move { request.send().await.expect("GET the media file") }
    };

    let whole = get(None).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-length"], "100000");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), body.as_slice());

    for (range, start, end) in [
        ("bytes=1000-1999", 1000usize, 2000usize),
        ("bytes=0-0", 0, 1),
        ("bytes=-500", 99_500, 100_000),
        ("bytes=99990-", 99_990, 100_000),
        ("bytes=99990-200000", 99_990, 100_000),
    ] {
        let response = get(Some(range)).await;
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {start}-{}/100000", end - 1).as_str(),
            "{range}"
        );
        assert_eq!(response.headers()["content-length"], (end - start).to_string().as_str());
        assert_eq!(response.headers()["content-type"], "application/pdf");
        assert_eq!(response.bytes().await.unwrap().as_ref(), &body[start..end], "{range}");
    }

    for range in ["bytes=100000-", "bytes=200000-200010", "bytes=-0"] {
        let response = get(Some(range)).await;
        assert_eq!(response.status(), 416, "{range}");
        assert_eq!(response.headers()["content-range"], "bytes */100000", "{range}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "range_not_satisfiable");
    }

    // Several ranges at once, or a range of another unit, are ignored: the whole file.
    for range in ["bytes=0-1,5-6", "items=0-1"] {
        let response = get(Some(range)).await;
        assert_eq!(response.status(), 200, "{range}");
        assert_eq!(response.bytes().await.unwrap().len(), body.len(), "{range}");
    }
    server.stop().await;
}

#[tokio::test]
async fn media_is_sent_with_nosniff_and_non_images_as_attachments() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let media = dir.path().join("media");
    for (ext, mime, attachment) in [
        ("jpg", "image/jpeg", false),
        ("webp", "image/webp", false),
        ("pdf", "application/pdf", true),
        ("txt", "text/plain", true),
        ("mp4", "video/mp4", true),
        ("bin", "application/octet-stream", true),
    ] {
        let name = flat_name(ext);
        std::fs::write(media.join(&name), b"<html><script>alert(1)</script></html>").unwrap();
        let response = server
            .client(None)
            .get_raw(&format!("/statics/media/{name}"), None)
            .await;
        assert_eq!(response.status(), 200, "{ext}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], mime, "{ext}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{ext}");
        assert_eq!(
            headers["cache-control"], "private, max-age=31536000, immutable",
            "{ext}"
        );
        let disposition = headers
            .get("content-disposition")
            .map(|v| v.to_str().unwrap().to_owned());
        if attachment {
            assert_eq!(
                disposition,
                Some(format!("attachment; filename=\"{name}\"")),
                "{ext} is downloaded, never shown inline"
            );
        } else {
            assert_eq!(disposition, None, "{ext} is shown inline");
        }
    }
    server.stop().await;
}
