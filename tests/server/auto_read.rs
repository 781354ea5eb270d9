//! Auto-read (docs/API.md, "Instances"): a per-instance setting, off by
//! default, set with `PATCH /api/instances/{id}`. While it is on, every
//! message a contact sends is reported read once it is received; while it
//! is off, none is (the contact's phone gets no read receipt for it).

use serde_json::json;
use wasap_tests::engines::{EngineUnderTest, ListenedShop};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const SHOP: &str = "6281234500300";
const CONTACT: &str = "6281234567893";

both_engines!(incoming_messages_are_read_while_auto_read_is_on_and_only_then);

async fn incoming_messages_are_read_while_auto_read_is_on_and_only_then(engine: EngineUnderTest) {
    let mut shop = ListenedShop::start(engine, SHOP).await;
    let api = shop.api();
    let (driver, listener) = (&shop.driver, &mut shop.listener);
    driver.contact(CONTACT, true).await;
    let (status, instance) = api.get("/api/instances/shop").await;
    assert_eq!(
        (status, instance["auto_read"].clone()),
        (200, json!(false)),
        "off by default"
    );

    // Off: a message stays unread.
    let unread = driver.text_from(CONTACT, "John Doe", "Anyone there?").await;
    assert_eq!(listener.next_frame().await["data"]["message_id"], unread.as_str());

    let (status, instance) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "auto_read": true })),
        )
        .await;
    assert_eq!(
        (status, instance["auto_read"].clone()),
        (200, json!(true)),
        "{instance}"
    );
    assert_eq!(instance["instance_id"], "shop");
    let read = driver.text_from(CONTACT, "John Doe", "Hello?").await;
    driver.wait_read(CONTACT, &[&read]).await;
    assert_eq!(listener.next_frame().await["data"]["message_id"], read.as_str());

    // Off again: the next message is not read; a message read by hand
    // after it shows the receipts are through.
    let (status, instance) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "auto_read": false })),
        )
        .await;
    assert_eq!((status, instance["auto_read"].clone()), (200, json!(false)));
    let unread_again = driver.text_from(CONTACT, "John Doe", "Still there?").await;
    assert_eq!(listener.next_frame().await["data"]["message_id"], unread_again.as_str());
    let by_hand = driver.text_from(CONTACT, "John Doe", "Please answer").await;
    assert_eq!(listener.next_frame().await["data"]["message_id"], by_hand.as_str());
    let (status, answer) = api
        .post("/api/messages/shop/read", json!({ "message_ids": [by_hand] }))
        .await;
    assert_eq!(status, 200, "{answer}");
    driver.wait_read(CONTACT, &[&by_hand]).await;

    assert_eq!(
        driver.read_receipts_to(CONTACT).await,
        [vec![read.clone()], vec![by_hand.clone()]],
        "read while on, and by hand; never {unread} or {unread_again}"
    );
    shop.finish().await;
}

#[tokio::test]
async fn auto_read_is_kept_across_restarts_and_bad_settings_are_refused() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", SHOP).await;
    let api = server.client(Some(&token));
    let (status, answer) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "auto_read": "yes" })),
        )
        .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_body")));
    let (status, answer) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "paint": "blue" })),
        )
        .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_body")));
    let (status, answer) = server
        .admin()
        .send(
            reqwest::Method::PATCH,
            "/api/instances/nobody",
            Some(json!({ "auto_read": true })),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("instance_not_found")),
        "{answer}"
    );
    let (status, _) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "auto_read": true })),
        )
        .await;
    assert_eq!(status, 200);
    server.stop().await;

    let server = TestServer::start(&db, dir.path()).await;
    let (status, instance) = server.admin().get("/api/instances/shop").await;
    assert_eq!(
        (status, instance["auto_read"].clone()),
        (200, json!(true)),
        "{instance}"
    );
    let (_, listed) = server.admin().get("/api/instances").await;
    assert_eq!(listed["instances"][0]["auto_read"], true, "{listed}");
    server.stop().await;
}
