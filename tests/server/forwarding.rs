//! Forwarding a message by its id (docs/API.md, "Forward a message"): what
//! a contact sent (a text, a media file the server stored) and what the
//! instance itself sent reach another contact exactly, marked forwarded
//! (decrypted on the real engine); an unknown id is 404, a kind that cannot
//! be forwarded 422, and nothing is sent then.

use std::sync::Arc;

use serde_json::{Value, json};
use wasap::events::{Event, EventKind};
use wasap_tests::engines::{EngineUnderTest, MediaFile, MediaFileExt, MediaKind, OnlineShop, Sender, Whatsapp};
use wasap_tests::file_server::fixtures;
use wasap_tests::{TestDb, TestServer, both_engines, data_dir};

use crate::messaging::sent;

const SHOP: &str = "6281234500400";
const ALICE: &str = "6281234567001";
const BOB: &str = "6281234567002";

fn error_code(answer: &(u16, Value)) -> (u16, Value) {
    (answer.0, answer.1["error"]["code"].clone())
}

/// Waits for message `id` to be published (its media stored, for a file).
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

both_engines!(received_and_own_messages_are_forwarded_exactly);

async fn received_and_own_messages_are_forwarded_exactly(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        mut server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(ALICE, true).await;
    driver.contact(BOB, true).await;
    let api = server.client(Some(&token));

    let text_id = driver.text_from(ALICE, "Alice", "the meeting is at 10").await;
    message_event(&mut server, &text_id).await;
    let photo = MediaFile::new(MediaKind::Image, fixtures::jpeg(), "image/jpeg").caption("the venue");
    let photo_id = driver.media_from(ALICE, "Alice", &photo).await;
    message_event(&mut server, &photo_id).await;
    let (status, own) = api
        .post("/api/send/shop", json!({ "to": ALICE, "message": "see you there" }))
        .await;
    assert_eq!(status, 200, "{own}");
    let own_id = own["message_id"].as_str().unwrap().to_owned();

    for id in [&text_id, &photo_id, &own_id] {
        let (status, answer) = api
            .post("/api/messages/shop/forward", json!({ "message_id": id, "to": BOB }))
            .await;
        assert_eq!(status, 200, "{id}: {answer}");
        assert_eq!(answer["to"], format!("{BOB}@s.whatsapp.net"));
    }
    let got: Vec<(String, Option<String>, Option<String>, bool)> = driver
        .carried_to(BOB, 3)
        .await
        .into_iter()
        .map(|c| (c.kind, c.text, c.caption, c.forwarded))
        .collect();
    assert_eq!(
        got,
        [
            ("text".to_owned(), Some("the meeting is at 10".to_owned()), None, true),
            ("image".to_owned(), None, Some("the venue".to_owned()), true),
            ("text".to_owned(), Some("see you there".to_owned()), None, true),
        ]
    );
    // The file, byte for byte, as Bob fetched it.
    let media = driver.media_sent_to(BOB, 1).await;
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].sha256_hex, photo.sha256_hex());
    assert_eq!(media[0].mime_type.as_deref(), Some("image/jpeg"));
    server.stop().await;
    whatsapp.assert_all_handled();
}

#[tokio::test]
async fn unknown_ids_and_kinds_that_cannot_be_forwarded_are_refused() {
    let whatsapp = Whatsapp::start(EngineUnderTest::Sim).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    whatsapp.online(&mut server, "shop", SHOP).await;
    let driver = whatsapp.driver(&server, "shop");
    let api = server.admin();

    let text_id = driver.text_from(ALICE, "Alice", "hello").await;
    message_event(&mut server, &text_id).await;
    let reaction_id = driver
        .reaction_from(Sender::contact(ALICE, "Alice"), "👍", &text_id)
        .await;
    message_event(&mut server, &reaction_id).await;
    let (status, own_media) = crate::media_traffic::upload(
        &server,
        "/api/send/shop/media",
        &[("to", ALICE)],
        Some((&fixtures::jpeg(), "photo.jpg", "image/jpeg")),
    )
    .await;
    assert_eq!(status, 200, "{own_media}");
    let before = sent(&server, "shop").await.len();

    let forward = |id: &str| json!({ "message_id": id, "to": BOB });
    let answer = api
        .post("/api/messages/shop/forward", forward("3EB0NOSUCHMESSAGE"))
        .await;
    assert_eq!(error_code(&answer), (404, json!("message_not_found")), "{}", answer.1);
    let answer = api.post("/api/messages/shop/forward", forward(&reaction_id)).await;
    assert_eq!(error_code(&answer), (422, json!("not_forwardable")), "{}", answer.1);
    let answer = api
        .post(
            "/api/messages/shop/forward",
            forward(own_media["message_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(error_code(&answer), (422, json!("content_not_kept")), "{}", answer.1);
    let answer = api.post("/api/messages/nobody/forward", forward(&text_id)).await;
    assert_eq!(answer.0, 404, "{}", answer.1);
    assert_eq!(sent(&server, "shop").await.len(), before, "nothing was sent");

    // The by-number variant forwards as the instance that owns the number.
    let (status, answer) = api
        .post(&format!("/api/by-number/{SHOP}/forward"), forward(&text_id))
        .await;
    assert_eq!(status, 200, "{answer}");
    let log = sent(&server, "shop").await;
    let last = log.last().unwrap();
    assert_eq!(
        (last["kind"].clone(), last["text"].clone(), last["forwarded"].clone()),
        (json!("text"), json!("hello"), json!(true))
    );
    server.stop().await;
}
