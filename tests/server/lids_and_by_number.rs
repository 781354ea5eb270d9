//! The send answer's `lid` (docs/API.md, "Messages"): the recipient's LID
//! where WhatsApp has told it, absent otherwise; and the by-number variants
//! of the location, contact card and chat state sends, which act as the
//! instance whose own number is in the path.

use serde_json::json;
use wasap_tests::engines::{EngineUnderTest, OnlineShop, PlaceOrCards};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const SHOP: &str = "6281100000061";
const CONTACT: &str = "6281234567895";

both_engines!(a_send_answers_with_the_recipients_lid);

async fn a_send_answers_with_the_recipients_lid(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    let lid = driver.contact_with_lid(CONTACT).await;
    assert!(lid.ends_with("@lid"), "{lid}");
    let api = server.client(Some(&token));

    let (status, sent) = api
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": "Your order shipped" }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        (sent["to"].as_str(), sent["lid"].as_str()),
        (Some(format!("{CONTACT}@s.whatsapp.net").as_str()), Some(lid.as_str())),
        "{sent}"
    );
    assert_eq!(
        driver.sent_to(CONTACT, 1).await[0].text.as_deref(),
        Some("Your order shipped")
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

#[tokio::test]
async fn the_lid_is_absent_when_unknown() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", SHOP).await;
    let (status, sent) = server
        .client(Some(&token))
        .post("/api/send/shop", json!({ "to": CONTACT, "message": "hi" }))
        .await;
    assert_eq!(status, 200, "{sent}");
    assert!(sent.get("lid").is_none(), "no LID is known: {sent}");
    let (status, answer) = server
        .admin()
        .post(
            "/sim/contacts",
            json!({ "phone": CONTACT, "on_whatsapp": true, "lid": "not-a-lid" }),
        )
        .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_body")));
    server.stop().await;
}

both_engines!(locations_cards_and_chat_states_go_out_by_number);

async fn locations_cards_and_chat_states_go_out_by_number(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token: _,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(CONTACT, true).await;
    let admin = server.admin();
    let contact_jid = format!("{CONTACT}@s.whatsapp.net");

    let (status, location) = admin
        .post(
            &format!("/api/by-number/{SHOP}/location"),
            json!({ "to": CONTACT, "latitude": -6.2, "longitude": 106.8, "name": "Shop", "address": "Jl. Sudirman 1" }),
        )
        .await;
    assert_eq!(
        (status, location["to"].as_str()),
        (200, Some(contact_jid.as_str())),
        "{location}"
    );
    let (status, card) = admin
        .post(
            &format!("/api/by-number/+{SHOP}/contact"),
            json!({ "to": CONTACT, "contacts": [{ "name": "Help desk", "phone": "6281100000099" }] }),
        )
        .await;
    assert_eq!(
        (status, card["to"].as_str()),
        (200, Some(contact_jid.as_str())),
        "{card}"
    );
    let got = driver.places_and_cards_sent_to(CONTACT, 2).await;
    assert_eq!(
        got[0],
        PlaceOrCards::Location {
            latitude: -6.2,
            longitude: 106.8,
            name: Some("Shop".to_owned()),
            address: Some("Jl. Sudirman 1".to_owned())
        }
    );
    assert!(
        matches!(&got[1], PlaceOrCards::Contacts(cards) if cards.len() == 1 && cards[0].0 == "Help desk"),
        "{got:?}"
    );

    let (status, answer) = admin
        .post(
            // The number as URL builders escape it: `+` as `%2B`.
            &format!("/api/by-number/%2B{SHOP}/chat-state"),
            json!({ "to": CONTACT, "state": "typing" }),
        )
        .await;
    assert_eq!((status, answer), (200, json!({ "to": contact_jid, "state": "typing" })));
    driver.wait_chat_state(CONTACT, "typing").await;

    // A number no instance has.
    let bodies = [
        ("location", json!({ "to": CONTACT, "latitude": 1.0, "longitude": 2.0 })),
        (
            "contact",
            json!({ "to": CONTACT, "contacts": [{ "name": "A", "phone": "6281100000099" }] }),
        ),
        ("chat-state", json!({ "to": CONTACT, "state": "paused" })),
        ("media-base64", json!({ "to": CONTACT, "data": "aGk=" })),
    ];
    for (tail, body) in bodies {
        let (status, answer) = admin.post(&format!("/api/by-number/6289999999999/{tail}"), body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (404, Some("instance_not_found")),
            "{tail}: {answer}"
        );
    }
    server.stop().await;
    whatsapp.assert_all_handled();
}
