//! Media both ways, on both engines (the sim engine, and the real one against
//! the loopback WhatsApp simulator and its media server;
//! `wasap_tests::engines`):
//! - a contact's image (view once), video, audio, voice note, document and
//!   sticker are stored and served byte for byte at `/statics/media`, and
//!   reach the webhooks in both seed formats and the instance's listener in
//!   the seeds' shapes; on the real engine the sim engine runs the same test
//!   and every output must say the same, byte for byte, ids, times and the
//!   stored files' random names aside (`wasap_tests::outputs`);
//! - a file over its size limit still delivers its message, with the error;
//! - files uploaded to `/api/send/{id}/media` and `/api/by-number/.../media-file`
//!   are decrypted by the contact with the exact bytes, MIME type, caption and
//!   file name, and the size limits refuse with 413 before anything is sent.
//!
//! WhatsApp carries a caption on images, videos and documents and a file name
//! on documents only; the driver reports only those (`engines/media.rs`).

use std::sync::Arc;

use serde_json::{Value, json};
use wasap::events::{Event, EventKind, Message};
use wasap_tests::engines::{EngineUnderTest, MediaFile, MediaFileExt, MediaKind, OnlineShop, Whatsapp};
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::outputs::Transcript;
use wasap_tests::webhook_receiver::{Received, WebhookReceiver, signature_valid};
use wasap_tests::websocket::{Token, open};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir};

const CONTACT: &str = "6281234567890";
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";
use wasap_tests::outputs::{GOWA_SECRET, SUDEVWA_SECRET, webhooks_in_both_formats, without_times};

both_engines!(
    a_contacts_media_of_every_kind_is_served_byte_exact_and_reaches_the_webhooks,
    a_media_file_over_the_limit_still_delivers_its_message,
    media_uploads_arrive_byte_exact_with_their_kind,
    media_over_the_limit_is_refused_with_413,
);

/// The message event the server published for message `id`.
async fn message_event(server: &mut TestServer, id: &str) -> Arc<Event> {
    server
        .events
        .wait_for(
            &format!("message {id}"),
            |e| matches!(&e.kind, EventKind::Message(m) if m.id == id),
        )
        .await
        .0
}

fn message(event: &Event) -> &Message {
    match &event.kind {
        EventKind::Message(message) => message,
        other => panic!("not a message: {other:?}"),
    }
}

/// One file of each kind a contact can send, distinct bytes each.
fn every_kind() -> Vec<MediaFile> {
    vec![
        MediaFile::new(MediaKind::Image, fixtures::jpeg(), "image/jpeg")
            .caption("a photo")
            .view_once(),
        MediaFile::new(MediaKind::Video, fixtures::mp4(), "video/mp4").caption("a clip"),
        MediaFile::new(MediaKind::Audio, b"ID3\x04 an mp3 file".repeat(20), "audio/mpeg"),
        MediaFile::new(MediaKind::Audio, fixtures::ogg(), "audio/ogg; codecs=opus").voice_note(),
        MediaFile::new(MediaKind::Document, fixtures::pdf(), "application/pdf")
            .caption("the invoice")
            .file_name("invoice 2024.pdf"),
        MediaFile::new(
            MediaKind::Sticker,
            b"RIFF\x24\x00\x00\x00WEBPVP8 ".repeat(10),
            "image/webp",
        ),
    ]
}

async fn a_contacts_media_of_every_kind_is_served_byte_exact_and_reaches_the_webhooks(engine: EngineUnderTest) {
    let transcript = media_from_a_contact(engine).await;
    // On the real engine, the sim engine must have said the same, byte for byte.
    if engine == EngineUnderTest::Real {
        transcript.assert_same_as(&media_from_a_contact(EngineUnderTest::Sim).await);
    }
}

/// A contact sends one file of every kind; everything the outputs said.
async fn media_from_a_contact(engine: EngineUnderTest) -> Transcript {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let mut server = whatsapp.server(&db, dir.path()).await;
    let token = whatsapp.online(&mut server, "shop", "6281234500200").await;
    webhooks_in_both_formats(&server, "shop", &receiver).await;
    let mut listener = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    let driver = whatsapp.driver(&server, "shop");

    let files = every_kind();
    let mut events = Vec::new();
    // What differs between runs: message and event ids, and the stored files' random names.
    let mut ids = Vec::new();
    let mut expected_sudevwa = Vec::new();
    let mut expected_gowa = Vec::new();
    for file in &files {
        let kind = file.kind_name();
        let id = driver.media_from(CONTACT, "John Doe", file).await;
        let event = message_event(&mut server, &id).await;
        let m = message(&event);
        assert_eq!((m.chat.as_str(), m.sender.as_str()), (CONTACT_JID, CONTACT_JID));
        assert_eq!(
            (m.push_name.as_deref(), m.from_me, m.is_group),
            (Some("John Doe"), false, false)
        );
        assert_eq!(m.content.name(), kind);
        assert_eq!(m.view_once, file.view_once, "{kind}");
        let media = m.content.media().expect("media");
        assert!(media.download_error.is_none(), "{kind}: {media:?}");
        assert_eq!(media.mime_type, file.mime_type, "{kind}");
        assert_eq!(media.caption, file.carried_caption(), "{kind}");
        assert_eq!(media.file_name, file.carried_file_name(), "{kind}");
        assert_eq!(media.size, Some(file.data.len() as u64), "{kind}");
        assert_eq!(media.sha256_hex.as_deref(), Some(file.sha256_hex().as_str()), "{kind}");
        let path = media.media_path.clone().expect("media_path");
        let stored = path.strip_prefix("statics/media/").expect("under statics/media");
        assert!(stored.len() >= 32, "at least 128 random bits in {stored}");
        let response = server.client(None).get_raw(&format!("/{path}"), None).await;
        assert_eq!(response.status(), 200, "{path} served without a token");
        // Served as the type's essence (its parameters, such as an audio codec, dropped).
        let essence = file.mime_type.split(';').next().unwrap_or_default().trim();
        assert_eq!(response.headers()["content-type"], essence, "{kind}");
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            file.data.as_slice(),
            "{kind} served byte for byte"
        );

        // The seeds' shapes, field for field.
        let caption = file.carried_caption().unwrap_or_default();
        expected_sudevwa.push(json!({
            "event": "incoming_message",
            "timestamp": "<time>",
            "data": {
                "instance_id": "shop",
                "from": CONTACT_JID,
                "from_me": false,
                "is_group": false,
                "message": caption,
                "message_id": id,
                "push_name": "John Doe",
                "timestamp": "<time>",
            },
        }));
        let mut gowa = json!({
            "chat_id": CONTACT,
            "from": CONTACT_JID,
            "sender_id": CONTACT,
            "pushname": "John Doe",
            "timestamp": "<time>",
            "message": { "id": id, "text": "", "replied_id": "", "quoted_message": "" },
        });
        gowa[kind] = json!({ "media_path": path, "mime_type": file.mime_type, "caption": caption });
        if file.view_once {
            gowa["view_once"] = json!(true);
        }
        expected_gowa.push(gowa);
        ids.extend([id, path.clone(), event.id.clone()]);
        events.push(event);
    }
    let (status, body) = server.client(None).get("/statics/media/nope.jpg").await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("media_not_found")));

    let count = |all: &[Received], path: &str| all.iter().filter(|r| r.path == path).count();
    let n = files.len();
    let all = receiver
        .until("every file in both formats", |all| {
            count(all, "/sudevwa") >= n && count(all, "/gowa") >= n
        })
        .await;
    let mut transcript = Transcript::new();
    for event in &events {
        transcript.record(
            "canonical",
            &serde_json::to_string(&**event).expect("an event serializes"),
            &ids,
        );
    }
    for request in &all {
        let (format, secret) = match request.path.as_str() {
            "/sudevwa" => ("sudevwa", SUDEVWA_SECRET),
            _ => ("gowa", GOWA_SECRET),
        };
        assert!(signature_valid(request, format, secret), "a valid {format} signature");
        transcript.record(&request.path, std::str::from_utf8(&request.body).expect("UTF-8"), &ids);
    }
    let mut frames = Vec::new();
    for _ in 0..n {
        let frame = listener.next_frame().await;
        transcript.record("listen", &frame.to_string(), &ids);
        // The replay cursor is the listener's own (docs/API.md), not the seed's.
        let mut frame = without_times(frame);
        frame.as_object_mut().map(|f| f.remove("cursor"));
        frames.push(frame);
    }
    // Deliveries run concurrently: compare in message order.
    let bodies = |path: &str, id: fn(&Value) -> &Value| -> Vec<Value> {
        let mut bodies: Vec<Value> = all
            .iter()
            .filter(|r| r.path == path)
            .map(|r| without_times(r.json()))
            .collect();
        bodies.sort_by_key(|b| id(b).to_string());
        bodies
    };
    let sudevwa_id: fn(&Value) -> &Value = |b| &b["data"]["message_id"];
    let gowa_id: fn(&Value) -> &Value = |b| &b["message"]["id"];
    assert_eq!(frames, expected_sudevwa, "the instance's listener");
    expected_sudevwa.sort_by_key(|b| sudevwa_id(b).to_string());
    expected_gowa.sort_by_key(|b| gowa_id(b).to_string());
    assert_eq!(
        bodies("/sudevwa", sudevwa_id),
        expected_sudevwa,
        "sudevwa webhook bodies"
    );
    assert_eq!(bodies("/gowa", gowa_id), expected_gowa, "gowa webhook bodies");
    server.stop().await;
    whatsapp.assert_all_handled();
    transcript
}

async fn a_media_file_over_the_limit_still_delivers_its_message(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = whatsapp.config(&db, dir.path());
    config.max_image_bytes = 8;
    let mut server = TestServer::start_with(config).await;
    whatsapp.online(&mut server, "shop", "6281234500201").await;
    let driver = whatsapp.driver(&server, "shop");

    let big = MediaFile::new(MediaKind::Image, [7u8; 64], "image/png").caption("big");
    let id = driver.media_from(CONTACT, "John Doe", &big).await;
    let event = message_event(&mut server, &id).await;
    let media = message(&event).content.media().expect("media").clone();
    assert_eq!(media.caption.as_deref(), Some("big"));
    assert!(media.media_path.is_none());
    // The size is the one announced; a hash is only ever that of a file
    // decrypted and stored (the real engine once reported the sender's claim).
    assert_eq!((media.size, media.sha256_hex.as_deref()), (Some(64), None));
    assert!(
        media.download_error.as_deref().is_some_and(|e| e.contains('8')),
        "{media:?}"
    );
    // The file fits as a document, whose limit is another.
    let fits = MediaFile::new(MediaKind::Document, [7u8; 64], "image/png").file_name("big.png");
    let id = driver.media_from(CONTACT, "John Doe", &fits).await;
    let event = message_event(&mut server, &id).await;
    let media = message(&event).content.media().expect("media").clone();
    assert!(media.download_error.is_none(), "{media:?}");
    assert_eq!(media.sha256_hex.as_deref(), Some(fits.sha256_hex().as_str()));
    server.stop().await;
    whatsapp.assert_all_handled();
}

/// Uploads `file` as multipart to `path` with `fields`; returns status and JSON.
pub(crate) async fn upload(
    server: &TestServer,
    path: &str,
    fields: &[(&str, &str)],
    file: Option<(&[u8], &str, &str)>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    if let Some((bytes, name, mime)) = file {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str(mime)
            .unwrap();
        form = form.part("file", part);
    }
    let response = reqwest::Client::new()
        .post(server.url(path))
        .bearer_auth(&server.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn media_uploads_arrive_byte_exact_with_their_kind(engine: EngineUnderTest) {
    const SHOP: &str = "6281100000031";
    let OnlineShop {
        whatsapp,
        server,
        token: _,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;

    let (jpeg, mp4, ogg, pdf) = (fixtures::jpeg(), fixtures::mp4(), fixtures::ogg(), fixtures::pdf());
    // Over 5 MiB: whatsapp-rust first asks the media server whether an upload
    // of it can be resumed, then sends it whole.
    let big: Vec<u8> = [b"%PDF-1.7\n".as_slice(), &[0x5a; 6 * 1024 * 1024]].concat();
    let mut sent = 0;
    for (bytes, name, mime, given, kind) in [
        (&jpeg, "photo.jpg", "image/jpeg", None, MediaKind::Image),
        (&mp4, "clip.mp4", "application/octet-stream", None, MediaKind::Video),
        (&ogg, "note.ogg", "audio/ogg", Some("audio"), MediaKind::Audio),
        (&pdf, "invoice.pdf", "application/pdf", None, MediaKind::Document),
        (
            &jpeg,
            "photo-as-file.jpg",
            "image/jpeg",
            Some("document"),
            MediaKind::Document,
        ),
        (&big, "big.pdf", "application/pdf", None, MediaKind::Document),
    ] {
        let mut fields = vec![("to", CONTACT), ("caption", "see this")];
        if let Some(given) = given {
            fields.push(("mediaType", given));
        }
        let (status, body) = upload(&server, "/api/send/shop/media", &fields, Some((bytes, name, mime))).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["to"], CONTACT_JID);
        sent += 1;
        let got = driver.media_sent_to(CONTACT, sent).await;
        assert_eq!(got.len(), sent, "{got:#?}");
        let last = got.last().unwrap();
        assert_eq!(last.message_id, body["message_id"].as_str().unwrap());
        assert_eq!(last.kind, kind, "{name}");
        assert_eq!(last.sha256_hex, sha256_hex(bytes), "{name} arrives byte for byte");
        // The type is sniffed when not given.
        let mime = if mime == "application/octet-stream" {
            "video/mp4"
        } else {
            mime
        };
        assert_eq!(last.mime_type.as_deref(), Some(mime), "{name}");
        // What WhatsApp carries: no caption on audio, a file name on documents only.
        let caption = (kind != MediaKind::Audio).then_some("see this");
        assert_eq!(last.caption.as_deref(), caption, "{name}");
        let file_name = (kind == MediaKind::Document).then_some(name);
        assert_eq!(last.file_name.as_deref(), file_name, "{name}");
    }

    // By number, with the form of media-file.
    let (status, body) = upload(
        &server,
        &format!("/api/by-number/{SHOP}/media-file"),
        &[("to", CONTACT), ("caption", "by number")],
        Some((&pdf, "a.pdf", "application/pdf")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let got = driver.media_sent_to(CONTACT, 7).await;
    let last = got.last().unwrap();
    assert_eq!(
        (last.message_id.as_str(), last.kind, last.sha256_hex.as_str()),
        (
            body["message_id"].as_str().unwrap(),
            MediaKind::Document,
            sha256_hex(&pdf).as_str()
        )
    );
    assert_eq!(
        (
            last.caption.as_deref(),
            last.file_name.as_deref(),
            last.mime_type.as_deref()
        ),
        (Some("by number"), Some("a.pdf"), Some("application/pdf"))
    );

    for (fields, file, status, code) in [
        (vec![("to", CONTACT)], None, 422, "invalid_body"),
        (
            vec![("caption", "no recipient")],
            Some((jpeg.as_slice(), "x.jpg", "image/jpeg")),
            422,
            "invalid_body",
        ),
        (
            vec![("to", CONTACT), ("mediaType", "hologram")],
            Some((jpeg.as_slice(), "x.jpg", "image/jpeg")),
            422,
            "invalid_body",
        ),
        (
            vec![("to", "0812")],
            Some((jpeg.as_slice(), "x.jpg", "image/jpeg")),
            422,
            "invalid_phone",
        ),
    ] {
        let (got, body) = upload(&server, "/api/send/shop/media", &fields, file).await;
        assert_eq!(
            (got, body["error"]["code"].clone()),
            (status, json!(code)),
            "{fields:?}"
        );
    }
    assert_eq!(driver.media_sent_to(CONTACT, 7).await.len(), 7, "nothing more was sent");
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn media_over_the_limit_is_refused_with_413(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = whatsapp.config(&db, dir.path());
    config.max_image_bytes = 1024;
    config.max_video_bytes = 2048;
    config.max_audio_bytes = 2048;
    config.max_document_bytes = 4096;
    let mut server = TestServer::start_with(config).await;
    whatsapp.online(&mut server, "shop", "6281100000041").await;
    let driver = whatsapp.driver(&server, "shop");
    driver.contact(CONTACT, true).await;

    let image = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 1500]].concat();
    let (status, body) = upload(
        &server,
        "/api/send/shop/media",
        &[("to", CONTACT)],
        Some((&image, "big.png", "image/png")),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (413, json!("payload_too_large")),
        "over the image limit"
    );
    // The same bytes fit as a document.
    let (status, body) = upload(
        &server,
        "/api/send/shop/media",
        &[("to", CONTACT), ("mediaType", "document")],
        Some((&image, "big.png", "image/png")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Larger than every limit: refused from Content-Length, before the body is read.
    let huge = vec![0u8; 200 * 1024];
    let (status, body) = upload(
        &server,
        "/api/send/shop/media",
        &[("to", CONTACT)],
        Some((&huge, "huge.bin", "application/pdf")),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (413, json!("payload_too_large"))
    );
    let got = driver.media_sent_to(CONTACT, 1).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(
        (got[0].kind, got[0].sha256_hex.as_str()),
        (MediaKind::Document, sha256_hex(&image).as_str())
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}
