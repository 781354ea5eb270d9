//! `/openapi.json` and `/metrics`: the document lists every route the server
//! serves (and every route of docs/API.md), every route it lists is really served,
//! and the metrics count requests by route template and status, messages by
//! instance and kind, and instances by status.

use reqwest::Method;
use serde_json::{Value, json};
use wasap_tests::{TestDb, TestServer, data_dir, online};

/// The routes of docs/API.md that exist so far, as (method, path template).
const API_MD_ROUTES: &[(&str, &str)] = &[
    ("post", "/api/instances"),
    ("get", "/api/instances"),
    ("get", "/api/instances/{id}"),
    ("patch", "/api/instances/{id}"),
    ("post", "/api/send/{id}/media-base64"),
    ("post", "/api/by-number/{phone}/media-base64"),
    ("post", "/api/by-number/{phone}/location"),
    ("post", "/api/by-number/{phone}/contact"),
    ("post", "/api/by-number/{phone}/chat-state"),
    ("post", "/api/messages/{id}/delete-for-me"),
    ("delete", "/api/instances/{id}"),
    ("get", "/api/instances/{id}/qr"),
    ("post", "/api/instances/{id}/pair-code"),
    ("post", "/api/instances/{id}/logout"),
    ("post", "/api/instances/{id}/reconnect"),
    ("post", "/api/send/{id}"),
    ("post", "/api/send/{id}/media"),
    ("post", "/api/send/{id}/media-url"),
    ("post", "/api/by-number/{phone}/media-url"),
    ("post", "/api/by-number/{phone}"),
    ("post", "/api/by-number/{phone}/media-file"),
    ("post", "/api/check/{id}"),
    ("post", "/sim/instances/{id}/scan"),
    ("post", "/sim/instances/{id}/incoming"),
    ("post", "/sim/instances/{id}/receipt"),
    ("post", "/sim/clock"),
    ("get", "/api/queue/{id}"),
    ("get", "/api/queue/{id}/{job}"),
    ("delete", "/api/queue/{id}/{job}"),
    ("post", "/api/queue/{id}/bulk"),
    ("delete", "/api/queue/{id}/batches/{batch}"),
    ("get", "/api/by-number/{phone}/queue"),
    ("post", "/api/by-number/{phone}/bulk"),
    ("delete", "/api/by-number/{phone}/batches/{batch}"),
    ("get", "/api/instances/{id}/pacing"),
    ("post", "/sim/instances/{id}/group-participants"),
    ("get", "/sim/instances/{id}/sent"),
    ("post", "/sim/instances/{id}/disconnect"),
    ("post", "/sim/instances/{id}/unlink"),
    ("post", "/sim/contacts"),
    ("post", "/api/calls/{id}/reject"),
    ("get", "/api/groups/{id}"),
    ("post", "/api/groups/{id}"),
    ("post", "/api/groups/{id}/join"),
    ("get", "/api/groups/{id}/invites/{code}"),
    ("get", "/api/groups/{id}/{group}"),
    ("patch", "/api/groups/{id}/{group}"),
    ("post", "/api/groups/{id}/{group}/participants"),
    ("get", "/api/groups/{id}/{group}/invite"),
    ("post", "/api/groups/{id}/{group}/invite"),
    ("post", "/api/groups/{id}/{group}/leave"),
    ("post", "/api/groups/{id}/{group}/photo"),
    ("get", "/api/groups/{id}/{group}/requests"),
    ("post", "/api/groups/{id}/{group}/requests"),
    ("get", "/sim/groups/{group}"),
    ("post", "/sim/groups/join"),
    ("post", "/sim/groups/{group}/settings"),
    ("post", "/sim/instances/{id}/call"),
    ("post", "/sim/instances/{id}/hang-up"),
    ("post", "/sim/instances/{id}/silence"),
    ("post", "/sim/instances/{id}/hold-sends"),
    ("get", "/sim/instances/{id}/hold-sends"),
    ("post", "/sim/instances/{id}/address-book"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/statics/media/{file}"),
    ("get", "/"),
];

async fn text(server: &TestServer, token: Option<&str>, path: &str) -> (u16, String) {
    let response = server.client(token).get_raw(path, None).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_every_listed_route_is_served() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    online(&mut server, "ops", "6281100000071").await;

    let (status, doc) = server.client(None).get("/openapi.json").await;
    assert_eq!(status, 200, "no token is needed for the document");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in API_MD_ROUTES {
        assert!(
            paths.get(*path).and_then(|item| item.get(*method)).is_some(),
            "{method} {path} is not in /openapi.json"
        );
    }

    // Every documented operation is routed: with the admin token and no body it
    // may be refused for its input, but never as an unknown route or method.
    let http = reqwest::Client::new();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            assert!(
                operation["operationId"].as_str().is_some_and(|id| !id.is_empty()),
                "{method} {path}"
            );
            assert!(
                operation["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            let concrete = path
                .replace("{id}", "ops")
                .replace("{phone}", "6281100000071")
                .replace("{file}", "0123456789abcdef0123456789abcdef.jpg");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = http
                .request(method.clone(), server.url(&concrete))
                .bearer_auth(&server.admin_token)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {concrete}: {body}");
            assert_ne!(
                body["error"]["code"], "not_found",
                "{method} {concrete} is documented but not served"
            );
        }
    }
    assert!(operations >= API_MD_ROUTES.len(), "{operations} operations");

    // What is not documented is not served, and answers in the error shape.
    let (status, body) = server.admin().get("/api/not-a-route").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, body) = server.admin().send(Method::PUT, "/api/instances", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_messages_and_instances() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "metered", "6281100000072").await;
    let (status, _) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": "idle" }))
        .await;
    assert_eq!(status, 201);

    let api = server.client(Some(&token));
    for _ in 0..3 {
        let (status, body) = api
            .post("/api/send/metered", json!({ "to": "6281234567890", "message": "hi" }))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = api
        .post("/api/send/metered", json!({ "to": "12", "message": "hi" }))
        .await;
    assert_eq!(status, 422);
    let (status, _) = api.get("/no/such/route").await;
    assert_eq!(status, 404);

    assert_eq!(text(&server, None, "/metrics").await.0, 401);
    assert_eq!(
        text(&server, Some(&token), "/metrics").await.0,
        403,
        "instance tokens may not read metrics"
    );
    let response = server.admin().get_raw("/metrics", None).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let metrics = response.text().await.unwrap();
    let has = |line: &str| metrics.lines().any(|l| l == line);
    assert!(
        has(r#"wasap_http_requests_total{route="/api/send/{id}",method="POST",status="200"} 3"#),
        "{metrics}"
    );
    assert!(
        has(r#"wasap_http_requests_total{route="/api/send/{id}",method="POST",status="422"} 1"#),
        "{metrics}"
    );
    assert!(
        has(r#"wasap_http_requests_total{route="unmatched",method="GET",status="404"} 1"#),
        "{metrics}"
    );
    assert!(
        has(r#"wasap_http_requests_total{route="/metrics",method="GET",status="401"} 1"#),
        "{metrics}"
    );
    assert!(has(
        r#"wasap_http_request_duration_seconds_count{route="/api/send/{id}",method="POST",status="200"} 3"#
    ));
    assert!(
        has(r#"wasap_messages_sent_total{instance="metered",kind="text"} 3"#),
        "{metrics}"
    );
    assert!(has(r#"wasap_instances{status="online"} 1"#), "{metrics}");
    assert!(has(r#"wasap_instances{status="qr_required"} 1"#), "{metrics}");

    // Media sends are counted by their kind.
    let png = base64_png();
    let form = reqwest::multipart::Form::new()
        .text("to", "6281234567890")
        .part("file", reqwest::multipart::Part::bytes(png).file_name("dot.png"));
    let response = reqwest::Client::new()
        .post(server.url("/api/send/metered/media"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, metrics) = text(&server, Some(&server.admin_token), "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"wasap_messages_sent_total{instance="metered",kind="image"} 1"#),
        "{metrics}"
    );
    server.stop().await;
}

/// A 1×1 PNG.
fn base64_png() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
        .unwrap()
}

#[tokio::test]
async fn every_bad_request_answers_in_the_error_shape() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    let http = reqwest::Client::new();
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            http.post(server.url("/api/instances"))
                .bearer_auth(&server.admin_token)
                .header("content-type", "application/json")
                .body("{nope"),
            400,
            "invalid_json",
        ),
        (
            http.post(server.url("/api/instances"))
                .bearer_auth(&server.admin_token)
                .header("content-type", "text/plain")
                .body("{}"),
            415,
            "unsupported_media_type",
        ),
        (
            http.post(server.url("/api/instances"))
                .bearer_auth(&server.admin_token)
                .json(&json!({"instance_id": 7})),
            422,
            "invalid_body",
        ),
        (
            http.post(server.url("/api/instances")).json(&json!({})),
            401,
            "unauthorized",
        ),
        (
            http.get(server.url("/api/instances")).bearer_auth("wrong"),
            401,
            "invalid_token",
        ),
        (http.delete(server.url("/health")), 405, "method_not_allowed"),
        // A sibling route's "wrong method" does not hide what is wrong with this one.
        (
            http.post(server.url("/api/plugins")).bearer_auth(&server.admin_token),
            411,
            "length_required",
        ),
        (http.get(server.url("/nothing/here")), 404, "not_found"),
        (
            http.get(server.url("/api/instances/none"))
                .bearer_auth(&server.admin_token),
            404,
            "instance_not_found",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        let got = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON error body");
        assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{body}");
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    server.stop().await;
}
