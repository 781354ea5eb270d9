//! The HTTP front door, black-box (issue 15, finding 2): raw TCP clients
//! against a real server, for what an HTTP client library would never do:
//! send half a request and wait, stay idle on a keep-alive connection, hold
//! many connections, send a huge head.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wasap_tests::child_server::ChildServer;
use wasap_tests::websocket::{Token, open};
use wasap_tests::{TestDb, TestServer, WAIT, data_dir, sim_config};

/// Reads until the server closes the connection (a reset counts as closed);
/// everything it sent. Panics if the connection is still open after [`WAIT`].
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("the server left the connection open for {WAIT:?}"));
        match read {
            Ok(0) => return bytes,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if is_reset(&e) => return bytes,
            Err(e) => panic!("reading from the server: {e}"),
        }
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe)
}

/// Sends `GET path` on a keep-alive connection and reads one answer; its
/// status and body (the answer must carry a `content-length`).
async fn get_on(stream: &mut TcpStream, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: wasap\r\n{auth}\r\n");
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut answer = Vec::new();
    let head_end = loop {
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        read_more(stream, &mut answer).await;
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).to_string();
    let status = head[9..12].parse().expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no content-length in {head}"));
    while answer.len() < head_end + length {
        read_more(stream, &mut answer).await;
    }
    (
        status,
        String::from_utf8_lossy(&answer[head_end..head_end + length]).to_string(),
    )
}

/// Reads what the server sends next onto `answer`; panics if it closes the connection.
async fn read_more(stream: &mut TcpStream, answer: &mut Vec<u8>) {
    let mut buf = [0u8; 8192];
    let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("the answer in time")
        .expect("read the answer");
    assert!(
        n > 0,
        "the connection closed mid-answer: {}",
        String::from_utf8_lossy(answer)
    );
    answer.extend_from_slice(&buf[..n]);
}

/// `GET path` on a fresh connection that is closed after the answer.
async fn get_once(server: &TestServer, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let answer = get_on(&mut stream, path, token).await;
    drop(stream);
    answer
}

/// The value of `series` (name and labels, as written) in `/metrics`,
/// fetched on a connection of its own.
async fn metric(server: &TestServer, series: &str) -> f64 {
    let (status, text) = get_once(server, "/metrics", Some(&server.admin_token)).await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test]
async fn half_sent_requests_are_closed_after_the_header_timeout() {
    const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.http_header_timeout_ms = HEADER_TIMEOUT.as_millis() as u64;
    let server = TestServer::start_with(config).await;

    let started = Instant::now();
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        // Half of them send the start of a head, the others nothing at all.
        if i % 2 == 0 {
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: wasap\r\nX-Half: ")
                .await
                .expect("send half a request");
        }
        clients.push(stream);
    }
    for mut stream in clients {
        let answer = until_closed(&mut stream).await;
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    }
    assert!(started.elapsed() >= HEADER_TIMEOUT, "{:?}", started.elapsed());

    // A client that keeps the head trickling in, a byte at a time, gets no more time.
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        writer.write_all(b"GET /health HTTP/1.1\r\n").await?;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.write_all(b"X").await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let started = Instant::now();
    let mut rest = Vec::new();
    match tokio::time::timeout(WAIT, reader.read_to_end(&mut rest)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if is_reset(&e) => {}
        Ok(Err(e)) => panic!("{e}"),
        Err(_) => panic!("a trickling head kept its connection open"),
    }
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    trickle.abort();

    assert!(metric(&server, "wasap_http_connections_timed_out_total{phase=\"header\"}").await >= 21.0);
    // Whole requests still get their answers.
    assert_eq!(get_once(&server, "/health", None).await.0, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_the_header_one() {
    const HEADER_TIMEOUT: Duration = Duration::from_millis(200);
    const IDLE_TIMEOUT: Duration = Duration::from_millis(1500);
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.http_header_timeout_ms = HEADER_TIMEOUT.as_millis() as u64;
    config.http_idle_timeout_ms = IDLE_TIMEOUT.as_millis() as u64;
    let server = TestServer::start_with(config).await;

    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let (status, body) = get_on(&mut stream, "/health", None).await;
    assert_eq!(status, 200, "{body}");
    // Idle for three header timeouts: the connection is still there for the next request.
    tokio::time::sleep(HEADER_TIMEOUT * 3).await;
    let (status, body) = get_on(&mut stream, "/health", None).await;
    assert_eq!(status, 200, "{body}");
    let answered = Instant::now();
    let rest = until_closed(&mut stream).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let idle = answered.elapsed();
    assert!(
        idle >= IDLE_TIMEOUT - Duration::from_millis(200),
        "closed after {idle:?}"
    );
    assert!(metric(&server, "wasap_http_connections_timed_out_total{phase=\"idle\"}").await >= 1.0);
}

/// Holds `cap` connections (sending nothing), checks that one more is
/// refused (with `status`, or closed before it could be told), and that a
/// connection gets in again once one of them is closed.
async fn the_cap_holds(server: &TestServer, cap: usize, status: &str, limit: &str) {
    let mut held = Vec::new();
    for _ in 0..cap {
        held.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // The server accepts in order: the ones held are counted before this one.
    let mut one_more = TcpStream::connect(server.addr)
        .await
        .expect("the kernel completes the handshake");
    let _ = one_more.write_all(b"GET /health HTTP/1.1\r\nHost: wasap\r\n\r\n").await;
    let answer = String::from_utf8_lossy(&until_closed(&mut one_more).await).to_string();
    assert!(
        answer.is_empty() || answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "connection {} past the cap of {cap} got: {answer}",
        cap + 1
    );
    assert!(answer.is_empty() || answer.contains("too_many_connections"), "{answer}");

    drop(held.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let _ = stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: wasap\r\nConnection: close\r\n\r\n")
            .await;
        let answer = String::from_utf8_lossy(&until_closed(&mut stream).await).to_string();
        if answer.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection got in after one closed: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(held);
    let series = format!("wasap_http_connections_refused_total{{limit=\"{limit}\"}}");
    // Its own connection may be refused while the held ones are being closed.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: wasap\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            server.admin_token
        );
        let _ = stream.write_all(request.as_bytes()).await;
        let answer = String::from_utf8_lossy(&until_closed(&mut stream).await).to_string();
        if answer.starts_with("HTTP/1.1 200 ") {
            let refused: f64 = answer
                .lines()
                .find_map(|line| line.strip_prefix(&series)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("no {series} in {answer}"));
            assert!(refused >= 1.0, "{series} {refused}");
            return;
        }
        assert!(Instant::now() < deadline, "/metrics did not answer: {answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_connection_caps_refuse_one_more_and_let_one_in_again_after_a_close() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.http_max_connections_per_ip = 3;
    let server = TestServer::start_with(config).await;
    the_cap_holds(&server, 3, "429", "client").await;
    server.stop().await;

    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.http_max_connections = 4;
    let server = TestServer::start_with(config).await;
    the_cap_holds(&server, 4, "503", "server").await;
}

#[tokio::test]
async fn a_request_head_over_the_limit_gets_431() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.http_max_header_bytes = 4096;
    let server = TestServer::start_with(config).await;

    let head = |filler: usize| {
        format!(
            "GET /health HTTP/1.1\r\nHost: wasap\r\nX-Filler: {}\r\n\r\n",
            "a".repeat(filler)
        )
    };
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let _ = stream.write_all(head(8000).as_bytes()).await;
    let answer = String::from_utf8_lossy(&until_closed(&mut stream).await).to_string();
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");

    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(head(3000).as_bytes()).await.expect("send");
    let mut answer = vec![0u8; 12];
    tokio::time::timeout(WAIT, stream.read_exact(&mut answer))
        .await
        .expect("an answer in time")
        .expect("an answer");
    assert_eq!(&answer, b"HTTP/1.1 200");
}

#[tokio::test]
async fn websockets_are_upgraded_and_then_outside_the_http_limits() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.http_header_timeout_ms = 200;
    config.http_idle_timeout_ms = 200;
    config.http_max_connections_per_ip = 3;
    let server = TestServer::start_with(config).await;
    let admin = server.admin_token.clone();

    // More WebSockets than the per-address cap: an upgraded connection leaves the HTTP cap.
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(open(&server, "/ws", Token::Header(&admin)).await);
    }
    // Past both HTTP timeouts, they still carry frames.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, body) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": "shop" }))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.admin().get("/api/instances/shop/qr").await;
    assert_eq!(status, 200, "{body}");
    for ws in &mut sockets {
        let (qr, _) = ws.wait_event("qr").await;
        assert_eq!(qr["data"]["instance_id"], "shop", "{qr}");
    }
    assert_eq!(metric(&server, "wasap_websocket_connections{route=\"/ws\"}").await, 4.0);
}

/// The audit's memory attack: many connections, each sending 380 KB of a
/// head that never ends. Each is refused at the header limit (64 KiB by
/// default) and closed, so the server's memory does not grow with them.
#[tokio::test]
async fn unfinished_huge_heads_do_not_pile_up_in_memory() {
    const CONNECTIONS: usize = 300;
    const HEAD_BYTES: usize = 380 * 1024;
    let db = TestDb::new().await;
    let dir = data_dir();
    let path = dir.path().display().to_string();
    let flags: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "sim",
        "--database-url",
        db.url(),
        "--data-dir",
        &path,
        "--plugins-dir",
        &format!("{path}/plugins.d"),
        "--http-max-connections-per-ip",
        "1000",
        "--log",
        "warn",
    ]
    .map(str::to_owned)
    .to_vec();
    let server = ChildServer::start(crate::child::ENTRY, &flags).await;
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).expect("the child's status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib * 1024
    };
    // Warm up the paths a request takes, so their one-off allocations are in the baseline.
    let (status, _) = server.admin().get("/health").await;
    assert_eq!(status, 200);
    let before = rss();

    let mut head = b"GET /health HTTP/1.1\r\nHost: wasap\r\nX-Filler: ".to_vec();
    head.resize(HEAD_BYTES, b'a');
    let mut streams = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        // The server stops reading (and closes) at its limit: the rest may not go through.
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(&head)).await;
        streams.push(stream);
    }
    for stream in &mut streams {
        let answer = String::from_utf8_lossy(&until_closed(stream).await).to_string();
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431 "), "{answer}");
    }
    let grown = rss().saturating_sub(before);
    eprintln!(
        "{CONNECTIONS} unfinished {} KiB heads: RSS grew by {} KiB",
        HEAD_BYTES / 1024,
        grown / 1024
    );
    // Holding them would take CONNECTIONS × HEAD_BYTES (over 110 MiB).
    assert!(grown < 40 * 1024 * 1024, "RSS grew by {} KiB", grown / 1024);
    drop(streams);
    server.kill();
}
