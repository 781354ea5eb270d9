//! Bulk sends and queued media and polls (docs/API.md, "Bulk sends" and
//! "Send queue"): one template to many recipients becomes one batch of text
//! jobs, the recipients WhatsApp refuses (and malformed or repeated ones)
//! are reported and the rest get their own rendered text, on both engines;
//! a batch's waiting jobs are cancelled together; a bad bulk request gets a
//! clear 422 and queues nothing; a media-by-URL send and a poll go through
//! the queue to their recipient, and media given as bytes is refused.

use serde_json::{Value, json};
use wasap_tests::engines::{EngineUnderTest, MediaKind, Whatsapp};
use wasap_tests::file_server::fixtures::{self, sha256_hex};
use wasap_tests::file_server::{FileServer, Served};
use wasap_tests::send_queue::{Queue, SHOP, SHOP_PHONE, advance_clock, job_id, shop};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const ANN: &str = "6281200000001";
const BO: &str = "6281200000002";
const GONE: &str = "6281200000003";
const CY_JID: &str = "6281200000004@s.whatsapp.net";

both_engines!(
    a_bulk_send_with_bad_recipients_reports_them_and_sends_to_the_rest,
    a_queued_media_url_send_and_a_queued_poll_go_out,
);

async fn a_bulk_send_with_bad_recipients_reports_them_and_sends_to_the_rest(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    let token = whatsapp.online(&mut server, SHOP, SHOP_PHONE).await;
    let driver = whatsapp.driver(&server, "shop");
    for phone in [ANN, BO, "6281200000004"] {
        driver.contact(phone, true).await;
    }
    driver.contact(GONE, false).await;
    let api = server.client(Some(&token));
    let queue = Queue::of(&api, SHOP);

    let body = json!({
        "template": "Hi {{name}}, your order {{ order }} is ready. }} {{name}}!",
        "recipients": [
            { "to": ANN, "vars": { "name": "Ann", "order": 42 } },
            { "to": BO, "vars": { "name": "Bo {{order}}", "order": "7b", "unused": true } },
            { "to": GONE, "vars": { "name": "Gone", "order": 1 } },
            { "to": "12", "vars": { "name": "Bad", "order": 2 } },
            { "to": "+62 812-0000-0001", "vars": { "name": "Ann again", "order": 3 } },
            { "to": CY_JID, "vars": { "name": "Cy", "order": 1.5 } },
        ],
    });
    let (status, answer) = api.post("/api/queue/shop/bulk", body).await;
    assert_eq!(status, 202, "{answer}");
    let batch_id = answer["batch_id"].as_str().expect("a batch id").to_owned();
    assert_eq!(answer["queued"], 3, "{answer}");
    let rejected: Vec<(u64, &str, &str)> = answer["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["to"].as_str().unwrap(),
                r["error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (2, GONE, "recipient_not_on_whatsapp"),
            (3, "12", "invalid_phone"),
            (4, "+62 812-0000-0001", "duplicate_recipient"),
        ],
        "{answer}"
    );
    let jobs = answer["jobs"].as_array().expect("jobs");
    let queued: Vec<(u64, &str)> = jobs
        .iter()
        .map(|j| (j["index"].as_u64().unwrap(), j["to"].as_str().unwrap()))
        .collect();
    assert_eq!(queued, [(0, ANN), (1, BO), (5, CY_JID)], "{answer}");

    // The batch lists as its jobs, each a text job with its rendered text.
    let listed = queue.jobs(&format!("batch={batch_id}")).await;
    let expected = [
        (ANN, "Hi Ann, your order 42 is ready. }} Ann!"),
        (BO, "Hi Bo {{order}}, your order 7b is ready. }} Bo {{order}}!"),
        (CY_JID, "Hi Cy, your order 1.5 is ready. }} Cy!"),
    ];
    assert_eq!(listed.len(), 3, "{listed:?}");
    for ((job, listed), (to, text)) in jobs.iter().zip(&listed).zip(expected) {
        assert_eq!(listed["job_id"], job["job_id"]);
        assert_eq!(listed["batch_id"], batch_id.as_str());
        assert_eq!(listed["kind"], "text");
        assert_eq!(listed["request"], json!({ "to": to, "message": text }));
    }

    for job in jobs {
        queue.wait_sent(job_id(job)).await;
    }
    for (to, text) in expected {
        let phone = to.trim_end_matches("@s.whatsapp.net");
        let got = driver.sent_to(phone, 1).await;
        let texts: Vec<Option<&str>> = got.iter().map(|m| m.text.as_deref()).collect();
        assert_eq!(texts, [Some(text)], "what {phone} got");
    }
    if !whatsapp.is_real() {
        let (status, sent) = server.admin().get("/sim/instances/shop/sent").await;
        assert_eq!(status, 200, "{sent}");
        let to: Vec<&str> = sent["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "text")
            .map(|m| m["to"].as_str().unwrap())
            .collect();
        assert_eq!(
            to,
            [
                format!("{ANN}@s.whatsapp.net"),
                format!("{BO}@s.whatsapp.net"),
                CY_JID.to_owned()
            ],
            "nothing went to the rejected recipients"
        );
    }
    whatsapp.assert_all_handled();
    server.stop().await;
}

fn texts_sent(sent: &Value) -> Vec<String> {
    sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "text")
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn cancel_works_for_a_batch() {
    let server = shop().await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    // One message a minute: the first goes at once, the others wait.
    queue.set_pacing(json!({ "per_minute": 1 })).await;
    let recipients: Vec<Value> = (1..=4)
        .map(|n| json!({ "to": format!("628130000000{n}"), "vars": { "n": n } }))
        .collect();
    let (status, batch) = api
        .post(
            "/api/queue/shop/bulk",
            json!({ "template": "note {{n}}", "recipients": recipients }),
        )
        .await;
    assert_eq!(status, 202, "{batch}");
    assert_eq!(batch["queued"], 4);
    let batch_id = batch["batch_id"].as_str().unwrap().to_owned();
    queue.wait_sent(job_id(&batch["jobs"][0])).await;

    // A second batch, scheduled, is not touched by the first's cancel.
    let (status, other) = api
        .post(
            "/api/queue/shop/bulk",
            json!({ "template": "later", "recipients": [{ "to": "6281300000009" }],
                    "send_at": "2999-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(
        (status, other["error"]["code"].as_str()),
        (422, Some("invalid_send_at"))
    );
    let (status, other) = api
        .post(
            "/api/queue/shop/bulk",
            json!({ "template": "later", "recipients": [{ "to": "6281300000009" }], "queue": true }),
        )
        .await;
    assert_eq!((status, other["error"]["code"].as_str()), (422, Some("invalid_body")));
    let (status, other) = api
        .post(
            "/api/queue/shop/bulk",
            json!({ "template": "later", "recipients": [{ "to": "6281300000009" }] }),
        )
        .await;
    assert_eq!(status, 202, "{other}");

    let (status, cancelled) = api.delete(&format!("/api/queue/shop/batches/{batch_id}")).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled, json!({ "batch_id": batch_id, "cancelled": 3 }));
    let statuses: Vec<Value> = queue
        .jobs(&format!("batch={batch_id}"))
        .await
        .iter()
        .map(|j| j["status"].clone())
        .collect();
    assert_eq!(statuses, ["sent", "cancelled", "cancelled", "cancelled"]);
    // Again: nothing left to cancel, and the batch still exists.
    let (status, again) = api.delete(&format!("/api/queue/shop/batches/{batch_id}")).await;
    assert_eq!((status, again["cancelled"].as_u64()), (200, Some(0)), "{again}");

    // Time passes: only the other batch's job goes.
    for _ in 0..10 {
        advance_clock(&api, 60_000).await;
    }
    queue.wait_sent(job_id(&other["jobs"][0])).await;
    let (_, sent) = api.get("/sim/instances/shop/sent").await;
    assert_eq!(texts_sent(&sent), ["note 1", "later"]);

    for unknown in ["nope", &"x".repeat(65)] {
        let (status, body) = api.delete(&format!("/api/queue/shop/batches/{unknown}")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("batch_not_found")),
            "{body}"
        );
    }
    let (status, body) = api.delete(&format!("/api/queue/nobody/batches/{batch_id}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("instance_not_found"))
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_bulk_requests_get_clear_errors_and_queue_nothing() {
    let server = shop().await;
    let api = server.admin();
    let one = |vars: Value| json!([{ "to": ANN, "vars": vars }]);
    let too_many: Vec<Value> = (0..10_001).map(|_| json!({ "to": ANN })).collect();
    let long = "x".repeat(65_530);
    let cases = [
        (json!({ "template": "Hi", "recipients": [] }), "no_recipients"),
        (
            json!({ "template": "Hi", "recipients": too_many }),
            "too_many_recipients",
        ),
        (
            json!({ "template": "Hi {{name}}", "recipients": [{ "to": ANN, "vars": { "name": "A" } }, { "to": BO }] }),
            "missing_variable",
        ),
        (
            json!({ "template": "Hi {{name", "recipients": one(json!({ "name": "A" })) }),
            "invalid_template",
        ),
        (
            json!({ "template": "Hi {{first name}}", "recipients": one(json!({})) }),
            "invalid_template",
        ),
        (
            json!({ "template": "Hi {{}}", "recipients": one(json!({})) }),
            "invalid_template",
        ),
        (
            json!({ "template": "{{a}}", "recipients": one(json!({ "a": "  " })) }),
            "empty_message",
        ),
        (
            json!({ "template": " ", "recipients": one(json!({})) }),
            "empty_message",
        ),
        (
            json!({ "template": "{{a}}{{a}}", "recipients": one(json!({ "a": long })) }),
            "message_too_long",
        ),
        (
            json!({ "template": "{{a}}", "recipients": one(json!({ "a": "x", "b c": "y" })) }),
            "invalid_variable",
        ),
        (
            json!({ "template": "Hi", "recipients": one(json!({})), "send_at": "tomorrow" }),
            "invalid_send_at",
        ),
        (
            json!({ "template": "Hi", "recipients": [{ "to": ANN, "vars": { "a": null } }] }),
            "invalid_body",
        ),
        (
            json!({ "template": "Hi", "recipients": [{ "phone": ANN }] }),
            "invalid_body",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = api.post("/api/queue/shop/bulk", body.clone()).await;
        let shown = body.to_string();
        let shown = &shown[..shown.len().min(200)];
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{shown} → {answer}"
        );
        if code == "missing_variable" {
            assert_eq!(
                answer["error"]["message"],
                format!("recipient 1 ({BO}) has no variable \"name\", which the template uses")
            );
        }
    }
    let (status, answer) = api
        .post(
            "/api/queue/nobody/bulk",
            json!({ "template": "Hi", "recipients": one(json!({})) }),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("instance_not_found"))
    );
    assert!(Queue::of(&api, SHOP).jobs("").await.is_empty(), "nothing was queued");
    let (_, sent) = api.get("/sim/instances/shop/sent").await;
    assert_eq!(sent["messages"], json!([]), "nothing was sent");
    server.stop().await;
}

#[tokio::test]
async fn a_bulk_send_over_the_waiting_limit_queues_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.queue.max_waiting = 3;
    let mut server = TestServer::start_with(config).await;
    online(&mut server, SHOP, SHOP_PHONE).await;
    let api = server.admin();
    let queue = Queue::of(&api, SHOP);
    // One message a minute (the clock stands still): the first goes, the rest wait.
    queue.set_pacing(json!({ "per_minute": 1 })).await;
    let batch = |phones: &[&str]| {
        let recipients: Vec<Value> = phones.iter().map(|p| json!({ "to": p })).collect();
        json!({ "template": "Hi", "recipients": recipients })
    };
    let (status, first) = api
        .post("/api/queue/shop/bulk", batch(&[ANN, BO, "6281200000005"]))
        .await;
    assert_eq!(status, 202, "{first}");
    queue.wait_sent(job_id(&first["jobs"][0])).await;
    // Two wait: two more would make four.
    let (status, answer) = api
        .post("/api/queue/shop/bulk", batch(&["6281200000006", "6281200000007"]))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (507, Some("queue_full")),
        "{answer}"
    );
    assert_eq!(queue.jobs("").await.len(), 3, "the second batch queued nothing");
    let (status, answer) = api.post("/api/queue/shop/bulk", batch(&["6281200000006"])).await;
    assert_eq!(status, 202, "one more fits: {answer}");
    server.stop().await;
}

async fn a_queued_media_url_send_and_a_queued_poll_go_out(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    let token = whatsapp.online(&mut server, SHOP, SHOP_PHONE).await;
    let driver = whatsapp.driver(&server, "shop");
    driver.contact(ANN, true).await;
    let jpeg = fixtures::jpeg();
    let files = FileServer::start([("/img/photo.jpg", Served::file("image/jpeg", &jpeg))]).await;
    let api = server.client(Some(&token));
    let queue = Queue::of(&api, SHOP);

    // Due in a moment (the server's clock is the wall clock here): until
    // then the job cannot go, so nothing may have fetched the file yet.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let send_at = wasap::clock::rfc3339_ms(now_ms + 1_500);
    let media = json!({ "to": ANN, "mediaUrl": files.url("/img/photo.jpg"), "caption": "your photo",
                        "send_at": send_at });
    let (status, queued) = api.post("/api/send/shop/media-url", media).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    assert_eq!(
        files.connections(),
        0,
        "the file is fetched when the job goes, not before"
    );
    let job = queue.wait_sent(job_id(&queued)).await;
    assert_eq!(job["kind"], "media_url");
    assert_eq!(
        job["request"],
        json!({ "to": ANN, "mediaUrl": files.url("/img/photo.jpg"), "caption": "your photo" })
    );
    let got = driver.media_sent_to(ANN, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].message_id, job["message_id"].as_str().unwrap());
    assert_eq!(got[0].kind, MediaKind::Image);
    assert_eq!(got[0].sha256_hex, sha256_hex(&jpeg), "the file arrives byte for byte");
    assert_eq!(got[0].caption.as_deref(), Some("your photo"));

    let poll = json!({ "to": ANN, "name": " Lunch? ", "options": ["Rice", "Noodles", "Soup"],
                       "selectableCount": 2, "queue": true });
    let (status, queued) = api.post("/api/send/shop/poll", poll).await;
    assert_eq!(status, 202, "{queued}");
    let job = queue.wait_sent(job_id(&queued)).await;
    assert_eq!(job["kind"], "poll");
    let polls = driver.polls_sent_to(ANN, 1).await;
    assert_eq!(polls.len(), 1, "{polls:?}");
    assert_eq!(polls[0].name, "Lunch?");
    assert_eq!(polls[0].options, ["Rice", "Noodles", "Soup"]);
    assert_eq!(polls[0].selectable_count, 2);

    // Checked as direct sends are, before anything is stored.
    let refused = [
        (
            "/api/send/shop/media-url",
            json!({ "to": ANN, "mediaUrl": "not a url", "queue": true }),
            "invalid_url",
        ),
        (
            "/api/send/shop/media-url",
            json!({ "to": ANN, "mediaUrl": "file:///etc/passwd", "sendAt": "2000-01-01T00:00:00Z" }),
            "url_not_allowed",
        ),
        (
            "/api/send/shop/media-url",
            json!({ "to": ANN, "mediaUrl": files.url("/img/photo.jpg"), "mediaType": "gif", "queue": true }),
            "invalid_body",
        ),
        (
            "/api/send/shop/poll",
            json!({ "to": ANN, "name": "Q", "options": ["a", "a"], "queue": true }),
            "duplicate_poll_options",
        ),
        (
            "/api/send/shop/poll",
            json!({ "to": "12", "name": "Q", "options": ["a", "b"], "send_at": "2000-01-01T00:00:00Z" }),
            "invalid_phone",
        ),
        (
            "/api/send/shop/media-base64",
            json!({ "to": ANN, "data": "aGVsbG8=", "queue": true }),
            "not_queueable",
        ),
        (
            "/api/send/shop/media-base64",
            json!({ "to": ANN, "data": "aGVsbG8=", "send_at": "2000-01-01T00:00:00Z" }),
            "not_queueable",
        ),
    ];
    for (path, body, code) in refused {
        let (status, answer) = api.post(path, body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{path} {body} → {answer}"
        );
    }
    let form = reqwest::multipart::Form::new()
        .text("to", ANN)
        .text("queue", "true")
        .part("file", reqwest::multipart::Part::bytes(jpeg.clone()).file_name("p.jpg"));
    let response = reqwest::Client::new()
        .post(server.url("/api/send/shop/media"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("not_queueable")),
        "{answer}"
    );

    assert_eq!(queue.jobs("").await.len(), 2, "only the two good sends were queued");
    assert_eq!(driver.media_sent_to(ANN, 1).await.len(), 1, "no upload went");
    whatsapp.assert_all_handled();
    server.stop().await;
}
