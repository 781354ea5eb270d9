//! Contacts' chat states as events, on both engines (`wasap_tests::engines`):
//! a contact types, records a voice note and stops, in its chat with the
//! instance and in a group; `/api/listen/{id}` shows each as a `chat.state`
//! frame, webhooks subscribed to the kind (by its own name or a format's)
//! get each in their format with exactly the documented fields, a webhook
//! subscribed to messages gets none, and none of them is journalled (so
//! `/api/instances/{id}/events` never replays a stale "typing…").

use serde_json::{Value, json};
use wasap_tests::engines::{EngineUnderTest, Sender, Whatsapp};
use wasap_tests::webhook_receiver::{Received, WebhookReceiver};
use wasap_tests::websocket::{Token, open};
use wasap_tests::{TestDb, both_engines, data_dir};

const CONTACT: &str = "6281234567890";
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";
const ADMIN: &str = "6281200000009";
const GROUP: &str = "120363402106000000@g.us";

/// What the contact does, in order: (state, in the group).
const SHOWN: [(&str, bool); 6] = [
    ("typing", false),
    ("recording", false),
    ("paused", false),
    ("typing", true),
    ("recording", true),
    ("paused", true),
];

both_engines!(contacts_chat_states_reach_listeners_and_subscribed_webhooks_in_both_formats);

async fn contacts_chat_states_reach_listeners_and_subscribed_webhooks_in_both_formats(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let mut server = whatsapp.server(&db, dir.path()).await;
    let shop = whatsapp.online(&mut server, "shop", "6281111111111").await;
    let hooks = [
        (
            "/sudevwa",
            json!({ "url": receiver.url("/sudevwa"), "events": ["chat_state"] }),
        ),
        (
            "/gowa",
            json!({ "url": receiver.url("/gowa"), "format": "gowa", "events": ["chat_presence"] }),
        ),
        (
            "/sudevwa-dotted",
            json!({ "url": receiver.url("/sudevwa-dotted"), "events": ["chat.state"] }),
        ),
        (
            "/messages",
            json!({ "url": receiver.url("/messages"), "format": "gowa", "events": ["message"] }),
        ),
    ];
    for (_, body) in &hooks {
        let (status, created) = server.admin().post("/api/instances/shop/webhooks", body.clone()).await;
        assert_eq!(status, 201, "{body} → {created}");
    }
    // Both spellings of the kind stand for it in a subscription.
    let (_, list) = server.admin().get("/api/instances/shop/webhooks").await;
    let mut subscribed: Vec<String> = list["webhooks"]
        .as_array()
        .expect("the webhooks")
        .iter()
        .map(|hook| hook["events"].to_string())
        .collect();
    subscribed.sort();
    assert_eq!(
        subscribed,
        [
            r#"["chat_state"]"#,
            r#"["chat_state"]"#,
            r#"["chat_state"]"#,
            r#"["message"]"#
        ]
    );
    let mut listen = open(&server, "/api/listen/shop", Token::Query(&shop)).await;
    let driver = whatsapp.driver(&server, "shop");
    driver.group(GROUP, "Shop talk", ADMIN, &[CONTACT]).await;

    for (state, in_group) in SHOWN {
        driver.chat_state_from(CONTACT, state, in_group.then_some(GROUP)).await;
    }

    // The listener: each as a `chat.state` frame, in order.
    let mut frames = Vec::new();
    while frames.len() < SHOWN.len() {
        let frame = listen.next_frame().await;
        if frame["event"] == "chat.state" {
            frames.push(frame);
        }
    }
    for (frame, (state, in_group)) in frames.iter().zip(SHOWN) {
        assert_eq!(frame["data"], sudevwa_data(state, in_group, &frame["data"]), "{frame}");
        assert!(frame["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{frame}");
    }

    // A message after them, for the webhook subscribed to messages.
    driver
        .text_message_from(Sender::contact(CONTACT, "John Doe"), "after typing")
        .await;
    let count = |all: &[Received], path: &str| all.iter().filter(|r| r.path == path).count();
    let all = receiver
        .until("every chat state and the message", |all| {
            count(all, "/sudevwa") >= SHOWN.len()
                && count(all, "/sudevwa-dotted") >= SHOWN.len()
                && count(all, "/gowa") >= SHOWN.len()
                && count(all, "/messages") >= 1
        })
        .await;
    let bodies = |path: &str| -> Vec<Value> { all.iter().filter(|r| r.path == path).map(Received::json).collect() };
    // Deliveries to one receiver run side by side, so they may arrive in any
    // order: each is compared with what was shown, as a set, its times
    // checked and then left out.
    for path in ["/sudevwa", "/sudevwa-dotted"] {
        let got = sorted(bodies(path).into_iter().map(|mut body| {
            assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
            body["data"] = sudevwa_data_untimed(&body["data"]);
            body["timestamp"] = Value::Null;
            body
        }));
        let expected = sorted(SHOWN.map(|(state, in_group)| {
            json!({
                "event": "chat.state",
                "timestamp": null,
                "data": sudevwa_data(state, in_group, &json!({ "timestamp": 1_700_000_000 })),
            })
        }));
        let expected: Vec<Value> = expected
            .into_iter()
            .map(|mut body| {
                body["data"] = sudevwa_data_untimed(&body["data"]);
                body
            })
            .collect();
        assert_eq!(sorted(expected), got, "{path}");
    }
    let gowa = sorted(bodies("/gowa").into_iter().map(|mut body| {
        assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
        body["timestamp"] = Value::Null;
        body
    }));
    let expected = sorted(SHOWN.map(|(state, in_group)| {
        let (presence, media) = match state {
            "typing" => ("composing", ""),
            "recording" => ("composing", "audio"),
            _ => ("paused", ""),
        };
        json!({
            "event": "chat_presence",
            "payload": {
                "chat_id": if in_group { GROUP } else { CONTACT_JID },
                "from": CONTACT_JID,
                "state": presence,
                "media": media,
                "is_group": in_group,
            },
            "timestamp": null,
        })
    }));
    assert_eq!(expected, gowa);
    let messages = bodies("/messages");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["message"]["text"], "after typing");

    // Not journalled: the replay has the message and no chat state.
    let (status, page) = server.admin().get("/api/instances/shop/events?limit=1000").await;
    assert_eq!(status, 200, "{page}");
    let kinds: Vec<&str> = page["events"]
        .as_array()
        .expect("the events")
        .iter()
        .filter_map(|entry| entry["event"]["kind"]["type"].as_str())
        .collect();
    assert!(kinds.contains(&"message"), "{kinds:?}");
    assert!(!kinds.contains(&"chat_state"), "{kinds:?}");

    server.stop().await;
    whatsapp.assert_all_handled();
}

/// `data` with its `timestamp` checked and left out.
fn sudevwa_data_untimed(data: &Value) -> Value {
    assert!(data["timestamp"].as_i64().is_some_and(|t| t > 1_600_000_000), "{data}");
    let mut data = data.clone();
    data["timestamp"] = Value::Null;
    data
}

/// `values` in a stable order, to compare as sets.
fn sorted(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut values: Vec<Value> = values.into_iter().collect();
    values.sort_by_key(Value::to_string);
    values
}

/// A `chat.state` frame's or webhook's `data`, its `timestamp` taken from
/// `got` (checked to be a plausible unix time).
fn sudevwa_data(state: &str, in_group: bool, got: &Value) -> Value {
    assert!(got["timestamp"].as_i64().is_some_and(|t| t > 1_600_000_000), "{got}");
    json!({
        "instance_id": "shop",
        "chat": if in_group { GROUP } else { CONTACT_JID },
        "sender": CONTACT_JID,
        "sender_lid": null,
        "is_group": in_group,
        "state": state,
        "timestamp": got["timestamp"],
    })
}
