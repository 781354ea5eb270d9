//! Media given as base64 in JSON (docs/API.md, "Messages"):
//! `/api/send/{id}/media-base64` and its by-number variant. Every kind
//! arrives as it would from an upload (decrypted by the contact on the real
//! engine, byte for byte); bad base64, a file over its kind's limit and a
//! file that cannot be shown as asked are refused with a clear 4xx, and
//! nothing is sent.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use wasap_tests::engines::{EngineUnderTest, MediaKind, OnlineShop};
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const SHOP: &str = "6281100000051";
const CONTACT: &str = "6281234567894";

both_engines!(media_of_every_kind_given_as_base64_reaches_the_contact);

async fn media_of_every_kind_given_as_base64_reaches_the_contact(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;

    let (photo, pdf, voice, sticker) = (
        fixtures::jpeg(),
        fixtures::pdf(),
        fixtures::opus(2),
        fixtures::webp(10_000),
    );
    // Line-wrapped as `base64` tools write it.
    let wrapped: String = STANDARD
        .encode(&pdf)
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\n", std::str::from_utf8(line).unwrap()))
        .collect();
    let sends = [
        (
            "/api/send/shop/media-base64",
            json!({ "to": CONTACT, "data": format!("data:image/jpeg;base64,{}", STANDARD.encode(&photo)),
                    "caption": "the new menu", "viewOnce": true }),
        ),
        (
            "/api/send/shop/media-base64",
            json!({ "to": CONTACT, "data": wrapped, "mediaType": "document", "mimeType": "application/pdf",
                    "fileName": "invoice.pdf", "caption": "your invoice" }),
        ),
        (
            "/api/send/shop/media-base64",
            json!({ "to": CONTACT, "data": STANDARD.encode(&voice), "mediaType": "voice" }),
        ),
        (
            &format!("/api/by-number/{SHOP}/media-base64") as &str,
            json!({ "to": CONTACT, "data": STANDARD.encode(&sticker), "mediaType": "sticker" }),
        ),
    ];
    let mut ids = Vec::new();
    for (path, body) in sends {
        let client = if path.contains("by-number") {
            server.admin()
        } else {
            server.client(Some(&token))
        };
        let (status, sent) = client.post(path, body).await;
        assert_eq!(status, 200, "{path}: {sent}");
        assert_eq!(sent["to"], format!("{CONTACT}@s.whatsapp.net"));
        ids.push(sent["message_id"].as_str().expect("the message id").to_owned());
    }
    let got: Vec<_> = driver
        .media_sent_to(CONTACT, 4)
        .await
        .into_iter()
        .map(|m| {
            (
                m.message_id,
                m.kind,
                m.sha256_hex,
                m.mime_type,
                m.caption,
                m.file_name,
                m.voice_note,
                m.seconds,
                m.view_once,
            )
        })
        .collect();
    let text = |s: &str| Some(s.to_owned());
    assert_eq!(
        got,
        [
            (
                ids[0].clone(),
                MediaKind::Image,
                sha256_hex(&photo),
                text("image/jpeg"),
                text("the new menu"),
                None,
                false,
                None,
                true
            ),
            (
                ids[1].clone(),
                MediaKind::Document,
                sha256_hex(&pdf),
                text("application/pdf"),
                text("your invoice"),
                text("invoice.pdf"),
                false,
                None,
                false
            ),
            (
                ids[2].clone(),
                MediaKind::Audio,
                sha256_hex(&voice),
                text("audio/ogg; codecs=opus"),
                None,
                None,
                true,
                Some(2),
                false
            ),
            (
                ids[3].clone(),
                MediaKind::Sticker,
                sha256_hex(&sticker),
                text("image/webp"),
                None,
                None,
                false,
                None,
                false
            ),
        ]
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

#[tokio::test]
async fn bad_base64_media_gets_a_clear_4xx_and_sends_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    // Small limits, so the largest body allowed is small too.
    config.max_image_bytes = 1024 * 1024;
    config.max_video_bytes = 1024 * 1024;
    config.max_audio_bytes = 1024 * 1024;
    config.max_document_bytes = 4096;
    let mut server = TestServer::start_with(config).await;
    let token = online(&mut server, "shop", SHOP).await;
    let api = server.client(Some(&token));
    let mp3 = [b"ID3\x04\0\0\0\0\0\0".as_slice(), &[0xff, 0xfb, 0x90, 0x64], &[1; 500]].concat();
    let cases = [
        (
            json!({ "to": CONTACT, "data": "not base64 at all!" }),
            422,
            "invalid_base64",
        ),
        (json!({ "to": CONTACT, "data": "" }), 422, "invalid_body"),
        (
            json!({ "to": CONTACT, "data": "data:text/plain,hello" }),
            422,
            "invalid_base64",
        ),
        // Over the document limit, refused from its length before decoding.
        (
            json!({ "to": CONTACT, "data": "A".repeat(8192), "mediaType": "document" }),
            413,
            "payload_too_large",
        ),
        // A sticker over WhatsApp's 500 KB.
        (
            json!({ "to": CONTACT, "data": STANDARD.encode(fixtures::webp(600 * 1024)), "mediaType": "sticker" }),
            413,
            "payload_too_large",
        ),
        (
            json!({ "to": CONTACT, "data": STANDARD.encode(&mp3), "mediaType": "voice" }),
            422,
            "voice_note_not_opus",
        ),
        (
            json!({ "to": CONTACT, "data": STANDARD.encode(fixtures::jpeg()), "mediaType": "sticker" }),
            422,
            "sticker_not_webp",
        ),
        (
            json!({ "to": CONTACT, "data": STANDARD.encode(fixtures::pdf()), "viewOnce": true }),
            422,
            "view_once_not_allowed",
        ),
        (
            json!({ "to": CONTACT, "data": STANDARD.encode(fixtures::jpeg()), "mediaType": "gif" }),
            422,
            "invalid_body",
        ),
        (json!({ "to": CONTACT }), 422, "invalid_body"),
        (
            json!({ "to": "not-a-number", "data": STANDARD.encode(fixtures::jpeg()) }),
            422,
            "invalid_phone",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = api.post("/api/send/shop/media-base64", body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body:.200}: {answer}"
        );
    }
    // Not JSON, or too large a body for any file at all.
    let response = reqwest::Client::new()
        .post(server.url("/api/send/shop/media-base64"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let response = reqwest::Client::new()
        .post(server.url("/api/send/shop/media-base64"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await;
    // Refused from its Content-Length: 413, or the connection closed before the whole body went.
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 413);
    }
    assert!(
        crate::messaging::sent(&server, "shop").await.is_empty(),
        "nothing was sent"
    );
    server.stop().await;
}
