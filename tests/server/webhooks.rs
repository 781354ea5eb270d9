//! Webhooks, black-box: the built-in webhook plugin (embedded in the
//! binary) turns events into deliveries, which a real
//! HTTP receiver on loopback gets, signed as the source documents (docs/seeds/) verify
//! signatures; retries keep the event id; the outbox survives `kill -9` of
//! the server's process;
//! a receiver that never answers ends `failed` and is retried on request;
//! a slow receiver does not hold up another.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use wasap_tests::child_server::ChildServer;
use wasap_tests::plugins::{component, install, manifest};
use wasap_tests::webhook_receiver::{
    Behaviour, Received, WebhookReceiver, signature_valid, timestamped_signature_valid,
};
use wasap_tests::websocket::{self as ws, Token};
use wasap_tests::{TestDb, TestServer, WAIT, data_dir, online, sim_config};

const WEBHOOK: &str = "plugins/builtin/webhook";
const CONTACT: &str = "6281234567890";
const GROUP: &str = "120363402106000000@g.us";
use wasap_tests::outputs::{GOWA_SECRET, SUDEVWA_SECRET};

/// The test configuration: quick retries, so retry tests take milliseconds.
fn config(db: &TestDb, dir: &std::path::Path) -> wasap::Config {
    let mut config = sim_config(db, dir);
    config.webhook_backoff_ms = vec![50, 100, 200];
    config.webhook_timeout_ms = 5_000;
    config.debug = true;
    config
}

/// A message from a contact to `shop`; its message id.
async fn incoming(server: &TestServer, body: Value) -> String {
    server.sim("shop").incoming(body).await
}

async fn text(server: &TestServer, text: &str) -> String {
    incoming(
        server,
        json!({ "from": CONTACT, "push_name": "John Doe", "text": text }),
    )
    .await
}

async fn set_primary(server: &TestServer, url: &str, secret: Option<&str>) -> Value {
    let mut body = json!({ "url": url });
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    let (status, answer) = server.admin().post("/api/instances/shop/webhook-setconfig", body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn add_webhook(server: &TestServer, body: Value) -> Value {
    let (status, answer) = server.admin().post("/api/instances/shop/webhooks", body).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

async fn deliveries(server: &TestServer, query: &str) -> Vec<Value> {
    let (status, body) = server.admin().get(&format!("/api/deliveries{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// Polls the outbox (deadline [`WAIT`]) until `done` holds for the deliveries `query` lists.
async fn wait_deliveries(server: &TestServer, query: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let list = deliveries(server, query).await;
        if done(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; deliveries: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn event_ids(requests: &[Received]) -> std::collections::BTreeSet<String> {
    requests.iter().map(|r| r.event_id().to_owned()).collect()
}

#[tokio::test]
async fn webhook_routes_follow_the_seed_and_the_access_rules() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start_with(config(&db, dir.path())).await;
    let token = online(&mut server, "shop", "6289900000001").await;
    let other = online(&mut server, "other", "6289900000002").await;
    let own = server.client(Some(&token));

    // The seed's request and answer, with the secret given...
    let (status, answer) = own
        .post(
            "/api/instances/shop/webhook-setconfig",
            json!({ "url": "https://your-app.com/wa-webhook", "secret": SUDEVWA_SECRET }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "instanceId": "shop", "webhookUrl": "https://your-app.com/wa-webhook", "secret": SUDEVWA_SECRET })
    );
    // ...and generated (64 hex characters) when absent; the primary webhook is replaced, not added.
    let answer = set_primary(&server, "https://your-app.com/other", None).await;
    let secret = answer["secret"].as_str().unwrap();
    assert!(
        secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()),
        "{answer}"
    );
    assert_ne!(secret, SUDEVWA_SECRET);

    let created = add_webhook(&server, json!({ "url": "https://hooks.example.com/x", "format": "gowa", "events": ["incoming_message", "message.ack"] })).await;
    assert_eq!(created["format"], "gowa");
    assert_eq!(created["events"], json!(["message", "receipt"]));
    assert_eq!(created["secret"].as_str().unwrap().len(), 64);
    let (status, list) = own.get("/api/instances/shop/webhooks").await;
    assert_eq!(status, 200, "{list}");
    let hooks = list["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2, "{list}");
    assert_eq!(
        (
            hooks[0]["url"].clone(),
            hooks[0]["format"].clone(),
            hooks[0]["primary"].clone()
        ),
        (json!("https://your-app.com/other"), json!("sudevwa"), json!(true))
    );
    assert_eq!(
        hooks[0]["events"],
        json!([
            "message",
            "message_undecryptable",
            "receipt",
            "group_participants",
            "group_update",
            "poll_vote",
            "call_offer",
            "call_missed",
            "call_ended"
        ]),
        "the primary webhook gets the message traffic"
    );
    assert!(
        hooks.iter().all(|h| h.get("secret").is_none()),
        "secrets are never listed: {list}"
    );

    // Refusals.
    for (body, code) in [
        (json!({ "url": "not a url" }), "invalid_url"),
        (json!({ "url": "ftp://example.com/x" }), "url_not_allowed"),
        (
            json!({ "url": "https://a.example/x", "format": "xml" }),
            "invalid_format",
        ),
        (
            json!({ "url": "https://a.example/x", "events": ["teleport"] }),
            "invalid_event",
        ),
    ] {
        let (status, answer) = own.post("/api/instances/shop/webhooks", body.clone()).await;
        assert_eq!((status, answer["error"]["code"].clone()), (422, json!(code)), "{body}");
    }
    let (status, _) = server.client(Some(&other)).get("/api/instances/shop/webhooks").await;
    assert_eq!(status, 403);
    let (status, _) = own.get("/api/deliveries").await;
    assert_eq!(status, 403, "deliveries are for the admin");
    let (status, answer) = server
        .admin()
        .post(
            "/api/instances/ghost/webhook-setconfig",
            json!({ "url": "https://a.example/" }),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (404, json!("instance_not_found"))
    );
    let (status, answer) = server.admin().get("/api/deliveries?status=lost").await;
    assert_eq!(status, 400, "{answer}");

    let id = created["id"].as_str().unwrap();
    let (status, _) = own.delete(&format!("/api/instances/shop/webhooks/{id}")).await;
    assert_eq!(status, 200);
    let (status, answer) = own.delete(&format!("/api/instances/shop/webhooks/{id}")).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (404, json!("webhook_not_found"))
    );

    let (_, openapi) = server.client(None).get("/openapi.json").await;
    for path in [
        "/api/instances/{id}/webhook-setconfig",
        "/api/instances/{id}/webhooks",
        "/api/instances/{id}/webhooks/{webhook_id}",
        "/api/deliveries",
        "/api/deliveries/{id}/retry",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} is documented");
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn every_payload_kind_arrives_signed_in_both_formats() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let mut config = config(&db, dir.path());
    // A global gowa webhook with no secret configured: one is generated and kept.
    config.webhooks = vec![format!("{}, {}", receiver.url("/global"), receiver.url("/global2"))];
    let mut server = TestServer::start_with(config).await;
    let global_secret =
        std::fs::read_to_string(dir.path().join("webhook_secret")).expect("the generated global secret is kept");
    assert_eq!(global_secret.trim().len(), 64);
    online(&mut server, "shop", "6289900000001").await;
    set_primary(&server, &receiver.url("/sudevwa"), Some(SUDEVWA_SECRET)).await;
    add_webhook(
        &server,
        json!({ "url": receiver.url("/gowa"), "secret": GOWA_SECRET, "format": "gowa" }),
    )
    .await;
    // An event filter: only receipts.
    add_webhook(
        &server,
        json!({ "url": receiver.url("/receipts"), "secret": GOWA_SECRET, "events": ["message.receipt"] }),
    )
    .await;

    // Every kind the gowa document shows, and the sudevwa document's incoming_message.
    let media = |kind: &str, mime: &str| {
        json!({ "from": CONTACT, "kind": kind, "caption": format!("a {kind}"), "view_once": kind == "image",
                "media": { "base64": b64(&[1, 2, 3, 4]), "mime_type": mime, "file_name": format!("f.{kind}") } })
    };
    let messages = [
        json!({ "from": CONTACT, "push_name": "John Doe", "text": "Hello World" }),
        json!({ "from": CONTACT, "group": GROUP, "text": "fine", "reply_to": { "id": "3EB0Q", "text": "how?" } }),
        json!({ "from": CONTACT, "text": "fwd", "forwarded": true }),
        json!({ "from": CONTACT, "kind": "contact", "contact": { "display_name": "3Care", "vcard": "BEGIN:VCARD\nEND:VCARD" } }),
        json!({ "from": CONTACT, "kind": "location", "location": { "latitude": -6.2088, "longitude": 106.8456, "name": "Jakarta" } }),
        json!({ "from": CONTACT, "kind": "reaction", "reaction": { "emoji": "👍", "target_id": "3EB0T" } }),
        json!({ "from": CONTACT, "kind": "revoke", "target_id": "3EB0R" }),
        json!({ "from": CONTACT, "kind": "edit", "target_id": "3EB0E", "text": "new" }),
        json!({ "from": CONTACT, "kind": "delete_for_me", "target_id": "3EB0D", "from_me": true }),
        media("image", "image/jpeg"),
        media("video", "video/mp4"),
        media("audio", "audio/ogg"),
        media("document", "application/pdf"),
        media("sticker", "image/webp"),
    ];
    for body in messages {
        incoming(&server, body).await;
    }
    let (status, _) = server
        .admin()
        .post(
            "/sim/instances/shop/receipt",
            json!({ "from": CONTACT, "ids": ["3EB0A"], "type": "read" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .admin()
        .post(
            "/sim/instances/shop/group-participants",
            json!({ "group": GROUP, "type": "join", "jids": [CONTACT] }),
        )
        .await;
    assert_eq!(status, 200);

    // sudevwa carries 10 of the 14 messages (not reactions, revocations, edits,
    // deletions), the receipt and the group event; gowa carries all 16.
    let count = |all: &[Received], path: &str| all.iter().filter(|r| r.path == path).count();
    let all = receiver
        .until("every delivery", |all| {
            count(all, "/sudevwa") >= 12
                && count(all, "/gowa") >= 16
                && count(all, "/global") >= 16
                && count(all, "/global2") >= 16
                && count(all, "/receipts") >= 1
        })
        .await;
    assert_eq!(
        (
            count(&all, "/sudevwa"),
            count(&all, "/gowa"),
            count(&all, "/global"),
            count(&all, "/global2")
        ),
        (12, 16, 16, 16)
    );
    let receipts: Vec<&Received> = all.iter().filter(|r| r.path == "/receipts").collect();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].json()["event"], "message.receipt");

    for request in &all {
        let (format, secret) = match request.path.as_str() {
            "/sudevwa" => ("sudevwa", SUDEVWA_SECRET),
            "/receipts" => ("sudevwa", GOWA_SECRET),
            "/gowa" => ("gowa", GOWA_SECRET),
            _ => ("gowa", global_secret.trim()),
        };
        assert!(
            signature_valid(request, format, secret),
            "a valid {format} signature on {}: {:?}",
            request.path,
            request.headers
        );
        assert!(
            timestamped_signature_valid(request, secret, 60),
            "a valid, fresh X-Wasap-Signature on {}: {:?}",
            request.path,
            request.headers
        );
        assert!(
            !timestamped_signature_valid(request, "not-the-secret", 60),
            "the timestamped signature depends on the secret"
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.attempt(), 1);
    }
    // One event, one id, whichever receiver and format.
    let ids = |path: &str| event_ids(&all.iter().filter(|r| r.path == path).cloned().collect::<Vec<_>>());
    assert_eq!(ids("/gowa").len(), 16);
    assert_eq!(ids("/gowa"), ids("/global"));
    assert_eq!(ids("/gowa"), ids("/global2"));
    assert!(ids("/sudevwa").is_subset(&ids("/gowa")));

    let bodies = |path: &str| {
        all.iter()
            .filter(|r| r.path == path)
            .map(Received::json)
            .collect::<Vec<_>>()
    };
    let sudevwa = bodies("/sudevwa");
    let hello = sudevwa
        .iter()
        .find(|b| b["data"]["message"] == "Hello World")
        .expect("the seed's incoming_message");
    assert_eq!(hello["event"], "incoming_message");
    let mut keys: Vec<&str> = hello["data"].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "from",
            "from_me",
            "instance_id",
            "is_group",
            "message",
            "message_id",
            "push_name",
            "timestamp"
        ]
    );
    assert_eq!(
        (hello["data"]["instance_id"].clone(), hello["data"]["push_name"].clone()),
        (json!("shop"), json!("John Doe"))
    );
    let names: std::collections::BTreeSet<&str> = sudevwa.iter().map(|b| b["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["group.participants", "incoming_message", "message.receipt"].into()
    );

    let gowa = bodies("/gowa");
    let has = |what: &str, test: &dyn Fn(&Value) -> bool| {
        assert!(gowa.iter().any(test), "a gowa {what} payload in {gowa:#?}")
    };
    has("text", &|b| {
        b["message"]["text"] == "Hello World" && b["sender_id"] == CONTACT && b["pushname"] == "John Doe"
    });
    has("reply", &|b| {
        b["message"]["replied_id"] == "3EB0Q" && b["message"]["quoted_message"] == "how?"
    });
    has("forwarded", &|b| b["forwarded"] == true);
    has("view-once image", &|b| {
        b["view_once"] == true && b["image"]["media_path"].is_string()
    });
    for kind in ["video", "audio", "document", "sticker"] {
        has(kind, &|b| b[kind]["media_path"].as_str().is_some_and(|p| !p.is_empty()));
    }
    has("contact", &|b| b["contact"]["displayName"] == "3Care");
    has("location", &|b| b["location"]["degreesLatitude"] == -6.2088);
    has("reaction", &|b| {
        b["reaction"]["message"] == "👍" && b["reaction"]["id"] == "3EB0T"
    });
    has("revocation", &|b| {
        b["action"] == "message_revoked" && b["revoked_message_id"] == "3EB0R"
    });
    has("edit", &|b| {
        b["action"] == "message_edited" && b["edited_text"] == "new"
    });
    has("deletion", &|b| {
        b["action"] == "message_deleted_for_me" && b["deleted_message_id"] == "3EB0D"
    });
    has("receipt", &|b| {
        b["event"] == "message.ack" && b["payload"]["receipt_type"] == "read"
    });
    has("group change", &|b| {
        b["event"] == "group.participants" && b["payload"]["type"] == "join"
    });

    let delivered = wait_deliveries(&server, "?status=delivered&instance_id=shop", "61 deliveries", |d| {
        d.len() == 61
    })
    .await;
    assert!(
        delivered
            .iter()
            .all(|d| d["attempts"] == 1 && d["next_attempt_at"].is_null()),
        "{delivered:#?}"
    );
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    receiver.set("/flaky", Behaviour::FailFirst(2));
    let mut server = TestServer::start_with(config(&db, dir.path())).await;
    online(&mut server, "shop", "6289900000001").await;
    set_primary(&server, &receiver.url("/flaky"), Some(SUDEVWA_SECRET)).await;

    text(&server, "third time lucky").await;
    let all = receiver.until("three attempts", |all| all.len() >= 3).await;
    assert_eq!(all.iter().map(Received::attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(event_ids(&all).len(), 1, "the same X-Wasap-Event-Id on every attempt");
    assert!(
        all.iter()
            .all(|r| signature_valid(r, "sudevwa", SUDEVWA_SECRET) && r.body == all[0].body)
    );
    let done = wait_deliveries(&server, "?instance_id=shop", "the delivery to be delivered", |d| {
        d.len() == 1 && d[0]["status"] == "delivered"
    })
    .await;
    assert_eq!(done[0]["attempts"], 3);
    assert_eq!(done[0]["event_id"], all[0].event_id());
    assert!(done[0]["last_error"].as_str().unwrap().contains("500"), "{done:#?}");
}

#[tokio::test]
async fn a_receiver_that_never_answers_ends_failed_and_is_retried_on_request() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    receiver.set("/hang", Behaviour::Never);
    let mut config = config(&db, dir.path());
    config.webhook_attempts = 2;
    config.webhook_timeout_ms = 300;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6289900000001").await;
    set_primary(&server, &receiver.url("/hang"), None).await;
    let mut listener = ws::open(&server, "/ws", Token::Header(&server.admin_token.clone())).await;

    text(&server, "anyone there?").await;
    let first = receiver.until("two attempts", |all| all.len() >= 2).await;
    let failed = wait_deliveries(&server, "?status=failed", "the delivery to fail", |d| d.len() == 1).await;
    let delivery = &failed[0];
    assert_eq!(
        (delivery["attempts"].clone(), delivery["event_id"].clone()),
        (json!(2), json!(first[0].event_id()))
    );
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap()
            .contains("did not answer in time"),
        "{delivery}"
    );
    assert!(delivery["next_attempt_at"].is_null());
    let id = delivery["id"].as_str().unwrap();
    // The operator hears of it on /ws, naming the receiver by host only.
    let (notice, _) = listener.wait_event("system").await;
    let message = notice["data"]["message"].as_str().expect("a message");
    let expected = format!(
        "webhook delivery failed: {id} (event {}) to 127.0.0.1: ",
        first[0].event_id()
    );
    assert!(
        message.starts_with(&expected) && message.contains("did not answer in time"),
        "{message}"
    );
    assert!(!message.contains("/hang"), "no path in the notice: {message}");

    // Retried on request: the receiver answers now, and gets the same event.
    receiver.set("/hang", Behaviour::Ok);
    let (status, answer) = server.admin().post_empty(&format!("/api/deliveries/{id}/retry")).await;
    assert_eq!((status, answer["status"].clone()), (200, json!("pending")), "{answer}");
    let again = receiver.until("the retried delivery", |all| !all.is_empty()).await;
    assert_eq!(again[0].event_id(), first[0].event_id());
    wait_deliveries(&server, "?status=delivered", "the retried delivery to succeed", |d| {
        d.len() == 1
    })
    .await;

    let (status, answer) = server.admin().post_empty(&format!("/api/deliveries/{id}/retry")).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (409, json!("delivery_not_failed"))
    );
    let (status, _) = server.admin().post_empty("/api/deliveries/nope/retry").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_slow_receiver_does_not_delay_another() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    receiver.set("/slow", Behaviour::Never);
    let mut config = config(&db, dir.path());
    // Longer than the test: every attempt on /slow hangs for its duration.
    config.webhook_timeout_ms = 600_000;
    config.webhook_concurrency = 4;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6289900000001").await;
    set_primary(&server, &receiver.url("/slow"), None).await;
    add_webhook(&server, json!({ "url": receiver.url("/fast") })).await;

    // More events than the slow receiver may have in flight at once.
    for n in 0..12 {
        text(&server, &format!("message {n}")).await;
    }
    let count = |all: &[Received], path: &str| all.iter().filter(|r| r.path == path).count();
    let all = receiver
        .until("every event at the fast receiver", |all| count(all, "/fast") >= 12)
        .await;
    assert_eq!(
        event_ids(&all.iter().filter(|r| r.path == "/fast").cloned().collect::<Vec<_>>()).len(),
        12
    );
    // The slow one holds its share of attempts, all still hanging, and no more.
    assert!(
        count(&all, "/slow") <= 4,
        "at most 4 attempts in flight per receiver: {}",
        count(&all, "/slow")
    );
    let (_, hooks) = server.admin().get("/api/instances/shop/webhooks").await;
    let slow_id = hooks["webhooks"][0]["id"].clone();
    let pending = deliveries(&server, "?status=pending").await;
    assert_eq!(
        pending.iter().filter(|d| d["webhook_id"] == slow_id).count(),
        12,
        "the slow receiver's deliveries are all still pending"
    );
}

/// `wasap serve` flags for a server in a child process on `db` and `dir`, as
/// [`config`] sets up the in-process ones: the sim engine, loopback webhooks.
fn child_flags(db: &TestDb, dir: &std::path::Path, webhook_timeout_ms: u64) -> Vec<String> {
    let dir = dir.display().to_string();
    [
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "sim",
        "--allow-private-urls",
        "--database-url",
        db.url(),
        "--data-dir",
        &dir,
        "--plugins-dir",
        &format!("{dir}/plugins.d"),
        "--reconnect-min-ms",
        "20",
        "--reconnect-max-ms",
        "200",
        "--webhook-backoff-ms",
        "3000",
        "--webhook-timeout-ms",
        &webhook_timeout_ms.to_string(),
        "--log",
        "warn",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test]
async fn pending_deliveries_survive_kill_9() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    // Until the kill, one receiver hangs (its deliveries are in flight) and
    // the other refuses (its deliveries wait for a retry).
    receiver.set("/down", Behaviour::Never);
    receiver.set("/refusing", Behaviour::Status(503));
    let server = ChildServer::start(crate::child::ENTRY, &child_flags(&db, dir.path(), 600_000)).await;
    let admin = server.admin();
    let mut global = ws::open_to(server.addr, "/ws", Token::Header(&server.admin_token)).await;
    let (status, created) = admin.post("/api/instances", json!({ "instance_id": "shop" })).await;
    assert_eq!(status, 201, "{created}");
    admin.get("/api/instances/shop/qr").await;
    let (status, _) = admin
        .post("/sim/instances/shop/scan", json!({ "phone": "6289900000001" }))
        .await;
    assert_eq!(status, 200);
    while global.wait_event("instance.status").await.0["data"]["status"] != "online" {}
    let (status, _) = admin
        .post(
            "/api/instances/shop/webhook-setconfig",
            json!({ "url": receiver.url("/down"), "secret": SUDEVWA_SECRET }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = admin
        .post(
            "/api/instances/shop/webhooks",
            json!({ "url": receiver.url("/refusing"), "secret": SUDEVWA_SECRET, "events": ["message"] }),
        )
        .await;
    assert_eq!(status, 201);
    for n in 0..5 {
        server.sim("shop").text(CONTACT, &format!("message {n}")).await;
    }
    // An attempt of every event at both receivers: every delivery is in the outbox.
    let ids_at =
        |all: &[Received], path: &str| event_ids(&all.iter().filter(|r| r.path == path).cloned().collect::<Vec<_>>());
    let before = receiver
        .until("an attempt of each event at each receiver", |all| {
            ids_at(all, "/down").len() >= 5 && ids_at(all, "/refusing").len() >= 5
        })
        .await;
    let expected = ids_at(&before, "/down");
    assert_eq!(
        ids_at(&before, "/refusing"),
        expected,
        "both receivers get the same events"
    );
    let token = server.admin_token.clone();
    server.kill();

    receiver.set("/down", Behaviour::Ok);
    receiver.set("/refusing", Behaviour::Ok);
    let server = ChildServer::start(crate::child::ENTRY, &child_flags(&db, dir.path(), 5_000)).await;
    let after = receiver
        .until("every event at both receivers after the restart", |all| {
            ids_at(all, "/down") == expected && ids_at(all, "/refusing") == expected
        })
        .await;
    // Every request is a delivery of one of those events, signed, carrying
    // its event's id; a delivery cut short by the kill is sent again, but
    // not over and over.
    let mut copies = std::collections::BTreeMap::new();
    for request in &after {
        assert!(
            expected.contains(request.event_id()),
            "an event from before the kill: {:?}",
            request.headers
        );
        assert!(signature_valid(request, "sudevwa", SUDEVWA_SECRET));
        *copies
            .entry((request.path.clone(), request.event_id().to_owned()))
            .or_insert(0) += 1;
        let original = before
            .iter()
            .find(|r| r.path == request.path && r.event_id() == request.event_id())
            .expect("seen before the kill");
        assert_eq!(request.body, original.body, "a retry carries the same payload");
    }
    assert!(
        copies.values().all(|n| *n <= 2),
        "at most one duplicate per delivery: {copies:?}"
    );
    assert!(
        after.iter().filter(|r| r.path == "/down").all(|r| r.attempt() >= 2),
        "the attempt the kill cut short counts"
    );
    assert_eq!(
        server.admin_token, token,
        "the same data directory, the same admin token"
    );
}

#[tokio::test]
async fn webhooks_switched_off_send_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let mut config = config(&db, dir.path());
    config.enable_webhook = false;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6289900000001").await;
    // The output is not loaded at all, and its name stays reserved.
    let (status, body) = server.admin().get("/api/plugins/webhook").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = install(&server, &manifest(WEBHOOK), component(WEBHOOK)).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = install(
        &server,
        &manifest("tests/plugins/probe"),
        component("tests/plugins/probe"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    set_primary(&server, &receiver.url("/hook"), None).await;

    text(&server, "one").await;
    text(&server, "two").await;
    // The probe answers each message; its answer to the second means the
    // first has been through the whole chain, the webhook plugin included.
    let (status, sent) = server.admin().get("/sim/instances/shop/sent?min=2&wait_ms=10000").await;
    assert_eq!((status, sent["messages"].as_array().unwrap().len()), (200, 2), "{sent}");
    assert!(
        deliveries(&server, "").await.is_empty(),
        "nothing is queued while webhooks are off"
    );
    assert!(receiver.next(Duration::from_millis(1)).await.is_none());
}

#[tokio::test]
async fn finished_deliveries_are_pruned_after_their_retention() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    receiver.set("/down", Behaviour::Status(500));
    let mut config = config(&db, dir.path());
    config.webhook_attempts = 1;
    config.failed_retention_secs = 1;
    config.delivery_prune_interval_ms = 100;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, "shop", "6289900000001").await;
    set_primary(&server, &receiver.url("/down"), None).await;
    add_webhook(&server, json!({ "url": receiver.url("/up") })).await;

    text(&server, "one failed, one delivered").await;
    // Both rows exist once each receiver was tried (the outbox row comes
    // first); the failed one may be pruned before a listing could show it.
    receiver
        .until("an attempt at each receiver", |all| {
            all.iter().any(|r| r.path == "/down") && all.iter().any(|r| r.path == "/up")
        })
        .await;
    // The failed row (and its payload) goes after a second; the delivered one
    // is kept for its default week.
    let left = wait_deliveries(&server, "?instance_id=shop", "the failed delivery to be pruned", |d| {
        d.len() == 1
    })
    .await;
    assert_eq!(left[0]["status"], "delivered", "{left:#?}");
}
