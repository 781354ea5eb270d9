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

/// `GET /health`'s `status` and `problems`.
async fn health(server: &TestServer) -> (String, Vec<String>) {
    let (status, body) = server.client(None).get("/health").await;
    assert_eq!(status, 200, "{body}");
    let problems = body["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("problems is an array: {body}"))
        .iter()
        .map(|p| p.as_str().expect("a sentence").to_owned())
        .collect();
    (body["status"].as_str().expect("status").to_owned(), problems)
}

/// Asks `/health` until its status is `wanted` (the write check is redone at
/// most once a second), within [`wasap_tests::WAIT`].
async fn wait_health(server: &TestServer, wanted: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + wasap_tests::WAIT;
    loop {
        let (status, problems) = health(server).await;
        if status == wanted {
            return problems;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never became {wanted}: {problems:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn health_is_degraded_while_the_database_cannot_write() {
    use sqlx::Connection;
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = TestServer::start(&db, dir.path()).await;
    assert_eq!(health(&server).await, ("ok".to_owned(), Vec::new()));

    // Another client holds the write lock the server's writes need, as a
    // stuck migration or a backup tool would.
    let problems = if db.is_postgres() {
        let mut blocker = sqlx::PgConnection::connect(db.url())
            .await
            .expect("connect to PostgreSQL");
        sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
        sqlx::query("LOCK TABLE health_write_probe IN EXCLUSIVE MODE")
            .execute(&mut blocker)
            .await
            .unwrap();
        let problems = wait_health(&server, "degraded").await;
        sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
        problems
    } else {
        let mut blocker = sqlx::SqliteConnection::connect(db.url())
            .await
            .expect("open the SQLite file");
        sqlx::query("BEGIN IMMEDIATE").execute(&mut blocker).await.unwrap();
        let problems = wait_health(&server, "degraded").await;
        sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
        problems
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("database"), "says why: {problems:?}");

    assert!(
        wait_health(&server, "ok").await.is_empty(),
        "ok again once writes go through"
    );
    server.stop().await;
}
