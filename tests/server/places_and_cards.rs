//! Locations and contact cards sent by an instance (docs/API.md,
//! "Messages"): on both engines the contact gets exactly the place and the
//! cards asked for (decrypted on the real engine); bad input gets a clear
//! 422 and nothing is sent.

use serde_json::json;
use wasap_tests::engines::{EngineUnderTest, OnlineShop, PlaceOrCards};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const SHOP: &str = "6281234500100";
const CONTACT: &str = "6281234567890";

both_engines!(locations_and_contact_cards_arrive_exactly);

async fn locations_and_contact_cards_arrive_exactly(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;
    let api = server.client(Some(&token));

    let (status, sent) = api
        .post(
            "/api/send/shop/location",
            json!({ "to": CONTACT, "latitude": -6.175392, "longitude": 106.827153,
                    "name": "Monas", "address": "Gambir, Jakarta Pusat" }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["to"], format!("{CONTACT}@s.whatsapp.net"));
    let (status, sent) = api
        .post(
            "/api/send/shop/location",
            json!({ "to": CONTACT, "latitude": 51.5, "longitude": -0.12, "name": "  " }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let (status, sent) = api
        .post(
            "/api/send/shop/contact",
            json!({ "to": CONTACT, "contacts": [{ "name": "Doe, John", "phone": "+62 812-0000-1111" }] }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let own_card = "BEGIN:VCARD\nVERSION:3.0\nFN:Help Desk\nORG:Toko Maju\nTEL;type=WORK:+622150000\nEND:VCARD";
    let (status, sent) = api
        .post(
            "/api/send/shop/contact",
            json!({ "to": CONTACT, "contacts": [
                { "name": "Help Desk", "vcard": own_card },
                { "name": "Ani", "phone": "6281200002222" },
            ] }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");

    assert_eq!(
        driver.places_and_cards_sent_to(CONTACT, 4).await,
        [
            PlaceOrCards::Location {
                latitude: -6.175392,
                longitude: 106.827153,
                name: Some("Monas".to_owned()),
                address: Some("Gambir, Jakarta Pusat".to_owned()),
            },
            // A blank name is no name.
            PlaceOrCards::Location {
                latitude: 51.5,
                longitude: -0.12,
                name: None,
                address: None,
            },
            PlaceOrCards::Contacts(vec![(
                "Doe, John".to_owned(),
                "BEGIN:VCARD\nVERSION:3.0\nFN:Doe\\, John\nTEL;type=CELL;waid=6281200001111:+6281200001111\nEND:VCARD"
                    .to_owned()
            )]),
            PlaceOrCards::Contacts(vec![
                ("Help Desk".to_owned(), own_card.to_owned()),
                (
                    "Ani".to_owned(),
                    "BEGIN:VCARD\nVERSION:3.0\nFN:Ani\nTEL;type=CELL;waid=6281200002222:+6281200002222\nEND:VCARD"
                        .to_owned()
                ),
            ]),
        ]
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

#[tokio::test]
async fn bad_locations_and_cards_get_a_422_and_send_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", SHOP).await;
    let api = server.client(Some(&token));
    let before = crate::messaging::sent(&server, "shop").await.len();

    let card = |extra: serde_json::Value| {
        let mut card = json!({ "name": "Ani" });
        card.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({ "to": CONTACT, "contacts": [card] })
    };
    let cases = [
        (
            "location",
            json!({ "to": CONTACT, "latitude": 90.5, "longitude": 0 }),
            "invalid_location",
        ),
        (
            "location",
            json!({ "to": CONTACT, "latitude": 0, "longitude": -180.01 }),
            "invalid_location",
        ),
        (
            "location",
            json!({ "to": CONTACT, "latitude": 0, "longitude": 0, "name": "x".repeat(1025) }),
            "invalid_location",
        ),
        (
            "location",
            json!({ "to": CONTACT, "latitude": "north", "longitude": 0 }),
            "invalid_body",
        ),
        (
            "location",
            json!({ "to": "6289", "latitude": 0, "longitude": 0 }),
            "invalid_phone",
        ),
        ("contact", json!({ "to": CONTACT, "contacts": [] }), "invalid_contact"),
        (
            "contact",
            json!({ "to": CONTACT, "contacts": vec![json!({ "name": "A", "phone": "6281200002222" }); 21] }),
            "invalid_contact",
        ),
        ("contact", card(json!({})), "invalid_contact"),
        (
            "contact",
            card(json!({ "phone": "6281200002222", "vcard": "BEGIN:VCARD\nEND:VCARD" })),
            "invalid_contact",
        ),
        ("contact", card(json!({ "vcard": "FN:Ani" })), "invalid_contact"),
        ("contact", card(json!({ "phone": "12" })), "invalid_phone"),
        (
            "contact",
            json!({ "to": CONTACT, "contacts": [{ "name": "two\nlines", "phone": "6281200002222" }] }),
            "invalid_contact",
        ),
    ];
    for (route, body, code) in cases {
        let (status, answer) = api.post(&format!("/api/send/shop/{route}"), body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{route} {body} → {answer}"
        );
    }
    assert_eq!(
        crate::messaging::sent(&server, "shop").await.len(),
        before,
        "nothing was sent"
    );
    server.stop().await;
}
