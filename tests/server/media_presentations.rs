//! Media sent as something other than a plain file (docs/API.md,
//! "Messages"): a sticker, a voice note, view-once media. On both engines
//! the contact gets the exact bytes presented as asked (decrypted on the real
//! engine); what WhatsApp could not show that way is refused with a clear
//! 4xx and nothing is sent.

use serde_json::{Value, json};
use wasap_tests::engines::{EngineUnderTest, MediaKind, OnlineShop};
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::file_server::{FileServer, Served};
use wasap_tests::{TestServer, both_engines};

const SHOP: &str = "6281100000041";
const CONTACT: &str = "6281234567890";

both_engines!(stickers_voice_notes_and_view_once_media_arrive_as_such);

/// A form's text fields, `(name, value)`.
type Fields<'a> = &'a [(&'a str, &'a str)];

/// Uploads `bytes` (named `name`, of type `mime`) to the instance's media
/// route with `fields`.
async fn upload(server: &TestServer, fields: Fields<'_>, bytes: &[u8], name: &str, mime: &str) -> (u16, Value) {
    crate::media_traffic::upload(server, "/api/send/shop/media", fields, Some((bytes, name, mime))).await
}

async fn stickers_voice_notes_and_view_once_media_arrive_as_such(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token: _,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;

    let (sticker, voice, photo) = (fixtures::webp(20_000), fixtures::opus(3), fixtures::jpeg());
    let sends: [(Fields<'_>, &[u8], &str, &str); 3] = [
        (
            &[("to", CONTACT), ("mediaType", "sticker")],
            &sticker,
            "s.webp",
            "image/webp",
        ),
        // Declared as generic audio: a voice note goes out as Ogg Opus whatever was declared.
        (
            &[("to", CONTACT), ("mediaType", "voice")],
            &voice,
            "note.ogg",
            "audio/ogg",
        ),
        (
            &[("to", CONTACT), ("caption", "once only"), ("viewOnce", "true")],
            &photo,
            "p.jpg",
            "image/jpeg",
        ),
    ];
    let mut ids = Vec::new();
    for (fields, bytes, name, mime) in sends {
        let (status, body) = upload(&server, fields, bytes, name, mime).await;
        assert_eq!(status, 200, "{name}: {body}");
        ids.push(body["message_id"].as_str().unwrap().to_owned());
    }
    let got = driver.media_sent_to(CONTACT, 3).await;
    let summary: Vec<_> = got
        .iter()
        .map(|m| {
            (
                m.message_id.as_str(),
                m.kind,
                m.sha256_hex.clone(),
                m.mime_type.as_deref(),
                m.caption.as_deref(),
                m.voice_note,
                m.seconds,
                m.view_once,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                ids[0].as_str(),
                MediaKind::Sticker,
                sha256_hex(&sticker),
                Some("image/webp"),
                None,
                false,
                None,
                false
            ),
            (
                ids[1].as_str(),
                MediaKind::Audio,
                sha256_hex(&voice),
                Some("audio/ogg; codecs=opus"),
                None,
                true,
                Some(3),
                false
            ),
            (
                ids[2].as_str(),
                MediaKind::Image,
                sha256_hex(&photo),
                Some("image/jpeg"),
                Some("once only"),
                false,
                None,
                true
            ),
        ]
    );

    // What WhatsApp could not show as asked.
    let pdf = fixtures::pdf();
    let mp3 = [b"ID3\x04\0\0\0\0\0\0".as_slice(), &[0xff, 0xfb, 0x90, 0x64], &[1; 500]].concat();
    let refused: [(Fields<'_>, &[u8], u16, &str); 5] = [
        (
            &[("to", CONTACT), ("mediaType", "sticker")],
            &photo,
            422,
            "sticker_not_webp",
        ),
        (
            &[("to", CONTACT), ("mediaType", "voice")],
            &mp3,
            422,
            "voice_note_not_opus",
        ),
        (
            &[("to", CONTACT), ("mediaType", "voice")],
            &fixtures::ogg(),
            422,
            "voice_note_not_opus",
        ),
        (
            &[("to", CONTACT), ("viewOnce", "true")],
            &pdf,
            422,
            "view_once_not_allowed",
        ),
        (
            &[("to", CONTACT), ("mediaType", "sticker")],
            &fixtures::webp(600 * 1024),
            413,
            "payload_too_large",
        ),
    ];
    for (fields, bytes, status, code) in refused {
        let (got, body) = upload(&server, fields, bytes, "f", "application/octet-stream").await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{fields:?}: {body}"
        );
    }
    assert_eq!(driver.media_sent_to(CONTACT, 3).await.len(), 3, "nothing more was sent");

    // By URL too: the JSON route takes `viewOnce`.
    let files = FileServer::start([("/clip.mp4", Served::file("video/mp4", &fixtures::mp4()))]).await;
    let (status, body) = server
        .admin()
        .post(
            "/api/send/shop/media-url",
            json!({ "to": CONTACT, "mediaUrl": files.url("/clip.mp4"), "viewOnce": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let last = driver.media_sent_to(CONTACT, 4).await.pop().unwrap();
    assert_eq!(
        (last.kind, last.sha256_hex, last.view_once),
        (MediaKind::Video, sha256_hex(&fixtures::mp4()), true)
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}
