//! The send queue's "exactly once" (docs/API.md, "Send queue"), black-box:
//! a queue of texts is going out at its pace when the server's process is
//! killed (`kill -9`), several times over; after each restart on the same
//! database the queue goes on, and in the end every job is `sent` (or
//! beyond) and WhatsApp's record of what it took, the simulated network's
//! `/sim/instances/{id}/sent` (kept in the database across the kills) or
//! the simulator's contact on the real engine, has each job's text exactly
//! once, under the job's `message_id`.
//!
//! A kill that falls after WhatsApp took a message and before wasap marked
//! its job `sent` leaves the job `sending`: the restart finds it in wasap's
//! record of sent messages, or sends it again with the same id, which
//! WhatsApp takes once. The burst test counts the jobs it caught that way
//! (taken before a kill, marked sent after it), which is a matter of luck;
//! the held-answer test makes that window to order: WhatsApp takes the job's
//! message but holds back its answer (`Driver::hold_sends`), the job stays
//! `sending`, and the kill falls there every time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasap_tests::engines::{EngineUnderTest, Whatsapp};
use wasap_tests::{Api, TestDb, both_engines, data_dir};

use crate::child;

const INSTANCE: &str = "shop";
const PHONE: &str = "6289900000011";
const CONTACT: &str = "6281234567811";
const CONTACT_JID: &str = "6281234567811@s.whatsapp.net";
/// Texts queued.
const TOTAL: usize = 200;
/// Kills while the queue goes out, each after another share of it went.
const KILLS: usize = 3;
/// How long the queue may take to finish after the last restart (a send
/// tried before the instance is back online waits 5 s before the next try).
const FINISH_WAIT: Duration = Duration::from_secs(90);

fn text(n: usize) -> String {
    format!("queued-{n:04}")
}

/// Every job of the instance (there are fewer than a page holds).
async fn jobs(api: &Api) -> Vec<Value> {
    let (status, page) = api.get(&format!("/api/queue/{INSTANCE}?limit=500")).await;
    assert_eq!(status, 200, "{page}");
    page["jobs"].as_array().expect("the jobs").clone()
}

fn gone_out(job: &Value) -> bool {
    matches!(job["status"].as_str(), Some("sent" | "delivered" | "read"))
}

/// Waits until at least `count` jobs went out, while some are still waiting.
async fn until_gone_out(api: &Api, count: usize) {
    // After a restart: the login, and a first try before it waits 5 s.
    let deadline = Instant::now() + FINISH_WAIT;
    loop {
        let jobs = jobs(api).await;
        let out = jobs.iter().filter(|job| gone_out(job)).count();
        assert!(out < TOTAL, "the whole queue went before the kill (wanted {count})");
        if out >= count {
            return;
        }
        assert!(Instant::now() < deadline, "only {out} of {count} jobs went out");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// One message in WhatsApp's record: its id, text and, on the sim engine,
/// when the network took it (unix ms).
struct Taken {
    message_id: String,
    text: String,
    at_ms: Option<i64>,
}

/// What WhatsApp took from the instance for [`CONTACT`].
async fn taken(whatsapp: &Whatsapp, api: &Api) -> Vec<Taken> {
    match whatsapp.simulator() {
        None => {
            let (status, body) = api.get(&format!("/sim/instances/{INSTANCE}/sent")).await;
            assert_eq!(status, 200, "{body}");
            body["messages"]
                .as_array()
                .expect("the sent messages")
                .iter()
                .filter(|m| m["to"] == CONTACT_JID && m["kind"] == "text")
                .map(|m| Taken {
                    message_id: m["message_id"].as_str().expect("message_id").to_owned(),
                    text: m["text"].as_str().unwrap_or_default().to_owned(),
                    at_ms: m["at_ms"].as_i64(),
                })
                .collect()
        }
        Some(simulator) => simulator
            .contact(CONTACT)
            .received()
            .into_iter()
            .map(|m| Taken {
                message_id: m.id,
                text: m.text.unwrap_or_default(),
                at_ms: None,
            })
            .collect(),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

both_engines!(a_queue_cut_by_kill_9_sends_every_job_exactly_once);

async fn a_queue_cut_by_kill_9_sends_every_job_exactly_once(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let flags = child::flags(&whatsapp, &db, dir.path(), &[]);
    let mut server = child::start(&flags).await;
    let driver = child::online(&whatsapp, &server, INSTANCE, PHONE).await;
    driver.contact(CONTACT, true).await;
    let api = server.admin();
    // Fast enough to finish soon, slow enough to be mid-way at each kill.
    let pacing = json!({ "per_minute": 100_000, "per_hour": 1_000_000, "per_day": 1_000_000,
                         "min_gap_ms": 5, "max_gap_ms": 20 });
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            &format!("/api/instances/{INSTANCE}"),
            Some(json!({ "pacing": pacing })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut texts_by_job = BTreeMap::new();
    for n in 0..TOTAL {
        let (status, answer) = api
            .post(
                &format!("/api/send/{INSTANCE}"),
                json!({ "to": CONTACT, "message": text(n), "queue": true }),
            )
            .await;
        assert_eq!(status, 202, "{answer}");
        texts_by_job.insert(answer["job_id"].as_i64().expect("a job id"), text(n));
    }

    // Kill while the queue goes out, a share further each time.
    let mut kills = Vec::new();
    let mut taken_at_kill: Vec<BTreeSet<String>> = Vec::new();
    for round in 1..=KILLS {
        until_gone_out(&server.admin(), round * TOTAL / (KILLS + 1)).await;
        server.kill();
        kills.push(now_ms());
        // The simulator outlives the server: what it has is what WhatsApp took.
        taken_at_kill.push(match whatsapp.simulator() {
            Some(simulator) => simulator
                .contact(CONTACT)
                .received()
                .into_iter()
                .map(|m| m.id)
                .collect(),
            None => BTreeSet::new(),
        });
        server = child::start(&flags).await;
    }

    // Every job goes out in the end.
    let api = server.admin();
    let deadline = Instant::now() + FINISH_WAIT;
    let jobs = loop {
        let jobs = jobs(&api).await;
        assert_eq!(jobs.len(), TOTAL);
        if jobs.iter().all(gone_out) {
            break jobs;
        }
        let stuck: Vec<&Value> = jobs.iter().filter(|job| !gone_out(job)).collect();
        assert!(
            Instant::now() < deadline,
            "{} jobs did not go out: {:#?}",
            stuck.len(),
            &stuck[..stuck.len().min(3)]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // A direct send after the last job: once it arrived, whatever the
    // instance sent before it did too (a repeat could not still be on its way).
    let (status, answer) = api
        .post(
            &format!("/api/send/{INSTANCE}"),
            json!({ "to": CONTACT, "message": "the end" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let all = whatsapp
        .child_driver(&server, INSTANCE)
        .sent_to(CONTACT, TOTAL + 1)
        .await;
    assert!(all.iter().any(|m| m.text.as_deref() == Some("the end")), "{all:?}");

    let taken: Vec<Taken> = taken(&whatsapp, &api)
        .await
        .into_iter()
        .filter(|m| m.text != "the end")
        .collect();
    let mut by_text: BTreeMap<&str, Vec<&Taken>> = BTreeMap::new();
    for message in &taken {
        by_text.entry(message.text.as_str()).or_default().push(message);
    }
    let mut caught = 0;
    for job in &jobs {
        let id = job["job_id"].as_i64().expect("job_id");
        let text = &texts_by_job[&id];
        let copies = by_text.get(text.as_str()).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            copies.len(),
            1,
            "job {id} ({text}) reached WhatsApp {} times: {job}",
            copies.len()
        );
        assert_eq!(
            job["message_id"].as_str(),
            Some(copies[0].message_id.as_str()),
            "job {id} carries the id WhatsApp took: {job}"
        );
        // Taken before a kill, marked sent only after the restart.
        // RFC 3339 in UTC with milliseconds, as the server writes it: in
        // time order as text.
        let sent_at = job["sent_at"].as_str().expect("sent_at");
        let first_kill_after = kills.iter().enumerate().find(|(round, kill_ms)| match copies[0].at_ms {
            Some(at_ms) => at_ms <= **kill_ms,
            None => taken_at_kill[*round].contains(&copies[0].message_id),
        });
        if first_kill_after.is_some_and(|(_, kill_ms)| sent_at > wasap::clock::rfc3339_ms(*kill_ms).as_str()) {
            caught += 1;
        }
    }
    assert_eq!(taken.len(), TOTAL, "WhatsApp took only the jobs' texts, once each");
    eprintln!(
        "{engine:?}: {TOTAL} jobs through {KILLS} kills, each taken once; {caught} taken before a kill and marked \
         sent after it"
    );
    server.kill();
    whatsapp.assert_all_handled();
}

/// The job `job_id` of the instance.
async fn job(api: &Api, job_id: i64) -> Value {
    let (status, job) = api.get(&format!("/api/queue/{INSTANCE}/{job_id}")).await;
    assert_eq!(status, 200, "{job}");
    job
}

both_engines!(a_job_whose_answer_a_kill_cut_off_is_sent_once);

/// WhatsApp took the job's message and the server died before it heard so:
/// the job is `sending`, wasap's record of sent messages does not have it,
/// WhatsApp does. Restarted on the same database, with nothing released,
/// the job ends `sent` under the id WhatsApp took, and WhatsApp has that
/// message once.
async fn a_job_whose_answer_a_kill_cut_off_is_sent_once(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let flags = child::flags(&whatsapp, &db, dir.path(), &[]);
    let server = child::start(&flags).await;
    let driver = child::online(&whatsapp, &server, INSTANCE, PHONE).await;
    driver.contact(CONTACT, true).await;
    driver.hold_sends(true).await;
    let (status, queued) = server
        .admin()
        .post(
            &format!("/api/send/{INSTANCE}"),
            json!({ "to": CONTACT, "message": "taken, unanswered", "queue": true }),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let job_id = queued["job_id"].as_i64().expect("a job id");

    // Taken and unanswered: the job waits in `sending`, under the id WhatsApp has.
    driver.wait_held_sends(1).await;
    let taken_before = driver.sent_to(CONTACT, 1).await;
    let held = job(&server.admin(), job_id).await;
    assert_eq!(held["status"], "sending", "{held}");
    let message_id = held["message_id"].as_str().expect("the job's message id").to_owned();
    assert_eq!(
        taken_before.iter().map(|m| m.message_id.as_str()).collect::<Vec<_>>(),
        [message_id.as_str()],
        "WhatsApp took the job's message: {taken_before:?}"
    );

    let server = child::restart(server, &flags).await;
    let api = server.admin();
    let deadline = Instant::now() + FINISH_WAIT;
    let sent = loop {
        let job = job(&api, job_id).await;
        if gone_out(&job) {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "the job did not go out after the restart: {job}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(sent["message_id"].as_str(), Some(message_id.as_str()), "{sent}");
    // A direct send after it: once it arrived, whatever the instance sent
    // before it did too (a second copy could not still be on its way).
    let (status, answer) = api
        .post(
            &format!("/api/send/{INSTANCE}"),
            json!({ "to": CONTACT, "message": "the end" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let all = whatsapp.child_driver(&server, INSTANCE).sent_to(CONTACT, 2).await;
    assert!(all.iter().any(|m| m.text.as_deref() == Some("the end")), "{all:?}");
    let copies: Vec<Taken> = taken(&whatsapp, &api)
        .await
        .into_iter()
        .filter(|m| m.message_id == message_id)
        .collect();
    assert_eq!(copies.len(), 1, "WhatsApp has the job's message once");
    assert_eq!(copies[0].text, "taken, unanswered");
    eprintln!(
        "{engine:?}: job {job_id} taken before the kill, settled after it: {}",
        sent["status"]
    );
    server.kill();
    whatsapp.assert_all_handled();
}
