//! Calls, on both engines (`wasap_tests::engines`): a contact's call reaches
//! webhooks subscribed to the call kinds as `call.offer` in both formats, with
//! exactly the documented fields; `POST /api/calls/{id}/reject` declines it
//! (the caller's side records the reject), and refuses bad input and calls
//! that do not ring with nothing sent; a call the caller gives up is
//! `call.missed`; with `reject_calls` on, the next call is declined by
//! itself and the caller gets exactly the configured text.

use serde_json::{Value, json};
use wasap_tests::both_engines;
use wasap_tests::engines::{CallRejected, EngineUnderTest, OnlineShop};
use wasap_tests::webhook_receiver::{Received, WebhookReceiver};

const SHOP: &str = "6281234500700";
const CALLER: &str = "6281234567890";
const CALLER_JID: &str = "6281234567890@s.whatsapp.net";
const REPLY: &str = "Sorry, this number cannot take calls. Please write to us here 🙏";

/// The sudevwa `data` of a call event, its `timestamp` checked then set aside.
fn sudevwa(body: &Value) -> Value {
    let mut body = body.clone();
    assert!(
        body["data"]["timestamp"].as_i64().is_some_and(|t| t > 1_700_000_000),
        "{body}"
    );
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
    body["data"]["timestamp"] = Value::Null;
    body["timestamp"] = Value::Null;
    body
}

/// A gowa call payload, its `timestamp` checked then set aside.
fn gowa(body: &Value) -> Value {
    let mut body = body.clone();
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
    body["timestamp"] = Value::Null;
    body
}

fn sudevwa_call(event: &str, call_id: &str, reason: Value, auto_rejected: bool) -> Value {
    json!({
        "event": event,
        "timestamp": null,
        "data": {
            "instance_id": "shop",
            "call_id": call_id,
            "from": CALLER_JID,
            "from_lid": null,
            "from_phone": CALLER,
            "group": null,
            "is_video": false,
            "is_group": false,
            "timestamp": null,
            "reason": reason,
            "auto_rejected": auto_rejected,
        }
    })
}

fn gowa_call(event: &str, call_id: &str, reason: Option<&str>, auto_rejected: bool) -> Value {
    let mut payload = json!({
        "call_id": call_id,
        "from": CALLER_JID,
        "auto_rejected": auto_rejected,
        "is_video": false,
        "is_group": false,
    });
    if let Some(reason) = reason {
        payload["reason"] = json!(reason);
    }
    json!({ "event": event, "payload": payload, "timestamp": null })
}

/// The bodies `path` received, in the order they came.
fn bodies(all: &[Received], path: &str) -> Vec<Value> {
    all.iter().filter(|r| r.path == path).map(Received::json).collect()
}

both_engines!(calls_ring_at_webhooks_and_are_rejected_by_route_and_automatically);

async fn calls_ring_at_webhooks_and_are_rejected_by_route_and_automatically(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    let mut receiver = WebhookReceiver::start().await;
    let hooks = [
        json!({ "url": receiver.url("/sudevwa"), "events": ["call_offer", "call.missed", "call_ended"] }),
        json!({ "url": receiver.url("/gowa"), "format": "gowa", "events": ["call.offer", "call_missed"] }),
    ];
    for body in &hooks {
        let (status, created) = server.admin().post("/api/instances/shop/webhooks", body.clone()).await;
        assert_eq!(status, 201, "{body} → {created}");
    }
    driver.contact(CALLER, true).await;
    let api = server.client(Some(&token));

    // 1. A call rings: `call.offer` in both formats.
    let first = driver.call_from(CALLER, "John Doe", false).await;
    let all = receiver
        .until("the first offer", |all| {
            !bodies(all, "/sudevwa").is_empty() && !bodies(all, "/gowa").is_empty()
        })
        .await;
    assert_eq!(
        sudevwa(&bodies(&all, "/sudevwa")[0]),
        sudevwa_call("call.offer", &first, Value::Null, false)
    );
    assert_eq!(
        gowa(&bodies(&all, "/gowa")[0]),
        gowa_call("call.offer", &first, None, false)
    );

    // Bad input is refused, and nothing reaches WhatsApp.
    for (body, status, code) in [
        (
            json!({ "call_id": "no spaces!", "from": CALLER }),
            422,
            "invalid_call_id",
        ),
        (
            json!({ "call_id": &first, "from": "120363402106000000@g.us" }),
            422,
            "invalid_recipient",
        ),
        (
            json!({ "call_id": &first, "from": "not a number" }),
            422,
            "invalid_phone",
        ),
        (json!({ "call_id": &first }), 422, "invalid_body"),
        (
            json!({ "call_id": "CALLNEVERRANG", "from": CALLER }),
            404,
            "call_not_found",
        ),
        (
            json!({ "call_id": &first, "from": "6289999999999" }),
            404,
            "call_not_found",
        ),
    ] {
        let (got, answer) = api.post("/api/calls/shop/reject", body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} → {answer}"
        );
    }
    let (status, answer) = api
        .post("/api/calls/other/reject", json!({ "call_id": &first, "from": CALLER }))
        .await;
    assert_eq!(status, 403, "another instance's route: {answer}");
    let (status, answer) = server
        .admin()
        .post("/api/calls/nobody/reject", json!({ "call_id": &first, "from": CALLER }))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("instance_not_found")),
        "{answer}"
    );

    // 2. Rejected by route: the caller's side sees it declined, once.
    let (status, answer) = api
        .post("/api/calls/shop/reject", json!({ "call_id": &first, "from": CALLER }))
        .await;
    assert_eq!(
        (status, &answer),
        (200, &json!({ "call_id": &first, "rejected": true }))
    );
    let rejected = driver.rejected_calls(1).await;
    assert_eq!(
        rejected,
        [CallRejected {
            call_id: first.clone(),
            caller: CALLER.to_owned(),
        }]
    );
    let (status, answer) = api
        .post("/api/calls/shop/reject", json!({ "call_id": &first, "from": CALLER }))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("call_not_found")),
        "{answer}"
    );

    // 3. A call the caller gives up: `call.missed`.
    let second = driver.call_from(CALLER, "John Doe", false).await;
    driver.end_call(CALLER, &second, false).await;
    let all = receiver
        .until("the second offer and its miss", |all| {
            bodies(all, "/sudevwa").len() >= 2 && bodies(all, "/gowa").len() >= 2
        })
        .await;
    let sudevwa_got: Vec<Value> = bodies(&all, "/sudevwa").iter().map(sudevwa).collect();
    let gowa_got: Vec<Value> = bodies(&all, "/gowa").iter().map(gowa).collect();
    // Deliveries to one receiver run side by side: compared as sets.
    assert_eq!(
        sorted(sudevwa_got),
        sorted(vec![
            sudevwa_call("call.offer", &second, Value::Null, false),
            sudevwa_call("call.missed", &second, json!("hung_up"), false),
        ])
    );
    assert_eq!(
        sorted(gowa_got),
        sorted(vec![
            gowa_call("call.offer", &second, None, false),
            gowa_call("call.missed", &second, Some("hung_up"), false),
        ])
    );

    // 4. Rejected automatically, with a text: a bad setting changes nothing.
    let (status, answer) = patch(&api, json!({ "reject_calls": true, "reject_calls_message": "   " })).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("empty_message")),
        "{answer}"
    );
    let (_, instance) = api.get("/api/instances/shop").await;
    assert_eq!(
        (&instance["reject_calls"], &instance["reject_calls_message"]),
        (&json!(false), &Value::Null)
    );
    let (status, instance) = patch(&api, json!({ "reject_calls": true, "reject_calls_message": REPLY })).await;
    assert_eq!(status, 200, "{instance}");
    assert_eq!(
        (&instance["reject_calls"], &instance["reject_calls_message"]),
        (&json!(true), &json!(REPLY))
    );

    let third = driver.call_from(CALLER, "John Doe", false).await;
    let rejected = driver.rejected_calls(2).await;
    assert_eq!(
        rejected[1],
        CallRejected {
            call_id: third.clone(),
            caller: CALLER.to_owned(),
        }
    );
    let texts = driver.sent_to(CALLER, 1).await;
    assert_eq!(
        // (The sim engine's record of sends lists the rejects too, without text.)
        texts.iter().filter_map(|t| t.text.as_deref()).collect::<Vec<_>>(),
        [REPLY],
        "exactly the configured text, once"
    );
    let all = receiver
        .until("the third offer", |all| {
            !bodies(all, "/sudevwa").is_empty() && !bodies(all, "/gowa").is_empty()
        })
        .await;
    let last = |path: &str| {
        bodies(&all, path)
            .into_iter()
            .find(|body| body.to_string().contains(&third))
            .unwrap_or_else(|| panic!("{path} got no event of {third}"))
    };
    assert_eq!(
        sudevwa(&last("/sudevwa")),
        sudevwa_call("call.offer", &third, Value::Null, true)
    );
    assert_eq!(gowa(&last("/gowa")), gowa_call("call.offer", &third, None, true));

    // `null` takes the text away and leaves the switch as it is.
    let (status, instance) = patch(&api, json!({ "reject_calls_message": null })).await;
    assert_eq!(status, 200, "{instance}");
    assert_eq!(
        (&instance["reject_calls"], &instance["reject_calls_message"]),
        (&json!(true), &Value::Null)
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn patch(api: &wasap_tests::Api, body: Value) -> (u16, Value) {
    api.send(reqwest::Method::PATCH, "/api/instances/shop", Some(body))
        .await
}

fn sorted(mut values: Vec<Value>) -> Vec<Value> {
    values.sort_by_key(|v| v.to_string());
    values
}
