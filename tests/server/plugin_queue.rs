//! Plugins put sends in the instance's send queue (the `queue` action of
//! `wasap:plugin@0.3.0`), black-box on the sim engine (the queue's send path
//! is the engine's like any queued send): the `probe` in `actions` mode
//! schedules a reply an hour after the message, which waits in the queue's
//! job list and goes when the simulated clock gets there; it queues every
//! kind of message the queue carries, each sent as the API's queued jobs are;
//! and the sends the host refuses (a time too far ahead)
//! make no job and hold nothing up.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::file_server::{FileServer, Served};
use wasap_tests::plugins::{PROBE, component, install, probe_manifest};
use wasap_tests::send_queue::{Queue, SHOP, advance_clock, job_id, shop};
use wasap_tests::{Api, WAIT};

/// The contact whose messages the tests send.
const CONTACT: &str = "6281234567890";
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";
const MINUTE_MS: u64 = 60_000;

/// Waits (up to [`WAIT`]) until the instance has `count` jobs; they, by id.
async fn jobs(queue: &Queue<'_>, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let jobs = queue.jobs("").await;
        if jobs.len() >= count {
            return jobs;
        }
        assert!(Instant::now() < deadline, "{count} jobs never came: {jobs:?}");
        // The plugin runs apart from the request: look again shortly.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `at_us` of message `id`'s event, as the journal keeps it.
async fn event_at_us(api: &Api, id: &str) -> i64 {
    let (status, page) = api.get(&format!("/api/instances/{SHOP}/events")).await;
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().expect("events");
    let event = events
        .iter()
        .map(|entry| &entry["event"])
        .find(|event| event["kind"]["type"] == "message" && event["kind"]["data"]["id"] == id)
        .unwrap_or_else(|| panic!("no event of message {id}: {page}"));
    event["at_us"].as_i64().expect("at_us")
}

async fn plugin_errors(api: &Api, name: &str) -> Value {
    let (status, body) = api.get(&format!("/api/plugins/{name}")).await;
    assert_eq!(status, 200, "{body}");
    body["stats"]["errors"].clone()
}

#[tokio::test]
async fn a_plugin_schedules_a_reply_that_goes_when_its_time_comes() {
    let server = shop().await;
    let api = server.admin();
    let (status, body) = install(&server, &probe_manifest("actor", "actions", 100, ""), component(PROBE)).await;
    assert_eq!(status, 201, "{body}");
    let queue = Queue::of(&api, SHOP);
    let sim = server.sim(SHOP);

    let asked = sim.text(CONTACT, "remind 60 Your table is ready").await;
    let scheduled = jobs(&queue, 1).await.remove(0);
    // The job a route would have stored: the text's body, due an hour after the
    // message's event (the plugin's microseconds, in the queue's milliseconds).
    assert_eq!(
        (&scheduled["status"], &scheduled["kind"], &scheduled["request"]),
        (
            &json!("queued"),
            &json!("text"),
            &json!({ "to": CONTACT_JID, "message": "Your table is ready", "reply_to": asked })
        ),
        "{scheduled}"
    );
    let at_us = event_at_us(&api, &asked).await;
    let due_ms = at_us.div_euclid(1000) + i64::from(at_us % 1000 != 0) + 3_600_000;
    assert_eq!(scheduled["send_at"], wasap::clock::rfc3339_ms(due_ms), "{scheduled}");
    assert_eq!(scheduled["due_at"], scheduled["send_at"], "{scheduled}");
    let id = job_id(&scheduled);

    advance_clock(&api, 30 * MINUTE_MS).await;
    assert!(sim.sent(0).await.is_empty(), "nothing goes before its time");
    assert_eq!(queue.job(id).await["status"], "queued");

    advance_clock(&api, 31 * MINUTE_MS).await;
    let sent = queue.wait_sent(id).await;
    let records = sim.sent(1).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        (
            &records[0]["kind"],
            &records[0]["to"],
            &records[0]["text"],
            &records[0]["reply_to"]
        ),
        (
            &json!("text"),
            &json!(CONTACT_JID),
            &json!("Your table is ready"),
            &json!(asked)
        ),
        "{records:?}"
    );
    assert!(records[0]["at_ms"].as_i64().expect("at_ms") >= due_ms, "{records:?}");
    assert_eq!(sent["message_id"], records[0]["message_id"], "{sent}");
    assert_eq!(plugin_errors(&api, "actor").await, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_queues_every_kind_and_the_sends_refused_make_no_job() {
    let server = shop().await;
    let api = server.admin();
    let (status, body) = install(&server, &probe_manifest("actor", "actions", 100, ""), component(PROBE)).await;
    assert_eq!(status, 201, "{body}");
    let queue = Queue::of(&api, SHOP);
    let sim = server.sim(SHOP);
    let photo = fixtures::jpeg();
    let files = FileServer::start([
        ("/photo.jpg", Served::file("image/jpeg", &photo)),
        ("/menu.pdf", Served::file("application/pdf", b"%PDF-1.4 menu")),
    ])
    .await;

    // Refused, and logged: over 366 days ahead. The queued sends after it
    // are stored in order by the same lane, so once those are there, it was
    // refused. A document goes under the file name the plugin gave.
    sim.text(CONTACT, "remind 600000 far too late").await;
    sim.text(CONTACT, &format!("queue document {}", files.url("/menu.pdf")))
        .await;
    for what in ["location", "contacts", "poll"] {
        sim.text(CONTACT, &format!("queue {what}")).await;
    }
    sim.text(CONTACT, &format!("queue image {}", files.url("/photo.jpg")))
        .await;

    let queued = jobs(&queue, 5).await;
    let kinds: Vec<&Value> = queued.iter().map(|job| &job["kind"]).collect();
    assert_eq!(
        kinds,
        [
            &json!("media_url"),
            &json!("location"),
            &json!("contact"),
            &json!("poll"),
            &json!("media_url")
        ],
        "{queued:?}"
    );
    for job in &queued {
        queue.wait_sent(job_id(job)).await;
    }
    let records = sim.sent(5).await;
    assert_eq!(records.len(), 5, "{records:?}");
    assert_eq!(
        (&records[0]["kind"], &records[0]["file_name"], &records[0]["mime_type"]),
        (&json!("document"), &json!("menu.pdf"), &json!("application/pdf")),
        "{records:?}"
    );
    let records = &records[1..];
    assert_eq!(
        (&records[0]["kind"], &records[0]["location"]),
        (
            &json!("location"),
            &json!({ "latitude": -6.175392, "longitude": 106.827153,
                     "name": "Monas", "address": "Gambir, Jakarta Pusat" })
        ),
        "{records:?}"
    );
    assert_eq!(records[1]["kind"], "contact", "{records:?}");
    assert_eq!(records[1]["contacts"][0]["display_name"], "Ani", "{records:?}");
    assert_eq!(
        (&records[2]["kind"], &records[2]["poll"]),
        (
            &json!("poll"),
            &json!({ "name": "Lunch?", "options": ["Rice", "Noodles", "Soup"], "selectable_count": 2 })
        ),
        "{records:?}"
    );
    assert_eq!(
        (&records[3]["kind"], &records[3]["media_sha256"], &records[3]["caption"]),
        (&json!("image"), &json!(sha256_hex(&photo)), &json!("queued")),
        "{records:?}"
    );
    for record in records {
        assert_eq!(record["to"], CONTACT_JID, "{record}");
    }
    // Refusals are the host's, after the plugin answered: not the plugin's errors.
    assert_eq!(plugin_errors(&api, "actor").await, 0);
    assert_eq!(queue.jobs("").await.len(), 5);
    server.stop().await;
}
