//! The send queue as the queue tests drive it (docs/API.md, "Send queue"):
//! an instance's pacing, queued texts, its jobs and their statuses, and the
//! simulated clock the queue runs on. Every helper asserts the answer it
//! expects, so a test reads as the steps it takes.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{Api, TestDb, TestServer, WAIT, data_dir, online};

/// The instance the queue tests send from, and its own number.
pub const SHOP: &str = "shop";
pub const SHOP_PHONE: &str = "6281111111111";

/// A server on the simulated engine with [`SHOP`] online as [`SHOP_PHONE`];
/// it keeps its database and data directory.
pub async fn shop() -> TestServer {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, SHOP, SHOP_PHONE).await;
    server.keep(db, dir);
    server
}

/// The send queue of one instance, through the API with `api`'s token.
pub struct Queue<'a> {
    api: &'a Api,
    instance: String,
}

impl<'a> Queue<'a> {
    pub fn of(api: &'a Api, instance: &str) -> Queue<'a> {
        Queue {
            api,
            instance: instance.to_owned(),
        }
    }

    /// Sets the instance's pacing (`PATCH /api/instances/{id}`; `null` for
    /// the server's defaults).
    pub async fn set_pacing(&self, pacing: Value) {
        let (status, body) = self
            .api
            .send(
                reqwest::Method::PATCH,
                &format!("/api/instances/{}", self.instance),
                Some(json!({ "pacing": pacing })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// `GET /api/instances/{id}/pacing`: the override and the rules in force.
    pub async fn pacing(&self) -> Value {
        let (status, body) = self.api.get(&format!("/api/instances/{}/pacing", self.instance)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Queues a text to `to` (`"queue": true` and the fields of `extra`):
    /// the 202 answer.
    pub async fn text(&self, to: &str, text: &str, extra: Value) -> Value {
        let mut body = json!({ "to": to, "message": text, "queue": true });
        for (k, v) in extra.as_object().expect("fields") {
            body[k] = v.clone();
        }
        let (status, answer) = self.api.post(&format!("/api/send/{}", self.instance), body).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["status"], "queued", "{answer}");
        answer
    }

    /// One page of the instance's jobs (`query` as `GET /api/queue/{id}`
    /// takes it, `""` for none).
    pub async fn page(&self, query: &str) -> Value {
        let (status, page) = self.api.get(&format!("/api/queue/{}?{query}", self.instance)).await;
        assert_eq!(status, 200, "{page}");
        page
    }

    /// The jobs of [`Queue::page`].
    pub async fn jobs(&self, query: &str) -> Vec<Value> {
        self.page(query).await["jobs"].as_array().expect("jobs").clone()
    }

    /// Job `id`.
    pub async fn job(&self, id: i64) -> Value {
        let (status, body) = self.api.get(&format!("/api/queue/{}/{id}", self.instance)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Waits (up to [`WAIT`]) until job `id` is in `status`.
    pub async fn wait_job(&self, id: i64, status: &str) -> Value {
        self.wait(id, status, |job| job["status"] == status).await
    }

    /// Waits (up to [`WAIT`]) until job `id` went: `sent`, or already
    /// `delivered` or `read` (the real engine's receipts come at once).
    /// A job that ends otherwise fails the test at once.
    pub async fn wait_sent(&self, id: i64) -> Value {
        self.wait(id, "sent", |job| {
            if ["sent", "delivered", "read"].iter().any(|s| job["status"] == *s) {
                return true;
            }
            assert!(
                job["status"] == "queued" || job["status"] == "sending",
                "job {id} ended otherwise: {job}"
            );
            false
        })
        .await
    }

    async fn wait(&self, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let job = self.job(id).await;
            if done(&job) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} never became {what}: {job}");
            // The scheduler and the receipts run apart from the request: look again shortly.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Moves the simulated clock the queue runs on by `ms`; the server's time
/// after the move (unix ms).
pub async fn advance_clock(api: &Api, ms: u64) -> i64 {
    let (status, body) = api.post("/sim/clock", json!({ "advance_ms": ms })).await;
    assert_eq!(status, 200, "{body}");
    body["now_ms"].as_i64().expect("now_ms")
}

/// A job id as a number, from an answer's `job_id`.
pub fn job_id(job: &Value) -> i64 {
    job["job_id"].as_i64().unwrap_or_else(|| panic!("a job id: {job}"))
}
