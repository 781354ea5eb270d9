//! The API rate limit per client (issue 21, part 6), black-box: a server
//! with a low limit, real HTTP and WebSocket clients, the exact 429 and its
//! `Retry-After`, one token's exhaustion leaving the others alone, and the
//! default limit holding a normal client back nowhere.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use wasap_tests::websocket::{Token, connect};
use wasap_tests::{TestDb, TestServer, WAIT, data_dir, sim_config};

/// A server whose clients may make 3 requests at once and 1 a second after that.
async fn low_limit_server(db: &TestDb, dir: &std::path::Path) -> TestServer {
    let mut config = sim_config(db, dir);
    config.api_rate = 1;
    config.api_burst = 3;
    TestServer::start_with(config).await
}

/// One answer: status, `Retry-After` (if any) and JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn get(server: &TestServer, path: &str, token: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("an ASCII Retry-After").to_owned());
    let bytes = response.bytes().await.expect("the body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
    }
}

/// The refusal every request over the limit of 1/s gets.
fn rate_limited() -> Value {
    json!({"error": {"code": "rate_limited", "message": "too many requests from this client; retry after 1 s"}})
}

/// Sends `GET path` until the answer is a 429; the statuses before it. The
/// bucket refills by 1 a second, so a client that keeps asking meets the 429
/// after what is `left` of its burst of 3 (a few more if the machine is slow).
async fn until_limited(server: &TestServer, path: &str, token: Option<&str>, left: usize) -> Vec<u16> {
    let mut passed = Vec::new();
    for _ in 0..20 {
        let answer = get(server, path, token).await;
        if answer.status == 429 {
            assert_eq!(answer.body, rate_limited(), "{path}");
            assert_eq!(answer.retry_after.as_deref(), Some("1"), "{path}");
            assert!(passed.len() >= left, "limited before {left} requests: {passed:?}");
            return passed;
        }
        passed.push(answer.status);
    }
    panic!("GET {path} was never limited: {passed:?}");
}

/// Asks `GET path` until it is answered with `expected`, waiting each 429's
/// `Retry-After` between tries, up to [`WAIT`].
async fn after_retry_after(server: &TestServer, path: &str, token: Option<&str>, expected: u16) {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = get(server, path, token).await;
        if answer.status == expected {
            return;
        }
        assert_eq!(answer.status, 429, "GET {path}: {answer:?}");
        assert!(Instant::now() < deadline, "GET {path} still limited after {WAIT:?}");
        let secs: u64 = answer
            .retry_after
            .expect("a 429 with Retry-After")
            .parse()
            .expect("whole seconds");
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
}

#[tokio::test]
async fn a_token_over_its_limit_gets_429_with_retry_after_and_the_others_go_on() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = low_limit_server(&db, dir.path()).await;
    let admin = server.admin_token.clone();
    let (status, created) = server.admin().post("/api/instances", json!({"instance_id": "a"})).await;
    assert_eq!(status, 201, "{created}");
    let tenant = created["token"].as_str().expect("the instance token").to_owned();

    // Creating the instance took one of the admin's 3.
    let passed = until_limited(&server, "/api/instances", Some(&admin), 2).await;
    assert!(passed.iter().all(|s| *s == 200), "{passed:?}");
    // The admin's unknown routes and its WebSocket upgrades count the same (the
    // query token is the admin's: this address has made no request of its own).
    let unknown = get(&server, "/api/no-such-route", Some(&admin)).await;
    assert_eq!((unknown.status, &unknown.body), (429, &rate_limited()));
    assert_eq!(
        connect(&server, "/ws", Token::Query(&admin)).await.err(),
        Some((429, rate_limited()))
    );

    // The instance's token has a bucket of its own, and so has a request without a valid token.
    assert_eq!(get(&server, "/api/instances/a", Some(&tenant)).await.status, 200);
    let listener = connect(&server, "/api/listen/a", Token::Query(&tenant)).await;
    assert!(listener.is_ok(), "the tenant's listener: {:?}", listener.err());
    let stranger = get(&server, "/api/instances", Some("not-a-token")).await;
    assert_eq!(stranger.status, 401, "{stranger:?}");
    assert_eq!(stranger.body["error"]["code"], "invalid_token");
    // Neither counted nor held back: probes, scrapers and the document.
    assert_eq!(get(&server, "/health", None).await.status, 200);
    assert_eq!(get(&server, "/openapi.json", None).await.status, 200);
    assert_eq!(server.admin().metric("wasap_api_rate_limited_total").await, 3.0);

    // Waiting as told lets the admin in again, the WebSocket too.
    after_retry_after(&server, "/api/instances", Some(&admin), 200).await;
    let deadline = Instant::now() + WAIT;
    loop {
        match connect(&server, "/ws", Token::Query(&admin)).await {
            Ok(_) => break,
            Err((429, body)) if Instant::now() < deadline => {
                assert_eq!(body, rate_limited());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(other) => panic!("the admin's /ws after waiting: {other:?}"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn requests_without_a_valid_token_count_by_address() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = low_limit_server(&db, dir.path()).await;
    let admin = server.admin_token.clone();

    // Made-up tokens share their address's bucket: guessing is limited too.
    let passed = until_limited(&server, "/api/instances", Some("guess-1"), 3).await;
    assert!(passed.iter().all(|s| *s == 401), "{passed:?}");
    let other_guess = get(&server, "/api/instances", Some("guess-2")).await;
    assert_eq!((other_guess.status, &other_guess.body), (429, &rate_limited()));
    let anonymous = get(&server, "/api/instances", None).await;
    assert_eq!((anonymous.status, &anonymous.body), (429, &rate_limited()));
    assert_eq!(
        connect(&server, "/ws", Token::None).await.err(),
        Some((429, rate_limited()))
    );
    // The admin's token is counted apart from its address.
    assert_eq!(get(&server, "/api/instances", Some(&admin)).await.status, 200);
    after_retry_after(&server, "/api/instances", None, 401).await;
    server.stop().await;
}

#[tokio::test]
async fn the_default_limit_holds_no_normal_client_back() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let admin = server.admin();
    // A busy client: 300 requests, 10 at a time.
    for _ in 0..30 {
        let batch = (0..10).map(|_| admin.get("/api/instances"));
        for (status, body) in futures::future::join_all(batch).await {
            assert_eq!(status, 200, "{body}");
        }
    }
    assert_eq!(admin.metric("wasap_api_rate_limited_total").await, 0.0);

    // The document says which routes can answer `rate_limited`, with its header.
    let (status, document) = admin.get("/openapi.json").await;
    assert_eq!(status, 200);
    let limited = &document["paths"]["/api/instances"]["get"]["responses"]["429"];
    assert_eq!(
        limited["headers"]["Retry-After"]["schema"],
        json!({"type": "integer", "minimum": 1})
    );
    assert!(document["paths"]["/ws"]["get"]["responses"]["429"].is_object());
    assert!(document["paths"]["/health"]["get"]["responses"]["429"].is_null());
    server.stop().await;
}
