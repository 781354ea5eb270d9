//! Start-up, `/health`, the error shape of unknown routes, and the admin token.

use serde_json::Value;
use wasap_tests::{TestDb, TestServer, data_dir};

#[tokio::test]
async fn health_answers_without_a_token() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;

    let response = reqwest::get(server.url("/health")).await.expect("GET /health");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["status"], "ok");
    assert!(body["instances"].is_object(), "instances counts by status: {body}");
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_get_the_json_error_shape() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;

    let response = reqwest::get(server.url("/no/such/route")).await.expect("GET");
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].is_string());

    let response = reqwest::Client::new()
        .delete(server.url("/health"))
        .send()
        .await
        .expect("DELETE /health");
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], "method_not_allowed");
    server.stop().await;
}

#[tokio::test]
async fn generated_admin_token_survives_a_restart() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let first = TestServer::start(&db, dir.path()).await;
    let token = first.admin_token.clone();
    assert_eq!(token.len(), 64, "256-bit hex token");
    first.stop().await;

    let second = TestServer::start(&db, dir.path()).await;
    assert_eq!(second.admin_token, token);
    second.stop().await;
}

#[tokio::test]
async fn default_database_is_an_sqlite_file_in_the_data_directory() {
    let dir = data_dir();
    let db = TestDb::new().await;
    let mut config = wasap_tests::sim_config(&db, dir.path());
    config.database_url = None;
    let server = TestServer::start_with(config).await;

    let response = reqwest::get(server.url("/health")).await.expect("GET /health");
    assert_eq!(response.status(), 200);
    assert!(
        dir.path().join("wasap.db").is_file(),
        "wasap.db created in the data directory"
    );
    server.stop().await;
}
