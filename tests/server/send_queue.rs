//! The durable, paced send queue (docs/API.md, "Send queue") on the simulated
//! engine: sends queued with `"queue": true` or `"send_at"` answer 202 and go
//! out in order at the instance's pace; scheduled sends wait for their time,
//! quiet hours hold sends back (in an IANA zone too, across a daylight
//! saving change), typing shows before each text, cancel stops a
//! job, receipts move jobs on, and a direct send over the pace is refused
//! under `direct_sends: refuse`; an instance's pacing reads back as it was
//! set, and as the rules in force over the server's defaults. Time is moved
//! with `POST /sim/clock`, never waited for; the sent times are the
//! simulated network's record (`at_ms`).

use serde_json::{Value, json};
use wasap_tests::send_queue::{Queue, SHOP, advance_clock as advance, job_id, shop};
use wasap_tests::{Api, TestDb, TestServer, data_dir, online, sim_config};

const CONTACT: &str = "6281234567890";
const CONTACT_JID: &str = "6281234567890@s.whatsapp.net";

/// Everything the instance sent, as the simulated network recorded it.
async fn sent(api: &Api) -> Vec<Value> {
    let (status, body) = api.get("/sim/instances/shop/sent").await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().expect("the sent messages").clone()
}

async fn sent_texts(api: &Api) -> Vec<Value> {
    sent(api).await.into_iter().filter(|m| m["kind"] == "text").collect()
}

/// Steps the clock by `step_ms` until `count` texts were sent (at most `max_steps`).
async fn run_until_sent(api: &Api, count: usize, step_ms: u64, max_steps: usize) -> Vec<Value> {
    for _ in 0..max_steps {
        let texts = sent_texts(api).await;
        if texts.len() >= count {
            return texts;
        }
        advance(api, step_ms).await;
    }
    panic!("{count} texts were not sent within {max_steps} steps of {step_ms} ms");
}

#[tokio::test]
async fn queued_texts_go_in_order_at_the_pace_with_gaps_in_the_jitter() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    queue
        .set_pacing(json!({ "per_minute": 20, "min_gap_ms": 1000, "max_gap_ms": 2000 }))
        .await;
    let mut ids = Vec::new();
    for n in 0..100 {
        let answer = queue.text(CONTACT, &format!("m{n:03}"), json!({})).await;
        ids.push(job_id(&answer));
    }
    const STEP: i64 = 250;
    let texts = run_until_sent(&api, 100, STEP as u64, 4000).await;
    assert_eq!(texts.len(), 100);
    let order: Vec<&str> = texts.iter().map(|m| m["text"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..100).map(|n| format!("m{n:03}")).collect();
    assert_eq!(order, expected, "the texts went in the order they were queued");
    let at: Vec<i64> = texts.iter().map(|m| m["at_ms"].as_i64().expect("at_ms")).collect();
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        // A gap is drawn in [1000, 2000]; the clock moves in steps of STEP,
        // so a send may go up to one step after its moment (and a send held
        // by the rate limit waits longer: it then respects the rate instead).
        assert!(gap >= 1000, "a gap of {gap} ms is under min_gap_ms: {at:?}");
    }
    for window in at.windows(21) {
        assert!(window[20] - window[0] >= 60_000, "21 sends within a minute: {window:?}");
    }
    let held_by_gap_only: Vec<i64> = at
        .windows(2)
        .enumerate()
        .filter(|(i, _)| i % 20 != 19)
        .map(|(_, pair)| pair[1] - pair[0])
        .collect();
    assert!(
        held_by_gap_only.iter().all(|gap| *gap < 2000 + 2 * STEP),
        "a gap outside the jitter: {held_by_gap_only:?}"
    );
    for (n, id) in ids.iter().enumerate() {
        let job = queue.job(*id).await;
        assert_eq!(job["status"], "sent", "{job}");
        assert_eq!(job["message_id"], texts[n]["message_id"], "{job}");
        assert_eq!(job["attempts"], 1);
    }
    let page = queue.page("status=sent&limit=30").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 30);
    assert_eq!(page["next_after"], ids[29]);
    let rest = queue.page(&format!("status=sent&limit=500&after={}", ids[29])).await;
    assert_eq!(rest["jobs"].as_array().unwrap().len(), 70);
    assert!(rest.get("next_after").is_none(), "{rest}");
    let response = api.get_raw("/metrics", None).await;
    let metrics = response.text().await.unwrap();
    assert!(
        metrics.contains("wasap_send_queue_sent_total{instance=\"shop\"} 100"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn typing_shows_before_each_queued_text() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    queue.set_pacing(json!({ "typing": true })).await;
    for text in ["one", "two", "three"] {
        queue.text(CONTACT, text, json!({})).await;
    }
    run_until_sent(&api, 3, 1000, 100).await;
    let shown: Vec<(String, String)> = sent(&api)
        .await
        .iter()
        .map(|m| {
            let what = m["text"].as_str().or(m["state"].as_str()).unwrap_or_default();
            (m["kind"].as_str().unwrap().to_owned(), what.to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = ["one", "two", "three"]
        .iter()
        .flat_map(|t| {
            [
                ("chat_state".to_owned(), "typing".to_owned()),
                ("text".to_owned(), t.to_string()),
            ]
        })
        .collect();
    assert_eq!(shown, expected);
    let records = sent(&api).await;
    for pair in records.chunks(2) {
        assert_eq!(pair[0]["to"], CONTACT_JID);
        let typed = pair[1]["at_ms"].as_i64().unwrap() - pair[0]["at_ms"].as_i64().unwrap();
        // "one" is 3 characters: the shortest typing state, 500 ms.
        assert!(typed >= 500, "typing lasted {typed} ms");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_scheduled_message_waits_for_its_time_and_a_cancelled_one_never_goes() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    let now = advance(&api, 0).await;
    let at = now + 3600 * 1000;
    let send_at = wasap::clock::rfc3339_ms(at);
    let (status, scheduled) = api
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": "later", "send_at": send_at }),
        )
        .await;
    assert_eq!(status, 202, "{scheduled}");
    assert_eq!(scheduled["send_at"], send_at);
    let (status, location) = api
        .post(
            "/api/send/shop/location",
            json!({ "to": CONTACT, "latitude": 1.5, "longitude": 2.5, "send_at": send_at }),
        )
        .await;
    assert_eq!(status, 202, "{location}");
    let cancelled = queue.text(CONTACT, "never", json!({ "send_at": send_at })).await;
    let cancelled_id = job_id(&cancelled);
    let (status, body) = api.delete(&format!("/api/queue/shop/{cancelled_id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    let (status, again) = api.delete(&format!("/api/queue/shop/{cancelled_id}")).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "job_not_cancellable");

    advance(&api, 30 * 60 * 1000).await;
    assert!(sent(&api).await.is_empty(), "nothing goes before its time");
    let scheduled_id = job_id(&scheduled);
    assert_eq!(queue.job(scheduled_id).await["status"], "queued");
    advance(&api, 31 * 60 * 1000).await;
    let records = sent(&api).await;
    let kinds: Vec<&str> = records.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["text", "location"], "{records:?}");
    assert_eq!(records[0]["text"], "later");
    assert!(records[0]["at_ms"].as_i64().unwrap() >= at);
    let sent_job = queue.job(scheduled_id).await;
    assert_eq!(sent_job["status"], "sent");
    assert_eq!(sent_job["message_id"], records[0]["message_id"]);
    assert_eq!(queue.job(cancelled_id).await["status"], "cancelled");
    let (status, sent_cancel) = api.delete(&format!("/api/queue/shop/{scheduled_id}")).await;
    assert_eq!(status, 409, "{sent_cancel}");
    server.stop().await;
}

#[tokio::test]
async fn quiet_hours_hold_sends_until_they_end() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    let now = advance(&api, 0).await;
    let hh_mm = |ms: i64| {
        let minute = ms.rem_euclid(24 * 3600 * 1000) / 60_000;
        format!("{:02}:{:02}", minute / 60, minute % 60)
    };
    // Quiet from a minute ago until two hours from now (local time at +01:00).
    let offset = 3600 * 1000;
    let start = hh_mm(now + offset - 60 * 1000);
    let end = hh_mm(now + offset + 2 * 3600 * 1000);
    queue
        .set_pacing(json!({ "quiet_hours": { "start": start, "end": end, "timezone": "+01:00" } }))
        .await;
    let queued = queue.text(CONTACT, "after the quiet", json!({})).await;
    advance(&api, 3600 * 1000).await;
    assert!(sent(&api).await.is_empty(), "nothing goes in quiet hours");
    advance(&api, 3600 * 1000 + 2 * 60 * 1000).await;
    let texts = sent_texts(&api).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0]["text"], "after the quiet");
    assert_eq!(queue.job(job_id(&queued)).await["status"], "sent");
    server.stop().await;
}

const DAY_MS: i64 = 24 * 3600 * 1000;
const HOUR_MS: i64 = 3600 * 1000;

/// Unix ms of 00:00 UTC on a date (proleptic Gregorian, days-from-civil).
fn utc_midnight_ms(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * DAY_MS
}

/// 00:00 UTC of the first last-Sunday-of-March (when the EU's clocks go
/// forward, at 01:00 UTC) whose Saturday evening is still ahead of `now`.
fn next_spring_forward(now: i64) -> i64 {
    let year = 1970 + now / (365 * DAY_MS + DAY_MS / 4);
    (year - 1..=year + 1)
        .map(|year| {
            let march_31 = utc_midnight_ms(year, 3, 31);
            // 1970-01-01 was a Thursday: day 0 is weekday 4 (0 = Sunday).
            march_31 - (march_31 / DAY_MS + 4).rem_euclid(7) * DAY_MS
        })
        .find(|sunday| sunday - 3 * HOUR_MS > now)
        .expect("a spring-forward ahead")
}

/// Moves the clock to `at` (unix ms), in moves of at most half a year.
async fn advance_to(api: &Api, at: i64) -> i64 {
    let mut now = advance(api, 0).await;
    while now < at {
        now = advance(api, (at - now).min(180 * DAY_MS) as u64).await;
    }
    now
}

#[tokio::test]
async fn quiet_hours_in_an_iana_zone_follow_the_clocks_going_forward() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "pacing": { "quiet_hours": { "start": "22:00", "end": "07:00", "timezone": "Mars/Olympus" } } })),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_pacing")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Mars/Olympus") && message.contains("IANA"), "{body}");
    queue
        .set_pacing(json!({ "quiet_hours": { "start": "22:00", "end": "07:00", "timezone": "Europe/Berlin" } }))
        .await;

    // Saturday 21:30 UTC is 22:30 in Berlin (CET, +01:00): quiet.
    let sunday = next_spring_forward(advance(&api, 0).await);
    advance_to(&api, sunday - 150 * 60 * 1000).await;
    let queued = queue.text(CONTACT, "guten morgen", json!({})).await;
    // Sunday 04:58 UTC is 06:58 in Berlin (CEST since 01:00 UTC): still quiet.
    advance_to(&api, sunday + 5 * HOUR_MS - 2 * 60 * 1000).await;
    assert!(sent(&api).await.is_empty(), "nothing goes in quiet hours");
    // 05:01 UTC is 07:01 CEST: the quiet hours ended at 05:00 UTC, an hour
    // before a fixed +01:00 would have ended them.
    advance_to(&api, sunday + 5 * HOUR_MS + 60 * 1000).await;
    let texts = sent_texts(&api).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0]["text"], "guten morgen");
    let at = texts[0]["at_ms"].as_i64().expect("at_ms");
    assert!(at >= sunday + 5 * HOUR_MS, "sent at {at}, before 07:00 in Berlin");
    assert_eq!(queue.job(job_id(&queued)).await["status"], "sent");
    server.stop().await;
}

#[tokio::test]
async fn receipts_move_a_sent_job_to_delivered_then_read() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    let queued = queue.text(CONTACT, "hello", json!({})).await;
    let id = job_id(&queued);
    let sent_job = queue.wait_job(id, "sent").await;
    let message_id = sent_job["message_id"].as_str().unwrap().to_owned();
    let (status, body) = api
        .post(
            "/sim/instances/shop/receipt",
            json!({ "from": CONTACT, "ids": [message_id], "type": "delivered" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    queue.wait_job(id, "delivered").await;
    api.post(
        "/sim/instances/shop/receipt",
        json!({ "from": CONTACT, "ids": [message_id], "type": "read" }),
    )
    .await;
    let read = queue.wait_job(id, "read").await;
    assert_eq!(read["message_id"], message_id.as_str());
    server.stop().await;
}

/// Receipts that come together are handled together (send_queue/receipts.rs):
/// one receipt naming several jobs' messages among others no job sent, and a
/// read receipt right behind a delivery receipt, leave every job where the
/// receipts say, in order.
#[tokio::test]
async fn receipts_that_come_together_move_every_job_they_name() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    let mut jobs = Vec::new();
    for n in 0..4 {
        let queued = queue.text(CONTACT, &format!("together {n}"), json!({})).await;
        let id = job_id(&queued);
        let sent_job = queue.wait_job(id, "sent").await;
        jobs.push((id, sent_job["message_id"].as_str().unwrap().to_owned()));
    }
    let mut ids: Vec<&str> = jobs.iter().map(|(_, message_id)| message_id.as_str()).collect();
    ids.insert(1, "3EB0NOJOBSENTTHIS0001");
    let (status, body) = api
        .post(
            "/sim/instances/shop/receipt",
            json!({ "from": CONTACT, "ids": ids, "type": "delivered" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The first two are read right behind the delivery receipt.
    let (status, body) = api
        .post(
            "/sim/instances/shop/receipt",
            json!({ "from": CONTACT, "ids": [jobs[0].1, jobs[1].1], "type": "read" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for (n, (id, message_id)) in jobs.iter().enumerate() {
        let want = if n < 2 { "read" } else { "delivered" };
        let job = queue.wait_job(*id, want).await;
        assert_eq!(job["message_id"], message_id.as_str());
    }
    server.stop().await;
}

#[tokio::test]
async fn direct_sends_over_the_pace_are_refused_with_retry_after_under_refuse() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    queue
        .set_pacing(json!({ "per_minute": 2, "direct_sends": "refuse" }))
        .await;
    for n in 0..2 {
        let (status, body) = api
            .post(
                "/api/send/shop",
                json!({ "to": CONTACT, "message": format!("direct {n}") }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let response = reqwest::Client::new()
        .post(server.url("/api/send/shop"))
        .bearer_auth(&server.admin_token)
        .json(&json!({ "to": CONTACT, "message": "one too many" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "paced");
    assert_eq!(sent_texts(&api).await.len(), 2, "the refused send did not go");
    // A queued send waits for the pace instead, and goes once the minute is over.
    queue.text(CONTACT, "queued", json!({})).await;
    advance(&api, 61 * 1000).await;
    let texts = run_until_sent(&api, 3, 1000, 10).await;
    assert_eq!(texts[2]["text"], "queued");
    server.stop().await;
}

#[tokio::test]
async fn bad_queue_requests_get_clear_errors_and_queue_nothing() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    let cases = [
        (
            "/api/send/shop",
            json!({ "to": CONTACT, "message": "x", "send_at": "tomorrow" }),
            422,
            "invalid_send_at",
        ),
        (
            "/api/send/shop",
            json!({ "to": CONTACT, "message": "x", "send_at": "2999-01-01T00:00:00Z" }),
            422,
            "invalid_send_at",
        ),
        (
            "/api/send/shop",
            json!({ "to": CONTACT, "message": " ", "queue": true }),
            422,
            "empty_message",
        ),
        (
            "/api/send/shop/location",
            json!({ "to": CONTACT, "latitude": 91.0, "longitude": 0.0, "queue": true }),
            422,
            "invalid_location",
        ),
        (
            "/api/send/shop",
            json!({ "to": "12", "message": "x", "queue": true }),
            422,
            "invalid_phone",
        ),
    ];
    for (path, body, status, code) in cases {
        let (got, answer) = api.post(path, body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} → {answer}"
        );
    }
    assert!(queue.jobs("").await.is_empty(), "nothing was queued");

    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "pacing": { "quiet_hours": { "start": "25:00", "end": "08:00" } } })),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_pacing")),
        "{body}"
    );
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "pacing": { "min_gap_ms": 5000, "max_gap_ms": 10 } })),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_pacing")),
        "{body}"
    );
    let (status, body) = api.get("/api/queue/shop/999999").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("job_not_found")),
        "{body}"
    );
    let (status, body) = api.delete("/api/queue/shop/nope").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("job_not_found")),
        "{body}"
    );
    let (status, body) = api.get("/api/queue/shop?status=bogus").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query")),
        "{body}"
    );
    let (status, body) = api.get("/api/queue/nobody").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("instance_not_found")),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_instances_pacing_reads_back_as_set_and_as_the_rules_in_force_over_the_defaults() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let config = || {
        let mut config = sim_config(&db, dir.path());
        config.queue.per_hour = 100;
        config.queue.min_gap_ms = 500;
        config.queue.max_gap_ms = 1000;
        config.queue.typing = true;
        config
    };
    let mut server = TestServer::start_with(config()).await;
    let token = online(&mut server, SHOP, "6281111111111").await;
    let api = server.client(Some(&token));
    let queue = Queue::of(&api, SHOP);
    let defaults = json!({
        "per_minute": 0, "per_hour": 100, "per_day": 0, "min_gap_ms": 500, "max_gap_ms": 1000,
        "typing": true, "quiet_hours": null, "direct_sends": "count",
    });
    assert_eq!(
        queue.pacing().await,
        json!({ "instance_id": SHOP, "pacing": {}, "effective": defaults }),
        "no override: the server's defaults"
    );

    let berlin = json!({ "start": "22:00", "end": "07:00", "timezone": "Europe/Berlin" });
    let own = json!({ "per_minute": 20, "max_gap_ms": 3000, "typing": false, "quiet_hours": berlin,
                      "direct_sends": "refuse" });
    queue.set_pacing(own.clone()).await;
    let effective = json!({
        "per_minute": 20, "per_hour": 100, "per_day": 0, "min_gap_ms": 500, "max_gap_ms": 3000,
        "typing": false, "quiet_hours": berlin, "direct_sends": "refuse",
    });
    let expected = json!({ "instance_id": SHOP, "pacing": own, "effective": effective });
    assert_eq!(queue.pacing().await, expected);

    // Refused rules change nothing.
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop",
            Some(json!({ "pacing": { "min_gap_ms": 5000, "max_gap_ms": 10 } })),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_pacing")));
    assert_eq!(queue.pacing().await, expected);

    // The override is stored: a restart reads it back.
    server.stop().await;
    let server = TestServer::start_with(config()).await;
    let admin = server.admin();
    let queue = Queue::of(&admin, SHOP);
    assert_eq!(queue.pacing().await, expected, "after a restart");

    // A gap under the default's lower bound is lifted to it; quiet hours
    // without a zone are read in UTC.
    queue
        .set_pacing(json!({ "min_gap_ms": 2000, "quiet_hours": { "start": "23:00", "end": "06:00" } }))
        .await;
    let answer = queue.pacing().await;
    let utc = json!({ "start": "23:00", "end": "06:00", "timezone": "UTC" });
    assert_eq!(answer["pacing"], json!({ "min_gap_ms": 2000, "quiet_hours": utc }));
    assert_eq!(
        (&answer["effective"]["min_gap_ms"], &answer["effective"]["max_gap_ms"]),
        (&json!(2000), &json!(2000)),
        "{answer}"
    );
    assert_eq!(answer["effective"]["quiet_hours"], utc);

    // `null`: back to the defaults.
    queue.set_pacing(Value::Null).await;
    assert_eq!(
        queue.pacing().await,
        json!({ "instance_id": SHOP, "pacing": {}, "effective": defaults })
    );

    let (status, body) = admin.get("/api/instances/nobody/pacing").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("instance_not_found")),
        "{body}"
    );
    let (status, created) = admin.post("/api/instances", json!({ "instance_id": "other" })).await;
    assert_eq!(status, 201, "{created}");
    let other = server.client(created["token"].as_str());
    let (status, body) = other.get("/api/instances/shop/pacing").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    server.stop().await;
}
