//! Richer text and caption sends (docs/API.md, "Messages"): link previews
//! given by the caller or fetched by the server under the outbound-URL
//! policy, mentions in media captions, and "mention everyone" in a group.
//! On both engines the contact gets exactly what was asked (decrypted on the
//! real engine); bad input gets a clear 422 and nothing is sent.

use base64::Engine as _;
use serde_json::{Value, json};
use wasap_tests::engines::{Carried, CarriedPreview, EngineUnderTest, OnlineShop};
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::file_server::{FileServer, Served};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

use crate::media_traffic::upload;
use crate::messaging::sent;

const SHOP: &str = "6281234500300";
const CONTACT: &str = "6281234567890";
const GROUP: &str = "120363402106000300@g.us";

fn error_code(answer: &(u16, Value)) -> (u16, Value) {
    (answer.0, answer.1["error"]["code"].clone())
}

/// A page with Open Graph tags whose image is the JPEG fixture, and one with none.
async fn pages() -> FileServer {
    let shop = r#"<!doctype html><html><head><title>Fallback title</title>
        <meta property="og:title" content="Toko Maju &amp; Co">
        <meta property="og:description" content="Everything for the home">
        <meta property="og:image" content="/thumb.jpg"></head><body>hi</body></html>"#;
    FileServer::start([
        ("/shop", Served::file("text/html; charset=utf-8", shop.as_bytes())),
        ("/thumb.jpg", Served::file("image/jpeg", &fixtures::jpeg())),
        (
            "/plain",
            Served::file("text/html", b"<html><body><p>no tags</p></body></html>"),
        ),
    ])
    .await
}

both_engines!(
    link_previews_given_and_fetched_arrive_exactly,
    captions_mention_users,
    mention_all_names_every_other_member_of_the_group,
);

async fn link_previews_given_and_fetched_arrive_exactly(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;
    let api = server.client(Some(&token));
    let files = pages().await;
    let jpeg = fixtures::jpeg();

    let given = "our catalogue: https://catalogue.example/spring";
    let (status, answer) = api
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": given, "link_preview": {
                "url": "https://catalogue.example/spring", "title": "Spring catalogue",
                "description": "New arrivals",
                "thumbnail": base64::engine::general_purpose::STANDARD.encode(&jpeg) } }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let fetched = format!("look: {} !", files.url("/shop"));
    let (status, answer) = api
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": fetched, "linkPreview": true }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    // A page with nothing to show: the text goes without a card.
    let plain = format!("and {}", files.url("/plain"));
    // By number: the admin token's route.
    let (status, answer) = server
        .admin()
        .post(
            &format!("/api/by-number/{SHOP}"),
            json!({ "to": CONTACT, "message": plain, "link_preview": true }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let got: Vec<(Option<String>, Option<CarriedPreview>)> = driver
        .carried_to(CONTACT, 3)
        .await
        .into_iter()
        .map(|c| (c.text, c.preview))
        .collect();
    assert_eq!(
        got,
        [
            (
                Some(given.to_owned()),
                Some(CarriedPreview {
                    url: "https://catalogue.example/spring".to_owned(),
                    title: Some("Spring catalogue".to_owned()),
                    description: Some("New arrivals".to_owned()),
                    thumbnail_sha256: Some(sha256_hex(&jpeg)),
                })
            ),
            (
                Some(fetched.clone()),
                Some(CarriedPreview {
                    url: files.url("/shop"),
                    title: Some("Toko Maju & Co".to_owned()),
                    description: Some("Everything for the home".to_owned()),
                    thumbnail_sha256: Some(sha256_hex(&jpeg)),
                })
            ),
            (Some(plain), None),
        ]
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn captions_mention_users(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token: _,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;
    let files = FileServer::start([("/photo.jpg", Served::file("image/jpeg", &fixtures::jpeg()))]).await;

    let (status, answer) = upload(
        &server,
        "/api/send/shop/media",
        &[
            ("to", CONTACT),
            ("caption", "@6281200001111 @6281200002222 look"),
            ("mentions", "+62 812-0000-1111, 6281200002222@s.whatsapp.net"),
        ],
        Some((&fixtures::jpeg(), "photo.jpg", "image/jpeg")),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server
        .admin()
        .post(
            "/api/send/shop/media-url",
            json!({ "to": CONTACT, "mediaUrl": files.url("/photo.jpg"), "caption": "@6281200003333",
                    "mentions": ["6281200003333"] }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let got: Vec<(String, Option<String>, Vec<String>)> = driver
        .carried_to(CONTACT, 2)
        .await
        .into_iter()
        .map(|c: Carried| (c.kind, c.caption, c.mentions))
        .collect();
    assert_eq!(
        got,
        [
            (
                "image".to_owned(),
                Some("@6281200001111 @6281200002222 look".to_owned()),
                vec![
                    "6281200001111@s.whatsapp.net".to_owned(),
                    "6281200002222@s.whatsapp.net".to_owned()
                ]
            ),
            (
                "image".to_owned(),
                Some("@6281200003333".to_owned()),
                vec!["6281200003333@s.whatsapp.net".to_owned()]
            ),
        ]
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn mention_all_names_every_other_member_of_the_group(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token: _,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver
        .group(
            GROUP,
            "Shop friends",
            "6281200001111",
            &["6281200001111", "6281200002222", "6281200003333"],
        )
        .await;
    driver.contact(CONTACT, true).await;
    let files = FileServer::start([("/photo.jpg", Served::file("image/jpeg", &fixtures::jpeg()))]).await;
    let api = server.admin();

    let (status, answer) = api
        .post(
            "/api/send/shop",
            json!({ "to": GROUP, "message": "sale today, everyone!", "mention_all": true,
                    "mentions": ["6281200002222", "6281299999999"] }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = api
        .post(
            "/api/send/shop/media-url",
            json!({ "to": GROUP, "mediaUrl": files.url("/photo.jpg"), "caption": "new stock", "mentionAll": true }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let jid = |p: &str| format!("{p}@s.whatsapp.net");
    let got: Vec<(String, Vec<String>)> = driver
        .carried_in_group(GROUP, "6281200003333", 2)
        .await
        .into_iter()
        .map(|c| (c.kind, c.mentions))
        .collect();
    assert_eq!(
        got,
        [
            // The named users first, then every other member once; never the instance itself.
            (
                "text".to_owned(),
                vec![
                    jid("6281200002222"),
                    jid("6281299999999"),
                    jid("6281200001111"),
                    jid("6281200003333")
                ]
            ),
            (
                "image".to_owned(),
                vec![jid("6281200001111"), jid("6281200002222"), jid("6281200003333")]
            ),
        ]
    );

    // Not a group, or a group the instance is not in: 422, nothing sent.
    let before = if whatsapp.is_real() {
        0
    } else {
        sent(&server, "shop").await.len()
    };
    let answer = api
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": "hi", "mention_all": true }),
        )
        .await;
    assert_eq!(error_code(&answer), (422, json!("not_a_group")), "{}", answer.1);
    let answer = api
        .post(
            "/api/send/shop",
            json!({ "to": "120363402106000999@g.us", "message": "hi", "mention_all": true }),
        )
        .await;
    assert_eq!(error_code(&answer), (422, json!("not_in_group")), "{}", answer.1);
    let answer = upload(
        &server,
        "/api/send/shop/media",
        &[("to", CONTACT), ("mentionAll", "true")],
        Some((&fixtures::jpeg(), "photo.jpg", "image/jpeg")),
    )
    .await;
    assert_eq!(error_code(&answer), (422, json!("not_a_group")), "{}", answer.1);
    if !whatsapp.is_real() {
        assert_eq!(sent(&server, "shop").await.len(), before);
    }
    server.stop().await;
    whatsapp.assert_all_handled();
}

#[tokio::test]
async fn previews_behind_the_policy_are_left_out_and_bad_ones_refused() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.allow_private_urls = false;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", SHOP).await;
    let files = pages().await;
    let api = server.admin();

    // A loopback page under the default policy: never fetched, the text goes without a card.
    let text = format!("see {}", files.url("/shop"));
    let (status, answer) = api
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": text, "link_preview": true }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(files.connections(), 0, "the policy refused the page before any request");
    let log = sent(&server, "shop").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["text"], text.as_str());
    assert!(log[0].get("link_preview").is_none(), "{}", log[0]);

    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let text = "see https://shop.example/x";
    for (preview, code) in [
        (
            json!({ "url": "https://shop.example/x", "thumbnail": b64(b"\x89PNG\r\n\x1a\n") }),
            "thumbnail_not_jpeg",
        ),
        (
            json!({ "url": "https://shop.example/x", "thumbnail": b64(&[&[0xFF, 0xD8, 0xFF][..], &[0; 70_000]].concat()) }),
            "thumbnail_too_large",
        ),
        (
            json!({ "url": "https://shop.example/x", "thumbnail": "not base64!" }),
            "invalid_link_preview",
        ),
        (
            json!({ "url": "https://elsewhere.example/", "title": "T" }),
            "invalid_link_preview",
        ),
        (
            json!({ "url": "https://shop.example/x", "title": "T".repeat(1025) }),
            "invalid_link_preview",
        ),
    ] {
        let answer = api
            .post(
                "/api/send/shop",
                json!({ "to": CONTACT, "message": text, "link_preview": preview }),
            )
            .await;
        assert_eq!(error_code(&answer), (422, json!(code)), "{preview}: {}", answer.1);
    }
    assert_eq!(sent(&server, "shop").await.len(), 1, "nothing more was sent");
    server.stop().await;
}
