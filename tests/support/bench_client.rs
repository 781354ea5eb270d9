//! The benchmarks' side of a `wasap` server they run as a process: waiting
//! for it to answer, calling it, and pairing the bench's instance on the sim
//! engine. Shared by `bench-send` and `bench-outputs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Waits (up to a minute) until `GET /health` answers 2xx.
pub async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = http.get(format!("{base}/health")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("wasap did not become healthy");
}

/// Sends `request`; its JSON answer, which must be a 2xx.
pub async fn call(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request to wasap");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Creates instance `instance`, pairs it as `phone` through the sim's scan
/// route and waits until it is online; its token.
pub async fn pair_instance(http: &reqwest::Client, base: &str, admin_token: &str, instance: &str, phone: &str) -> String {
    let created = call(
        http.post(format!("{base}/api/instances"))
            .bearer_auth(admin_token)
            .json(&json!({ "instance_id": instance })),
    )
    .await;
    let token = created["token"].as_str().expect("instance token").to_owned();
    call(http.get(format!("{base}/api/instances/{instance}/qr")).bearer_auth(admin_token)).await;
    call(
        http.post(format!("{base}/sim/instances/{instance}/scan"))
            .bearer_auth(admin_token)
            .json(&json!({ "phone": phone })),
    )
    .await;
    // Polled: the bench talks to another process, with no event stream of its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = call(http.get(format!("{base}/api/instances/{instance}")).bearer_auth(admin_token)).await;
        if answer["status"] == "online" {
            return token;
        }
        assert!(Instant::now() < deadline, "the instance did not come online: {answer}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
