//! Media both ways between the real client and simulated contacts, through
//! the simulator's media server: every kind a contact sends downloads and
//! decrypts in the client byte for byte with its MIME type, caption and file
//! name; every kind the client uploads and sends, the contact fetches and
//! decrypts with the same; and the control API does both over HTTP.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;
use wasap_whatsapp_sim::{MediaKind, OutgoingMedia, Simulator, control};
use whatsapp_rust::types::events::Event;
use whatsapp_rust::types::events::InboundMessage;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Jid, UploadOptions, media};

use crate::support::{TestClient, WAIT, http, new_store, paired};

const PHONE: &str = "15550001111";
const ALICE: &str = "15550002222";

/// One file of each kind (an audio file and a voice note both), as a phone
/// would send them; the bytes are distinct so a mix-up shows.
fn every_kind() -> Vec<OutgoingMedia> {
    vec![
        OutgoingMedia::new(MediaKind::Image, b"\xff\xd8\xff\xe0 a jpeg".repeat(300), "image/jpeg").caption("a photo"),
        OutgoingMedia::new(
            MediaKind::Video,
            b"\x00\x00\x00\x18ftypmp42 a video".repeat(5000),
            "video/mp4",
        )
        .caption("a clip"),
        OutgoingMedia::new(MediaKind::Audio, b"ID3 an mp3".to_vec(), "audio/mpeg"),
        OutgoingMedia::new(
            MediaKind::Audio,
            b"OggS a voice note".repeat(40),
            "audio/ogg; codecs=opus",
        )
        .voice_note(),
        OutgoingMedia::new(MediaKind::Document, b"%PDF-1.7 a pdf".repeat(70), "application/pdf")
            .caption("the invoice")
            .file_name("invoice.pdf"),
        OutgoingMedia::new(MediaKind::Sticker, b"RIFF\x00\x00\x00\x00WEBP".to_vec(), "image/webp"),
    ]
}

/// The message in a batch whose id is `id`.
async fn inbound(client: &TestClient, from: usize, id: &str) -> (InboundMessage, usize) {
    client
        .events
        .wait(from, &format!("message {id}"), |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id.as_str() == id).cloned(),
            _ => None,
        })
        .await
}

/// The media message inside the wrappers phones send it in.
fn unwrapped(message: &wa::Message) -> &wa::Message {
    [&message.document_with_caption_message, &message.view_once_message_v2]
        .into_iter()
        .find_map(|w| w.as_option().and_then(|w| w.message.as_option()))
        .map_or(message, unwrapped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contacts_media_of_every_kind_downloads_in_the_client_byte_for_byte() {
    let sim = Simulator::start().await.unwrap();
    let (client, _linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    let mut mark = client.events.len();
    for sent in every_kind() {
        let id = alice.send_media(PHONE, &sent).await.unwrap();
        let (got, next) = inbound(&client, mark, &id).await;
        mark = next;
        let m = unwrapped(&got.message);
        let (data, mime, caption, file_name) = if let Some(i) = m.image_message.as_option() {
            (client.client.download(i).await, &i.mimetype, &i.caption, &None)
        } else if let Some(v) = m.video_message.as_option() {
            (client.client.download(v).await, &v.mimetype, &v.caption, &None)
        } else if let Some(a) = m.audio_message.as_option() {
            assert_eq!(a.ptt, Some(sent.voice_note));
            (client.client.download(a).await, &a.mimetype, &None, &None)
        } else if let Some(d) = m.document_message.as_option() {
            (client.client.download(d).await, &d.mimetype, &d.caption, &d.file_name)
        } else if let Some(s) = m.sticker_message.as_option() {
            (client.client.download(s).await, &s.mimetype, &None, &None)
        } else {
            panic!("no media in {m:?}");
        };
        let data = data.unwrap_or_else(|e| panic!("{:?} downloads: {e:#}", sent.kind));
        assert_eq!(data, sent.data, "{:?} byte for byte", sent.kind);
        assert_eq!(mime.as_deref(), Some(sent.mime_type.as_str()));
        assert_eq!(caption, &sent.caption);
        assert_eq!(file_name, &sent.file_name);
    }
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    client.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_the_client_sends_is_decrypted_by_the_contact() {
    let sim = Simulator::start().await.unwrap();
    let (client, linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    let to: Jid = format!("{ALICE}@s.whatsapp.net").parse().unwrap();
    for (n, sent) in every_kind().into_iter().enumerate() {
        let upload = client
            .client
            .upload(sent.data.clone(), sent.kind.media_type(), UploadOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{:?} uploads: {e:#}", sent.kind));
        let mimetype = Some(sent.mime_type.clone());
        let message = match sent.kind {
            MediaKind::Image => media::image_message(
                upload,
                media::ImageOptions {
                    caption: sent.caption.clone(),
                    mimetype,
                    ..Default::default()
                },
            ),
            MediaKind::Video => media::video_message(
                upload,
                media::VideoOptions {
                    caption: sent.caption.clone(),
                    mimetype,
                    ..Default::default()
                },
            ),
            MediaKind::Audio => media::audio_message(
                upload,
                media::AudioOptions {
                    mimetype,
                    ptt: Some(sent.voice_note),
                    ..Default::default()
                },
            ),
            MediaKind::Document => media::document_message(
                upload,
                media::DocumentOptions {
                    mimetype,
                    caption: sent.caption.clone(),
                    file_name: sent.file_name.clone(),
                    ..Default::default()
                },
            ),
            // whatsapp-rust has no sticker builder: the fields are the same.
            MediaKind::Sticker => wa::Message {
                sticker_message: buffa::MessageField::some(wa::message::StickerMessage {
                    url: Some(upload.url),
                    direct_path: Some(upload.direct_path),
                    media_key: Some(upload.media_key.to_vec()),
                    file_sha256: Some(upload.file_sha256.to_vec()),
                    file_enc_sha256: Some(upload.file_enc_sha256.to_vec()),
                    file_length: Some(upload.file_length),
                    media_key_timestamp: Some(upload.media_key_timestamp),
                    mimetype,
                    ..Default::default()
                }),
                ..Default::default()
            },
        };
        let sent_id = client
            .client
            .send_message(to.clone(), message)
            .await
            .unwrap()
            .message_id;
        let received = alice.wait_received_count(n + 1, WAIT).await.unwrap();
        let last = received.last().unwrap();
        assert_eq!(
            (last.id.as_str(), last.from.as_str()),
            (sent_id.as_str(), linked.jid.as_str())
        );
        let got = alice.download_media(last).unwrap();
        assert_eq!(got.kind, sent.kind);
        assert_eq!(got.data, sent.data, "{:?} byte for byte", sent.kind);
        assert_eq!(got.mime_type.as_deref(), Some(sent.mime_type.as_str()));
        assert_eq!(got.caption, sent.caption);
        assert_eq!(got.file_name, sent.file_name);
        assert_eq!(got.voice_note, sent.voice_note);
    }
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    client.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_sends_media_and_shows_what_contacts_received() {
    let sim = Arc::new(Simulator::start().await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    tokio::spawn(control::serve(sim.clone(), listener));
    let client = TestClient::start(&sim, new_store()).await;
    let (qr, _) = client.qr(0).await;
    let (status, _) = http(api, "POST", "/pair", Some(json!({ "phone": PHONE, "qr": qr }))).await;
    assert_eq!(status, 200);
    client.connected(0).await;

    let b64 = |data: &[u8]| base64::engine::general_purpose::STANDARD.encode(data);
    let pdf = b"%PDF-1.7 over http".to_vec();
    let mark = client.events.len();
    let (status, sent) = http(
        api,
        "POST",
        "/send-media",
        Some(
            json!({ "from": ALICE, "to": PHONE, "kind": "document", "base64": b64(&pdf),
                     "mime_type": "application/pdf", "file_name": "a.pdf", "caption": "see" }),
        ),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let (got, _) = inbound(&client, mark, sent["id"].as_str().unwrap()).await;
    let document = unwrapped(&got.message)
        .document_message
        .as_option()
        .expect("a document");
    assert_eq!(client.client.download(document).await.unwrap(), pdf);
    assert_eq!(document.file_name.as_deref(), Some("a.pdf"));

    let jpeg = b"\xff\xd8\xff a jpeg from the client".to_vec();
    let upload = client
        .client
        .upload(jpeg.clone(), MediaKind::Image.media_type(), UploadOptions::default())
        .await
        .unwrap();
    let message = media::image_message(
        upload,
        media::ImageOptions {
            caption: Some("look".into()),
            ..Default::default()
        },
    );
    let to: Jid = format!("{ALICE}@s.whatsapp.net").parse().unwrap();
    client.client.send_message(to, message).await.unwrap();
    sim.contact(ALICE).wait_received_count(1, WAIT).await.unwrap();
    let (status, received) = http(api, "GET", &format!("/received-media/{ALICE}"), None).await;
    assert_eq!(status, 200, "{received}");
    assert_eq!(received[0]["base64"], b64(&jpeg));
    assert_eq!(received[0]["media"]["kind"], "image");
    assert_eq!(received[0]["media"]["caption"], "look");
    assert_eq!(received[0]["media"]["mime_type"], "image/jpeg");

    let (status, _) = http(api, "POST", "/send-media", Some(json!({ "from": ALICE, "to": PHONE }))).await;
    assert_eq!(status, 400);
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    client.stop().await;
}
