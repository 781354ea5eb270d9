//! The WebSocket caps (issue 15, finding 5): one instance's token cannot
//! take every WebSocket place, and the admin always finds one.

use serde_json::{Value, json};
use wasap_tests::websocket::{Token, connect, open};
use wasap_tests::{TestDb, TestServer, data_dir, sim_config};

/// Creates instance `id`; its token.
async fn instance(server: &TestServer, id: &str) -> String {
    let (status, created) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": id }))
        .await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().expect("the instance's token").to_owned()
}

/// The status and error code of a refused connection.
async fn refused(server: &TestServer, path: &str, token: Token<'_>) -> (u16, String) {
    let (status, body): (u16, Value) = connect(server, path, token)
        .await
        .err()
        .unwrap_or_else(|| panic!("{path} was not refused"));
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_tenant_at_its_websocket_cap_does_not_lock_out_the_admin() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.ws_max_connections = 6;
    config.ws_max_connections_per_instance = 2;
    config.ws_admin_reserved = 2;
    let server = TestServer::start_with(config).await;
    let admin = server.admin_token.clone();
    let (a, b, c) = (
        instance(&server, "a").await,
        instance(&server, "b").await,
        instance(&server, "c").await,
    );
    let mut open_ones = Vec::new();

    // One instance's token: two listeners, then 429.
    open_ones.push(open(&server, "/api/listen/a", Token::Query(&a)).await);
    open_ones.push(open(&server, "/api/listen/a", Token::Header(&a)).await);
    assert_eq!(
        refused(&server, "/api/listen/a", Token::Query(&a)).await,
        (429, "too_many_connections".to_owned())
    );
    // The admin is not held to the instance's cap.
    open_ones.push(open(&server, "/api/listen/a", Token::Header(&admin)).await);

    // Tenants fill every place they may (6 less the 2 reserved: a's two and b's two).
    open_ones.push(open(&server, "/api/listen/b", Token::Query(&b)).await);
    open_ones.push(open(&server, "/api/listen/b", Token::Query(&b)).await);
    assert_eq!(
        refused(&server, "/api/listen/c", Token::Query(&c)).await,
        (503, "too_many_connections".to_owned())
    );
    // The admin's /ws still connects, up to the hub's cap.
    open_ones.push(open(&server, "/ws", Token::Query(&admin)).await);
    assert_eq!(
        refused(&server, "/ws", Token::Header(&admin)).await,
        (503, "too_many_connections".to_owned())
    );

    // A tenant's place freed is a tenant's place again.
    drop(open_ones.remove(0));
    let deadline = tokio::time::Instant::now() + wasap_tests::WAIT;
    loop {
        match connect(&server, "/api/listen/c", Token::Query(&c)).await {
            Ok(ws) => {
                open_ones.push(ws);
                break;
            }
            Err((503, _)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(other) => panic!("c's listener after a place was freed: {other:?}"),
        }
    }
}
