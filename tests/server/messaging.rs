//! Sending text by instance and by the instance's own number, and checking
//! numbers, on the simulated network: what the sim received (`/sent`) is what
//! was asked for, recipients are validated before anything is sent, and every
//! error code of these routes comes from a real request. Media sends run on
//! both engines in `media_traffic.rs`.

use serde_json::{Value, json};
use wasap_tests::{TestDb, TestServer, data_dir, online};

pub(crate) async fn sent(server: &TestServer, id: &str) -> Vec<Value> {
    let (status, body) = server.admin().get(&format!("/sim/instances/{id}/sent")).await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn send_text_to_numbers_and_jids() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", "6281100000001").await;
    let api = server.client(Some(&token));

    let (status, body) = api
        .post(
            "/api/send/shop",
            json!({ "to": "+62 812-3456-7890", "message": "Hello" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["to"], "6281234567890@s.whatsapp.net");
    assert!(body["message_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
    let message_id = body["message_id"].clone();

    let (status, body) = api
        .post(
            "/api/send/shop",
            json!({ "to": "120363402106000000@g.us", "message": "to the group", "reply_to": "3EB0X" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let log = sent(&server, "shop").await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["to"], "6281234567890@s.whatsapp.net");
    assert_eq!(log[0]["text"], "Hello");
    assert_eq!(log[0]["kind"], "text");
    assert_eq!(log[0]["message_id"], message_id);
    assert_eq!(log[1]["to"], "120363402106000000@g.us");
    assert_eq!(log[1]["reply_to"], "3EB0X");
    server.stop().await;
}

#[tokio::test]
async fn recipients_are_checked_before_anything_is_sent() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "shop", "6281100000002").await;
    let admin = server.admin();
    let (status, _) = admin
        .post(
            "/sim/contacts",
            json!({ "phone": "6289999999999", "on_whatsapp": false }),
        )
        .await;
    assert_eq!(status, 200);

    for (body, status, code) in [
        (
            json!({ "to": "6289999999999", "message": "hi" }),
            422,
            "recipient_not_on_whatsapp",
        ),
        (json!({ "to": "0812", "message": "hi" }), 422, "invalid_phone"),
        (
            json!({ "to": "someone@example.com", "message": "hi" }),
            422,
            "invalid_recipient",
        ),
        (json!({ "to": "6281234567890", "message": "  " }), 422, "empty_message"),
        (
            json!({ "to": "6281234567890", "message": "x".repeat(70_000) }),
            422,
            "message_too_long",
        ),
        (json!({ "to": "6281234567890" }), 422, "invalid_body"),
    ] {
        let (got, answer) = admin.post("/api/send/shop", body.clone()).await;
        assert_eq!((got, answer["error"]["code"].clone()), (status, json!(code)), "{body}");
    }
    let (status, answer) = admin.send(reqwest::Method::POST, "/api/send/shop", None).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!("invalid_json")));
    assert!(sent(&server, "shop").await.is_empty(), "nothing was sent");

    let (status, answer) = admin.post("/api/check/shop", json!({ "phone": "6289999999999" })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "phone": "6289999999999", "on_whatsapp": false, "jid": null })
    );
    let (_, answer) = admin
        .post("/api/check/shop", json!({ "phone": "+6281234567890" }))
        .await;
    assert_eq!(
        answer,
        json!({ "phone": "6281234567890", "on_whatsapp": true, "jid": "6281234567890@s.whatsapp.net" })
    );
    let (status, answer) = admin.post("/api/check/shop", json!({ "phone": "abc" })).await;
    assert_eq!((status, answer["error"]["code"].clone()), (422, json!("invalid_phone")));
    server.stop().await;
}

#[tokio::test]
async fn an_instance_that_is_not_online_cannot_send() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    server
        .admin()
        .post("/api/instances", json!({ "instance_id": "idle" }))
        .await;
    let (status, body) = server
        .admin()
        .post("/api/send/idle", json!({ "to": "6281234567890", "message": "hi" }))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (503, json!("instance_not_connected"))
    );
    let (status, body) = server
        .admin()
        .post("/api/check/idle", json!({ "phone": "6281234567890" }))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (503, json!("instance_not_connected"))
    );
    let (status, body) = server
        .admin()
        .post("/api/send/nope", json!({ "to": "6281234567890", "message": "hi" }))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("instance_not_found"))
    );

    online(&mut server, "flaky", "6281100000003").await;
    server.admin().post_empty("/sim/instances/flaky/unlink").await;
    server.events.wait_status("flaky", "logged_out").await;
    let (status, body) = server
        .admin()
        .post("/api/send/flaky", json!({ "to": "6281234567890", "message": "hi" }))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (503, json!("instance_not_connected"))
    );
    server.stop().await;
}

#[tokio::test]
async fn by_number_picks_the_instance_that_owns_the_number() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let first = online(&mut server, "first", "6281100000011").await;
    online(&mut server, "second", "6281100000022").await;

    let (status, body) = server
        .admin()
        .post(
            "/api/by-number/6281100000022",
            json!({ "to": "6281234567890", "message": "from the second" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(sent(&server, "first").await.is_empty());
    let log = sent(&server, "second").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["text"], "from the second");

    let (status, body) = server
        .admin()
        .post(
            "/api/by-number/6281100000099",
            json!({ "to": "6281234567890", "message": "x" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("instance_not_found"))
    );
    // By number is an admin route; an instance token sends only as its own instance.
    let own = server.client(Some(&first));
    assert_eq!(
        own.post(
            "/api/by-number/6281100000011",
            json!({ "to": "6281234567890", "message": "x" })
        )
        .await
        .0,
        403
    );
    assert_eq!(
        own.post("/api/send/second", json!({ "to": "6281234567890", "message": "x" }))
            .await
            .0,
        403
    );
    assert_eq!(
        own.post("/api/check/second", json!({ "phone": "6281234567890" }))
            .await
            .0,
        403
    );
    assert_eq!(
        own.post("/api/send/first", json!({ "to": "6281234567890", "message": "x" }))
            .await
            .0,
        200
    );
    server.stop().await;
}
