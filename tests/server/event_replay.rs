//! Replay for clients, black-box (docs/API.md, "Replay"): a real server on the
//! sim engine, whose inbound journal keeps what came in; a WebSocket client
//! that reconnects with its cursor gets exactly what it missed, then the live
//! frames; `GET /api/instances/{id}/events` pages through the history; a
//! cursor behind the journal's retention gets 410.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use wasap::events::{
    Event, EventKind, GroupAction, GroupParticipants, InstanceStatus, Receipt, ReceiptType, new_event,
};
use wasap::websocket::replay::{channel_of, frame_of};
use wasap::websocket::{Channel, hub::with_cursor};
use wasap_tests::plugins::{PROBE, component, install, probe_manifest};
use wasap_tests::websocket::{Token, WsClient, connect, open};
use wasap_tests::{TestDb, TestServer, WAIT, data_dir, online, sim_config};

const CONTACT: &str = "6281234567890";

/// A text message from `CONTACT` to instance `id`; its message id.
async fn incoming(server: &TestServer, id: &str, text: &str) -> String {
    server
        .sim(id)
        .incoming(json!({ "from": CONTACT, "push_name": "John Doe", "text": text }))
        .await
}

/// Waits until every message of `ids` has been published (so journalled:
/// events are published from the journal).
async fn published(server: &mut TestServer, ids: &[String]) {
    let mut waiting: HashSet<&str> = ids.iter().map(String::as_str).collect();
    while !waiting.is_empty() {
        let (event, _) = server
            .events
            .wait_for(
                "the messages sent",
                |e| matches!(&e.kind, EventKind::Message(m) if waiting.contains(m.id.as_str())),
            )
            .await;
        if let EventKind::Message(m) = &event.kind {
            waiting.remove(m.id.as_str());
        }
    }
}

/// The next `incoming_message` frame's text and the frame.
async fn next_message(client: &mut WsClient) -> (String, Value) {
    loop {
        let frame = client.next_frame().await;
        if frame["event"] == "incoming_message" {
            let text = frame["data"]["message"].as_str().expect("a text").to_owned();
            return (text, frame);
        }
    }
}

fn cursor(frame: &Value) -> i64 {
    frame["cursor"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("a frame of a journalled event carries its cursor: {frame}"))
}

#[tokio::test]
async fn a_listener_back_with_its_cursor_gets_exactly_what_it_missed_then_the_live_frames() {
    const MISSED: usize = 30;
    const DURING: usize = 10;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", "6281111111111").await;
    // Listens all along: what the reconnecting client gets must be what it got.
    let mut steady = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    let mut client = open(&server, "/api/listen/shop", Token::Query(&token)).await;

    incoming(&server, "shop", "before").await;
    let (text, seen) = next_message(&mut client).await;
    assert_eq!(text, "before");
    assert_eq!(
        next_message(&mut steady).await.1,
        seen,
        "both listeners get the same frame"
    );
    let resume = cursor(&seen);
    drop(client);

    let mut missed = Vec::new();
    for i in 0..MISSED {
        missed.push(incoming(&server, "shop", &format!("missed {i}")).await);
    }
    published(&mut server, &missed).await;

    // More come in while the client reconnects and replays: each arrives once,
    // whether the replay or the live stream carries it.
    let sender = {
        let sim = server.sim("shop");
        tokio::spawn(async move {
            for i in 0..DURING {
                sim.incoming(json!({ "from": CONTACT, "push_name": "John Doe", "text": format!("during {i}") }))
                    .await;
            }
        })
    };
    let mut back = open(
        &server,
        &format!("/api/listen/shop?after={resume}"),
        Token::Query(&token),
    )
    .await;
    sender.await.expect("the messages during the replay were sent");
    let live = incoming(&server, "shop", "live").await;

    let expected: Vec<String> = (0..MISSED)
        .map(|i| format!("missed {i}"))
        .chain((0..DURING).map(|i| format!("during {i}")))
        .chain(["live".to_owned()])
        .collect();
    let mut got = Vec::new();
    let mut last = resume;
    for want in &expected {
        let (text, frame) = next_message(&mut back).await;
        let (steady_text, steady_frame) = next_message(&mut steady).await;
        assert_eq!(&steady_text, want, "the steady listener's order");
        assert_eq!(
            frame, steady_frame,
            "a replayed frame is the live frame, cursor and all"
        );
        assert!(cursor(&frame) > last, "cursors grow: {frame} after {last}");
        last = cursor(&frame);
        got.push(text);
    }
    assert_eq!(got, expected, "exactly what was missed, in order, then the live ones");
    // Nothing more: the next frame is the next message, not a repeat.
    let marker = incoming(&server, "shop", "marker").await;
    assert_eq!(next_message(&mut back).await.0, "marker");
    published(&mut server, &[live, marker]).await;
    server.stop().await;
}

#[tokio::test]
async fn live_frames_of_what_the_replay_sent_are_not_sent_again() {
    const MISSED: usize = 8;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", "6281111111111").await;
    // A plugin before the websocket output that takes 150 ms a message: the
    // journal (and the bus) have every message long before its live frame.
    let (status, body) = install(
        &server,
        &probe_manifest("slow", "slow", 100, "ms = 150"),
        component(PROBE),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut client = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    incoming(&server, "shop", "before").await;
    let resume = cursor(&next_message(&mut client).await.1);
    drop(client);

    let mut missed = Vec::new();
    for i in 0..MISSED {
        missed.push(incoming(&server, "shop", &format!("missed {i}")).await);
    }
    published(&mut server, &missed).await;
    // The replay sends them from the journal at once; their live frames come
    // after it, one every 150 ms, and are skipped.
    let mut back = open(
        &server,
        &format!("/api/listen/shop?after={resume}"),
        Token::Query(&token),
    )
    .await;
    for i in 0..MISSED {
        assert_eq!(next_message(&mut back).await.0, format!("missed {i}"));
    }
    incoming(&server, "shop", "marker").await;
    assert_eq!(
        next_message(&mut back).await.0,
        "marker",
        "no repeat before the next message"
    );
    server.stop().await;
}

/// The events of `GET /api/instances/shop/events` pages, following `next_cursor`
/// from `after` (none: from the start) with `limit`, until `has_more` is false.
async fn all_pages(
    server: &TestServer,
    token: &str,
    after: Option<String>,
    limit: usize,
) -> (Vec<Value>, usize, String) {
    let api = server.client(Some(token));
    let mut after = after;
    let mut events = Vec::new();
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(after) => format!("/api/instances/shop/events?limit={limit}&after={after}"),
            None => format!("/api/instances/shop/events?limit={limit}"),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, 200, "{path}: {page}");
        pages += 1;
        let items = page["events"].as_array().expect("events").clone();
        assert!(items.len() <= limit, "{page}");
        let next = page["next_cursor"].as_str().expect("next_cursor").to_owned();
        if let Some(last) = items.last() {
            assert_eq!(last["cursor"].as_str(), Some(next.as_str()), "{page}");
        }
        events.extend(items);
        if page["has_more"] != true {
            return (events, pages, next);
        }
        after = Some(next);
    }
}

#[tokio::test]
async fn events_pages_through_a_long_history_in_order() {
    const COUNT: usize = 230;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", "6281111111111").await;
    let other = online(&mut server, "other", "6282222222222").await;
    let mut ids = Vec::new();
    for i in 0..COUNT {
        ids.push(incoming(&server, "shop", &format!("message {i}")).await);
        if i % 50 == 0 {
            incoming(&server, "other", "not shop's").await;
        }
    }
    published(&mut server, &ids).await;

    let (events, pages, end) = all_pages(&server, &token, None, 100).await;
    assert!(events.len() >= COUNT, "{}", events.len());
    assert_eq!(pages, events.len().div_ceil(100));
    let messages: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"]["kind"]["type"] == "message")
        .collect();
    assert_eq!(
        messages
            .iter()
            .map(|e| e["event"]["kind"]["data"]["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "every message, in order"
    );
    let cursors: Vec<i64> = events
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "cursors grow: {cursors:?}");
    // The canonical shape, the instance's own only.
    let first = &messages[0]["event"];
    assert_eq!(first["instance_id"], "shop");
    assert!(first["id"].as_str().is_some_and(|id| !id.is_empty()), "{first}");
    assert!(first["at_us"].as_i64().is_some(), "{first}");
    assert_eq!(first["kind"]["data"]["content"]["text"], "message 0", "{first}");
    assert!(events.iter().all(|e| e["event"]["instance_id"] == "shop"));

    // From the middle, and past the end.
    let (rest, _, _) = all_pages(&server, &token, Some(cursors[99].to_string()), 1000).await;
    assert_eq!(rest.len(), events.len() - 100);
    assert_eq!(rest[0], events[100]);
    let (status, page) = server
        .client(Some(&token))
        .get(&format!("/api/instances/shop/events?after={end}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page,
        json!({"instance_id": "shop", "events": [], "next_cursor": end, "has_more": false})
    );

    // The admin may read it; another instance's token may not; limits and cursors are checked.
    assert_eq!(server.admin().get("/api/instances/shop/events?limit=1").await.0, 200);
    assert_eq!(
        server.client(Some(&other)).get("/api/instances/shop/events").await.0,
        403
    );
    assert_eq!(server.admin().get("/api/instances/nope/events").await.0, 404);
    for bad in ["limit=0", "limit=1001", "after=abc", "after=-1", "after=1e3"] {
        let (status, body) = server.admin().get(&format!("/api/instances/shop/events?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let code = if bad.starts_with("after") {
            "invalid_cursor"
        } else {
            "invalid_query"
        };
        assert_eq!(body["error"]["code"], code, "{bad}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_cursor_behind_the_retention_gets_410_and_a_newer_one_does_not() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.journal_max_per_instance = 2;
    config.journal_prune_interval_ms = 20;
    let mut server = TestServer::start_with(config).await;
    let token = online(&mut server, "shop", "6281111111111").await;
    let mut listener = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    let mut cursors = Vec::new();
    for i in 0..6 {
        incoming(&server, "shop", &format!("m{i}")).await;
        cursors.push(cursor(&next_message(&mut listener).await.1));
    }
    // The prune runs every 20 ms; it keeps the newest two.
    let expired = format!("/api/instances/shop/events?after={}", cursors[0]);
    let deadline = tokio::time::Instant::now() + WAIT;
    let body = loop {
        let (status, body) = server.client(Some(&token)).get(&expired).await;
        if status == 410 {
            break body;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old entries were never pruned: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(body["error"]["code"], "cursor_expired", "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    // The prune is done once only the newest two are left.
    let newest = || async {
        let (status, page) = server.client(Some(&token)).get("/api/instances/shop/events").await;
        assert_eq!(status, 200, "{page}");
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["event"]["kind"]["data"]["content"]["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    while newest().await != ["m4", "m5"] {
        assert!(tokio::time::Instant::now() < deadline, "the prune never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The WebSocket routes answer the same before upgrading.
    for path in [
        format!("/api/listen/shop?after={}", cursors[1]),
        format!("/ws?after={}", cursors[1]),
    ] {
        let token = if path.starts_with("/ws") {
            server.admin_token.clone()
        } else {
            token.clone()
        };
        let (status, body) = connect(&server, &path, Token::Query(&token))
            .await
            .err()
            .unwrap_or_else(|| panic!("{path} is refused"));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (410, Some("cursor_expired")),
            "{path}: {body}"
        );
    }
    // A cursor at the horizon is still good: it has lost nothing.
    let (status, page) = server
        .client(Some(&token))
        .get(&format!("/api/instances/shop/events?after={}", cursors[3]))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"].as_array().map(Vec::len), Some(2), "{page}");
    let mut back = open(
        &server,
        &format!("/api/listen/shop?after={}", cursors[4]),
        Token::Query(&token),
    )
    .await;
    assert_eq!(next_message(&mut back).await.0, "m5");
    let (status, body) = connect(&server, "/api/listen/shop?after=x1", Token::Query(&token))
        .await
        .err()
        .expect("a malformed cursor is refused");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_cursor")),
        "{body}"
    );
    server.stop().await;
}

/// One event of every kind.
fn every_kind() -> Vec<Event> {
    let message = wasap_plugin::testing::message_event(wasap_plugin::testing::text_message(
        "6281234567890@s.whatsapp.net",
        "hi",
    ));
    let kinds = vec![
        message.kind.clone(),
        EventKind::MessageUndecryptable(wasap::events::Undecryptable {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: "3EB0B".into(),
            chat: "6281234567890@s.whatsapp.net".into(),
            sender: "6281234567890@s.whatsapp.net".into(),
            push_name: None,
            from_me: false,
            is_group: false,
            timestamp: 1,
            reason: "decryption_failed".into(),
        }),
        EventKind::Receipt(Receipt {
            sender_lid: None,
            sender_phone: None,
            chat: "6281234567890@s.whatsapp.net".into(),
            sender: "6281234567890@s.whatsapp.net".into(),
            ids: vec!["A".into()],
            receipt_type: ReceiptType::Read,
            timestamp: 1,
        }),
        EventKind::GroupParticipants(GroupParticipants {
            participants: Vec::new(),
            group: "1203@g.us".into(),
            action: GroupAction::Join,
            jids: vec!["6281234567890@s.whatsapp.net".into()],
            timestamp: 1,
        }),
        EventKind::PollVote(wasap::events::PollVote {
            id: "3EB0V".into(),
            poll_id: "3EB0P".into(),
            chat: "6281234567890@s.whatsapp.net".into(),
            voter: "6281234567890@s.whatsapp.net".into(),
            voter_lid: None,
            voter_phone: Some("6281234567890".into()),
            push_name: Some("Budi".into()),
            is_group: false,
            timestamp: 1,
            selected: vec!["Rice".into()],
            totals: vec![wasap::events::PollTotal {
                option: "Rice".into(),
                votes: 1,
            }],
        }),
        EventKind::ChatState(wasap::events::ChatStateChange {
            sender_phone: None,
            chat: "6281234567890@s.whatsapp.net".into(),
            sender: "6281234567890@s.whatsapp.net".into(),
            sender_lid: None,
            is_group: false,
            state: wasap::events::ChatState::Typing,
            timestamp: 1,
        }),
        EventKind::GroupUpdate(wasap::events::GroupUpdate {
            group: "120363402106000000@g.us".into(),
            change: wasap::events::GroupUpdateKind::Subject,
            text: Some("Shop talk".into()),
            enabled: None,
            author: Some("6281234567890@s.whatsapp.net".into()),
            timestamp: 1,
        }),
        EventKind::Qr {
            qr: "2@abc".into(),
            expires_at_ms: 1,
        },
        EventKind::StatusChanged {
            status: InstanceStatus::Online,
            previous: InstanceStatus::Connecting,
        },
        EventKind::Paired {
            jid: "6281111111111@s.whatsapp.net".into(),
            phone_number: "6281111111111".into(),
            push_name: None,
        },
        EventKind::LoggedOut { reason: "gone".into() },
        EventKind::CallOffer(call(None)),
        EventKind::CallMissed(call(Some("hung_up"))),
        EventKind::CallEnded(call(Some("rejected_elsewhere"))),
        EventKind::Offline {
            status: InstanceStatus::Disconnected,
            offline_secs: 300,
            reason: None,
        },
        EventKind::PluginError {
            plugin: "p".into(),
            error: "e".into(),
        },
        EventKind::System { message: "s".into() },
        EventKind::QueueJob(wasap::events::QueueJob {
            job_id: 1,
            status: wasap::events::JobStatus::Sent,
            kind: "text".into(),
            batch_id: None,
            message_id: Some("3EB0JOB".into()),
            failure: None,
            to: Some("6281234567890".into()),
        }),
    ];
    kinds.into_iter().map(|kind| new_event("shop", kind)).collect()
}

/// A voice call from a contact, stopped for `reason` (an offer when none).
fn call(reason: Option<&str>) -> wasap::events::Call {
    wasap::events::Call {
        id: "CALL1".into(),
        from: "6281234567890@s.whatsapp.net".into(),
        from_lid: None,
        from_phone: Some("6281234567890".into()),
        group: None,
        is_video: false,
        is_group: false,
        timestamp: 1,
        reason: reason.map(Into::into),
        auto_rejected: false,
    }
}

#[test]
fn replayed_frames_are_the_builtin_outputs_frames_with_their_cursor() {
    let events = every_kind();
    let names: HashSet<&str> = events.iter().map(Event::name).collect();
    for name in EventKind::NAMES {
        assert!(
            names.contains(name),
            "no sample of kind {name}: add one (and give it a replay channel)"
        );
    }
    for event in &events {
        let builtin = websocket::frame(event).map(|(channel, text)| {
            let channel = match channel {
                wasap_plugin::Channel::Global => Channel::Global,
                wasap_plugin::Channel::Instance(id) => Channel::Instance(id),
            };
            (channel, with_cursor(&text, 7))
        });
        let replayed = channel_of(event).and_then(|channel| Some((channel, frame_of(event, 7)?.to_string())));
        assert_eq!(replayed, builtin, "{}", event.name());
    }
}
