//! Job status events (`queue_job`, docs/API.md "Send queue" and "Payloads")
//! on the simulated engine: a queued text's `queued`, `sending`, `sent`,
//! `delivered` and `read` reach `/ws` as `queue.job` frames in that order and
//! the webhooks that subscribe to the kind in both formats, field for field;
//! a cancelled job's `cancelled` does too; a webhook with no event filter
//! gets none of them (the kind is opt-in). Receipts come from the sim routes;
//! nothing waits on a sleep.

use serde_json::{Value, json};
use wasap_tests::TestServer;
use wasap_tests::send_queue::{Queue, SHOP, advance_clock, job_id, shop};
use wasap_tests::webhook_receiver::{Received, WebhookReceiver};
use wasap_tests::websocket::{Token, WsClient, open};

const CONTACT: &str = "6281234567890";
const LIFE: [&str; 5] = ["queued", "sending", "sent", "delivered", "read"];

struct Setup {
    server: TestServer,
    receiver: WebhookReceiver,
    ws: WsClient,
    /// The webhook with no event filter.
    unfiltered_id: String,
}

/// The instance `shop` online, three webhooks on one receiver (sudevwa and
/// gowa subscribed to the job events, sudevwa with no filter) and `/ws` open.
async fn setup() -> Setup {
    let server = shop().await;
    let receiver = WebhookReceiver::start().await;
    let api = server.admin();
    let mut unfiltered_id = String::new();
    for (path, format, events) in [
        ("/jobs", "sudevwa", json!(["queue.job"])),
        ("/gowa-jobs", "gowa", json!(["queue_job"])),
        ("/all", "sudevwa", json!([])),
    ] {
        let (status, created) = api
            .post(
                "/api/instances/shop/webhooks",
                json!({ "url": receiver.url(path), "format": format, "events": events }),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        if path == "/all" {
            unfiltered_id = created["id"].as_str().expect("a webhook id").to_owned();
        }
    }
    let ws = open(&server, "/ws", Token::Header(&server.admin_token.clone())).await;
    Setup {
        server,
        receiver,
        ws,
        unfiltered_id,
    }
}

/// The next `count` `queue.job` frames on `/ws` (other frames skipped).
async fn job_frames(ws: &mut WsClient, count: usize) -> Vec<Value> {
    let mut frames = Vec::new();
    while frames.len() < count {
        let (frame, _) = ws.wait_event("queue.job").await;
        frames.push(frame);
    }
    frames
}

/// The sudevwa `data` of a job event, as docs/API.md gives it.
fn sudevwa_data(id: i64, status: &str, kind: &str, message_id: Option<&str>, to: &str) -> Value {
    json!({
        "instance_id": "shop",
        "job_id": id,
        "status": status,
        "kind": kind,
        "batch_id": null,
        "message_id": message_id,
        "failure": null,
        "to": to,
    })
}

/// A sudevwa payload's `data` without its `timestamp`, after checking that
/// `timestamp` is the envelope's time in unix seconds.
fn data_without_time(payload: &Value) -> Value {
    assert_eq!(payload["event"], "queue.job", "{payload}");
    let envelope = payload["timestamp"].as_str().expect("a timestamp");
    let seconds = payload["data"]["timestamp"].as_i64().expect("unix seconds");
    let written = wasap::clock::rfc3339_ms(seconds * 1000);
    assert_eq!(written[..19], envelope[..19], "{payload}");
    let mut data = payload["data"].clone();
    data.as_object_mut().unwrap().remove("timestamp");
    data
}

fn on_path<'a>(received: &'a [Received], path: &str) -> Vec<&'a Received> {
    received.iter().filter(|r| r.path == path).collect()
}

/// The job events of one path, ordered by status along the job's life
/// (webhook deliveries are not promised in order).
fn by_life(requests: Vec<&Received>, status_of: impl Fn(&Value) -> String) -> Vec<Value> {
    let mut bodies: Vec<Value> = requests.into_iter().map(Received::json).collect();
    bodies.sort_by_key(|body| LIFE.iter().position(|s| *s == status_of(body)).unwrap_or(LIFE.len()));
    bodies
}

#[tokio::test]
async fn a_queued_text_is_seen_queued_sending_sent_delivered_read_on_ws_and_subscribed_webhooks() {
    let Setup {
        server,
        mut receiver,
        mut ws,
        unfiltered_id,
    } = setup().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    let id = job_id(&queue.text(CONTACT, "hello", json!({})).await);

    // `queued`, `sending` and `sent` come without a receipt.
    let first = job_frames(&mut ws, 3).await;
    let message_id = queue.job(id).await["message_id"]
        .as_str()
        .expect("a sent job has its message id")
        .to_owned();
    for kind in ["delivered", "read"] {
        let (status, body) = api
            .post(
                "/sim/instances/shop/receipt",
                json!({ "from": CONTACT, "ids": [message_id], "type": kind }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let frames: Vec<Value> = first.into_iter().chain(job_frames(&mut ws, 2).await).collect();
    let expected: Vec<Value> = LIFE
        .iter()
        .map(|status| {
            let message_id = (*status != "queued").then_some(message_id.as_str());
            sudevwa_data(id, status, "text", message_id, CONTACT)
        })
        .collect();
    let seen: Vec<Value> = frames.iter().map(data_without_time).collect();
    assert_eq!(seen, expected, "the /ws frames, in order");

    let received = receiver
        .until("the five job events on both subscribed webhooks", |all| {
            on_path(all, "/jobs").len() >= 5 && on_path(all, "/gowa-jobs").len() >= 5
        })
        .await;
    let sudevwa = by_life(on_path(&received, "/jobs"), |b| {
        b["data"]["status"].as_str().unwrap_or_default().to_owned()
    });
    assert_eq!(sudevwa.len(), 5);
    assert_eq!(sudevwa.iter().map(data_without_time).collect::<Vec<_>>(), expected);
    let gowa = by_life(on_path(&received, "/gowa-jobs"), |b| {
        b["payload"]["status"].as_str().unwrap_or_default().to_owned()
    });
    assert_eq!(gowa.len(), 5);
    for (body, status) in gowa.iter().zip(LIFE) {
        let mut payload = json!({
            "instance_id": "shop",
            "job_id": id,
            "status": status,
            "kind": "text",
            "to": CONTACT,
        });
        if status != "queued" {
            payload["message_id"] = json!(message_id);
        }
        assert_eq!(body["event"], "queue.job", "{body}");
        assert_eq!(body["payload"], payload, "{body}");
        let at = body["timestamp"].as_str().expect("a timestamp");
        assert!(at.len() == 20 && at.ends_with('Z'), "RFC 3339 in whole seconds: {body}");
    }
    assert!(
        on_path(&received, "/all")
            .iter()
            .all(|r| r.json()["event"] != "queue.job"),
        "the webhook with no event filter got a job event"
    );
    // Every event's deliveries are stored together: none is the unfiltered webhook's.
    let (status, list) = api.get("/api/deliveries?instance_id=shop&limit=500").await;
    assert_eq!(status, 200, "{list}");
    let deliveries = list["deliveries"].as_array().expect("deliveries");
    assert_eq!(
        deliveries.iter().filter(|d| d["event_kind"] == "queue_job").count(),
        10,
        "{list}"
    );
    assert!(
        !deliveries
            .iter()
            .any(|d| d["webhook_id"] == unfiltered_id.as_str() && d["event_kind"] == "queue_job"),
        "{list}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_cancelled_job_is_seen_cancelled_and_the_unfiltered_webhook_gets_no_job_event() {
    let Setup {
        server,
        mut receiver,
        mut ws,
        ..
    } = setup().await;
    let api = server.admin();
    let send_at = wasap::clock::rfc3339_ms(advance_clock(&api, 0).await + 3_600_000);
    let (status, queued) = api
        .post(
            "/api/send/shop/location",
            json!({ "to": CONTACT, "latitude": 1.5, "longitude": 2.5, "send_at": send_at }),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let id = job_id(&queued);
    let (status, body) = api.delete(&format!("/api/queue/shop/{id}")).await;
    assert_eq!(status, 200, "{body}");

    let frames = job_frames(&mut ws, 2).await;
    let expected: Vec<Value> = ["queued", "cancelled"]
        .iter()
        .map(|status| sudevwa_data(id, status, "location", None, CONTACT))
        .collect();
    assert_eq!(frames.iter().map(data_without_time).collect::<Vec<_>>(), expected);

    // A message from the contact reaches the unfiltered webhook after the
    // job events were stored: by then any job event of it would be queued.
    let message_id = server
        .sim("shop")
        .incoming(json!({ "from": CONTACT, "push_name": "John Doe", "text": "hi" }))
        .await;
    let received = receiver
        .until("both job events and the message", |all| {
            on_path(all, "/jobs").len() >= 2
                && on_path(all, "/gowa-jobs").len() >= 2
                && on_path(all, "/all")
                    .iter()
                    .any(|r| r.json()["data"]["message_id"] == message_id.as_str())
        })
        .await;
    let statuses = |path: &str, pointer: &str| {
        let mut statuses: Vec<String> = on_path(&received, path)
            .iter()
            .map(|r| {
                r.json()
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        statuses.sort();
        statuses
    };
    assert_eq!(statuses("/jobs", "/data/status"), ["cancelled", "queued"]);
    assert_eq!(statuses("/gowa-jobs", "/payload/status"), ["cancelled", "queued"]);
    let cancelled = on_path(&received, "/jobs")
        .into_iter()
        .map(Received::json)
        .find(|b| b["data"]["status"] == "cancelled")
        .expect("the cancelled event");
    assert_eq!(data_without_time(&cancelled), expected[1]);
    assert!(
        on_path(&received, "/all")
            .iter()
            .all(|r| r.json()["event"] != "queue.job"),
        "the webhook with no event filter got a job event"
    );
    server.stop().await;
}
