//! Sending media by URL (`/api/send/{id}/media-url`,
//! `/api/by-number/{phone}/media-url`), with files served by a loopback
//! server the test starts: what the recipient got is the served file byte for
//! byte, by instance and by number, on both engines (on the real one the
//! contact decrypts it from the simulator's media server); the outbound-URL
//! policy and the size limits hold, and every failure of the fetch has its
//! own status and code (on the sim engine: they are all settled before
//! anything reaches WhatsApp).

use serde_json::{Value, json};
use wasap_tests::engines::{EngineUnderTest, MediaKind, Whatsapp};
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::file_server::{FileServer, Served};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

use crate::messaging::sent;

const TO: &str = "6281234567890";

fn error_code(answer: &(u16, Value)) -> (u16, Value) {
    (answer.0, answer.1["error"]["code"].clone())
}

both_engines!(
    each_media_kind_arrives_byte_exact_from_a_url,
    by_number_sends_from_the_instance_that_owns_the_number,
);

async fn each_media_kind_arrives_byte_exact_from_a_url(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    let token = whatsapp.online(&mut server, "shop", "6281100000051").await;
    let driver = whatsapp.driver(&server, "shop");
    driver.contact(TO, true).await;
    let (jpeg, mp4, ogg, pdf) = (fixtures::jpeg(), fixtures::mp4(), fixtures::ogg(), fixtures::pdf());
    let files = FileServer::start([
        ("/img/photo.jpg", Served::file("image/jpeg", &jpeg)),
        ("/v/clip", Served::file("application/octet-stream", &mp4)),
        ("/a/note.ogg", Served::file("audio/ogg; codecs=opus", &ogg)),
        (
            "/docs/invoice%202024.pdf",
            Served::File {
                content_type: None,
                body: pdf.clone(),
            },
        ),
    ])
    .await;
    let api = server.client(Some(&token));

    let mut sent = 0;
    for (path, bytes, given, kind, mime, file_name) in [
        (
            "/img/photo.jpg?sig=abc",
            &jpeg,
            None,
            MediaKind::Image,
            "image/jpeg",
            "photo.jpg",
        ),
        ("/v/clip", &mp4, None, MediaKind::Video, "video/mp4", "clip"),
        (
            "/a/note.ogg",
            &ogg,
            Some("audio"),
            MediaKind::Audio,
            "audio/ogg",
            "note.ogg",
        ),
        (
            "/docs/invoice%202024.pdf",
            &pdf,
            None,
            MediaKind::Document,
            "application/pdf",
            "invoice 2024.pdf",
        ),
        (
            "/img/photo.jpg",
            &jpeg,
            Some("document"),
            MediaKind::Document,
            "image/jpeg",
            "photo.jpg",
        ),
    ] {
        let mut body = json!({ "to": TO, "mediaUrl": files.url(path), "caption": "see this" });
        if let Some(given) = given {
            body["mediaType"] = json!(given);
        }
        let (status, answer) = api.post("/api/send/shop/media-url", body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer["to"], "6281234567890@s.whatsapp.net");
        assert!(
            answer["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{answer}"
        );
        sent += 1;
        let got = driver.media_sent_to(TO, sent).await;
        let last = got.last().expect("a media message");
        assert_eq!(last.message_id, answer["message_id"].as_str().unwrap());
        assert_eq!(last.kind, kind, "{path}");
        assert_eq!(last.sha256_hex, sha256_hex(bytes), "{path} arrives byte for byte");
        assert_eq!(last.mime_type.as_deref(), Some(mime), "{path}");
        // What WhatsApp carries: no caption on audio, a file name on documents only.
        let caption = (kind != MediaKind::Audio).then_some("see this");
        assert_eq!(last.caption.as_deref(), caption, "{path}");
        let file_name = (kind == MediaKind::Document).then_some(file_name);
        assert_eq!(last.file_name.as_deref(), file_name, "{path}");
    }
    // A document under the name the client gives, not the URL's.
    let body = json!({ "to": TO, "mediaUrl": files.url("/docs/invoice%202024.pdf"), "fileName": "Invoice März.pdf" });
    let (status, answer) = api.post("/api/send/shop/media-url", body).await;
    assert_eq!(status, 200, "{answer}");
    let got = driver.media_sent_to(TO, 6).await;
    let last = got.last().expect("a media message");
    assert_eq!(
        (last.kind, last.file_name.as_deref(), last.sha256_hex.as_str()),
        (MediaKind::Document, Some("Invoice März.pdf"), sha256_hex(&pdf).as_str())
    );
    // A name that is not one line, or too long, is refused before anything is fetched.
    for bad in ["two\nlines.pdf".to_owned(), "x".repeat(256)] {
        let body = json!({ "to": TO, "mediaUrl": files.url("/docs/invoice%202024.pdf"), "fileName": bad });
        let answer = api.post("/api/send/shop/media-url", body).await;
        assert_eq!(error_code(&answer), (422, json!("invalid_body")), "{answer:?}");
    }
    assert_eq!(driver.media_sent_to(TO, 6).await.len(), 6);
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn by_number_sends_from_the_instance_that_owns_the_number(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    let first = whatsapp.online(&mut server, "first", "6281100000061").await;
    whatsapp.online(&mut server, "second", "6281100000062").await;
    whatsapp.driver(&server, "second").contact(TO, true).await;
    let jpeg = fixtures::jpeg();
    let files = FileServer::start([("/photo.jpg", Served::file("image/jpeg", &jpeg))]).await;
    let body = json!({ "to": TO, "mediaUrl": files.url("/photo.jpg") });

    let (status, answer) = server
        .admin()
        .post("/api/by-number/6281100000062/media-url", body.clone())
        .await;
    assert_eq!(status, 200, "{answer}");
    let got = whatsapp.driver(&server, "second").media_sent_to(TO, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, answer["message_id"].as_str().unwrap());
    assert_eq!(got[0].kind, MediaKind::Image, "the kind is sniffed when not given");
    assert_eq!(got[0].sha256_hex, sha256_hex(&jpeg));
    assert_eq!(got[0].caption, None);
    assert!(
        whatsapp.driver(&server, "first").media_sent_to(TO, 0).await.is_empty(),
        "the other instance sent nothing"
    );

    let unknown = server
        .admin()
        .post("/api/by-number/6281100000069/media-url", body.clone())
        .await;
    assert_eq!(error_code(&unknown), (404, json!("instance_not_found")));
    // By number is for the admin; an instance token sends only as its own instance.
    let own = server.client(Some(&first));
    assert_eq!(
        own.post("/api/by-number/6281100000061/media-url", body.clone()).await.0,
        403
    );
    assert_eq!(own.post("/api/send/second/media-url", body.clone()).await.0, 403);
    assert_eq!(server.client(None).post("/api/send/first/media-url", body).await.0, 401);
    assert_eq!(whatsapp.driver(&server, "second").media_sent_to(TO, 1).await.len(), 1);
    server.stop().await;
    whatsapp.assert_all_handled();
}

#[tokio::test]
async fn refused_and_malformed_urls_fetch_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000071").await;
    let files = FileServer::start([("/photo.jpg", Served::file("image/jpeg", &fixtures::jpeg()))]).await;
    let admin = server.admin();
    let with_credentials = files.url("/photo.jpg").replace("http://", "http://user:secret@");

    for (url, status, code) in [
        ("ftp://example.com/photo.jpg".to_owned(), 422, "url_not_allowed"),
        ("file:///etc/passwd".to_owned(), 422, "url_not_allowed"),
        (with_credentials, 422, "url_not_allowed"),
        ("not a url".to_owned(), 422, "invalid_url"),
        ("/photo.jpg".to_owned(), 422, "invalid_url"),
        ("http://".to_owned(), 422, "invalid_url"),
    ] {
        let answer = admin
            .post("/api/send/shop/media-url", json!({ "to": TO, "mediaUrl": url }))
            .await;
        assert_eq!(error_code(&answer), (status, json!(code)), "{url}: {}", answer.1);
    }
    let url = files.url("/photo.jpg");
    for body in [
        json!({ "to": TO, "mediaUrl": url, "mediaType": "hologram" }),
        json!({ "to": TO, "mediaUrl": url, "media_url": url }),
        json!({ "to": TO }),
        json!({ "mediaUrl": url }),
    ] {
        let answer = admin.post("/api/send/shop/media-url", body.clone()).await;
        assert_eq!(error_code(&answer), (422, json!("invalid_body")), "{body}");
    }
    assert_eq!(files.connections(), 0, "nothing was fetched");
    assert!(sent(&server, "shop").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn loopback_urls_are_refused_unless_private_urls_are_allowed() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.allow_private_urls = false;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6281100000081").await;
    let files = FileServer::start([("/photo.jpg", Served::file("image/jpeg", &fixtures::jpeg()))]).await;

    for url in [
        files.url("/photo.jpg"),
        format!("http://localhost:{}/photo.jpg", files.port()),
        format!("http://[::ffff:127.0.0.1]:{}/photo.jpg", files.port()),
        format!("http://2130706433:{}/photo.jpg", files.port()),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/photo.jpg".to_owned(),
    ] {
        let answer = server
            .admin()
            .post("/api/send/shop/media-url", json!({ "to": TO, "mediaUrl": url }))
            .await;
        assert_eq!(
            error_code(&answer),
            (422, json!("url_not_allowed")),
            "{url}: {}",
            answer.1
        );
    }
    assert_eq!(files.connections(), 0, "the file server was never reached");
    assert!(sent(&server, "shop").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn media_over_the_limit_is_refused_with_413() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.max_image_bytes = 1024;
    config.max_video_bytes = 2048;
    config.max_audio_bytes = 2048;
    config.max_document_bytes = 4096;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6281100000091").await;
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 1500]].concat();
    let files = FileServer::start([
        ("/big.png", Served::file("image/png", &png)),
        ("/huge.pdf", Served::file("application/pdf", &[b'%'; 8000])),
    ])
    .await;
    let send = |url: String, media_type: Option<&str>| {
        let mut body = json!({ "to": TO, "mediaUrl": url });
        if let Some(media_type) = media_type {
            body["mediaType"] = json!(media_type);
        }
        let admin = server.admin();
        async move { admin.post("/api/send/shop/media-url", body).await }
    };

    // Over the image limit, whether the kind is given or sniffed.
    assert_eq!(
        error_code(&send(files.url("/big.png"), Some("image")).await),
        (413, json!("payload_too_large"))
    );
    assert_eq!(
        error_code(&send(files.url("/big.png"), None).await),
        (413, json!("payload_too_large"))
    );
    // Over every limit.
    assert_eq!(
        error_code(&send(files.url("/huge.pdf"), None).await),
        (413, json!("payload_too_large"))
    );
    // The same PNG fits as a document.
    let (status, answer) = send(files.url("/big.png"), Some("document")).await;
    assert_eq!(status, 200, "{answer}");
    let log = sent(&server, "shop").await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0]["kind"].clone(), log[0]["media_sha256"].clone()),
        (json!("document"), json!(sha256_hex(&png)))
    );
    server.stop().await;
}

#[tokio::test]
async fn upstream_failures_have_their_own_codes() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000101").await;
    let files = FileServer::start([
        ("/gone.jpg", Served::Status(404)),
        ("/broken.jpg", Served::Status(500)),
        ("/empty.jpg", Served::file("image/jpeg", b"")),
    ])
    .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/photo.jpg", closed.local_addr().unwrap());
    drop(closed);
    let admin = server.admin();

    for (url, status, code, says) in [
        (files.url("/gone.jpg"), 422, "media_fetch_failed", "404"),
        (files.url("/broken.jpg"), 422, "media_fetch_failed", "500"),
        (files.url("/empty.jpg"), 422, "media_fetch_failed", "empty"),
        (dead, 502, "media_fetch_failed", "failed"),
    ] {
        let (got, answer) = admin
            .post("/api/send/shop/media-url", json!({ "to": TO, "mediaUrl": url }))
            .await;
        assert_eq!(
            (got, answer["error"]["code"].clone()),
            (status, json!(code)),
            "{url}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{url}: {message}");
    }
    assert!(sent(&server, "shop").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out_with_504() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.fetch_timeout_secs = 1;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6281100000111").await;
    let files = FileServer::start([("/slow.jpg", Served::Never)]).await;

    let started = std::time::Instant::now();
    let answer = server
        .admin()
        .post(
            "/api/send/shop/media-url",
            json!({ "to": TO, "mediaUrl": files.url("/slow.jpg") }),
        )
        .await;
    assert_eq!(error_code(&answer), (504, json!("media_fetch_timeout")), "{}", answer.1);
    assert!(
        started.elapsed() < wasap_tests::WAIT,
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(files.connections(), 1);
    assert!(sent(&server, "shop").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn recipient_and_instance_are_checked_before_anything_is_fetched() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000121").await;
    let admin = server.admin();
    assert_eq!(
        admin
            .post(
                "/sim/contacts",
                json!({ "phone": "6289999999999", "on_whatsapp": false })
            )
            .await
            .0,
        200
    );
    admin.post("/api/instances", json!({ "instance_id": "idle" })).await;
    let files = FileServer::start([("/photo.jpg", Served::file("image/jpeg", &fixtures::jpeg()))]).await;
    let url = files.url("/photo.jpg");

    for (path, to, status, code) in [
        (
            "/api/send/shop/media-url",
            "6289999999999",
            422,
            "recipient_not_on_whatsapp",
        ),
        ("/api/send/shop/media-url", "0812", 422, "invalid_phone"),
        (
            "/api/send/shop/media-url",
            "someone@example.com",
            422,
            "invalid_recipient",
        ),
        ("/api/send/idle/media-url", TO, 503, "instance_not_connected"),
        ("/api/send/nope/media-url", TO, 404, "instance_not_found"),
    ] {
        let answer = admin.post(path, json!({ "to": to, "mediaUrl": url })).await;
        assert_eq!(
            error_code(&answer),
            (status, json!(code)),
            "{path} to {to}: {}",
            answer.1
        );
    }
    assert_eq!(
        files.connections(),
        0,
        "nothing was fetched for a message that cannot be sent"
    );
    assert!(sent(&server, "shop").await.is_empty());
    server.stop().await;
}
