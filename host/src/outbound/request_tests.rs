//! Requests against loopback servers that each test starts
//! ([`super::loopback`]).

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Method;

use super::loopback::{Reply, Server, redirect, response};
use super::*;

const LAX: UrlPolicy = UrlPolicy { allow_private: true };
const STRICT: UrlPolicy = UrlPolicy { allow_private: false };

/// Answers `/echo` with the method and body it got, redirects `/hop/...`,
/// and everything else as the path says.
async fn echo() -> Server {
    Server::start(|seen| match seen.path.as_str() {
        "/echo" => {
            let body = [seen.method.as_bytes(), b" ", &seen.body].concat();
            response(
                "200 OK",
                &[("X-Reply", "Yes"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
                &body,
            )
        }
        "/missing" => response("404 Not Found", &[("Content-Type", "text/plain")], b"no such thing"),
        "/broken" => response("503 Service Unavailable", &[("Retry-After", "5")], b""),
        "/not-modified" => Reply::Raw(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n".to_vec()),
        "/big" => response("200 OK", &[], &[b'x'; 2048]),
        "/huge-length" => Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\nshort".to_vec()),
        "/endless" => Reply::Chunked {
            size: 1024,
            count: 10_000,
        },
        "/never" => Reply::Stall(Vec::new()),
        "/see-other" => redirect("303 See Other", "/echo"),
        "/temporary" => redirect("307 Temporary Redirect", "/echo"),
        "/to-ftp" => redirect("302 Found", "ftp://example.com/x"),
        p if p.starts_with("/to-localhost/") => {
            let port = &p["/to-localhost/".len()..];
            redirect("302 Found", &format!("http://localhost:{port}/echo"))
        }
        _ => response("400 Bad Request", &[], b""),
    })
    .await
}

fn requester(policy: UrlPolicy) -> Requester {
    Requester::new(policy).unwrap()
}

fn request(method: Method, url: &str) -> OutboundRequest {
    OutboundRequest {
        method,
        url: url.to_owned(),
        headers: Vec::new(),
        body: None,
        timeout: Duration::from_secs(10),
        max_response_bytes: 1024,
    }
}

#[tokio::test]
async fn methods_headers_and_bodies_reach_the_server() {
    let server = echo().await;
    let requester = requester(LAX);
    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ] {
        let mut req = request(method.clone(), &server.url("/echo"));
        req.headers = vec![
            ("X-Custom".into(), "one".into()),
            ("x-custom".into(), "two".into()),
            ("Authorization".into(), "Bearer t".into()),
        ];
        req.body = Some(Bytes::from_static(b"payload\0bytes"));
        let got = requester.send(req).await.unwrap();
        assert_eq!(got.status, 200);
        assert_eq!(
            &got.body[..],
            [method.as_str().as_bytes(), b" payload\0bytes"].concat(),
            "{method}"
        );
        let seen = server.seen().pop().unwrap();
        assert_eq!(seen.method, method.as_str());
        let customs: Vec<&str> = seen
            .headers
            .iter()
            .filter(|(n, _)| n == "x-custom")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(customs, ["one", "two"], "repeated headers are all sent, in order");
        assert_eq!(seen.header("authorization"), Some("Bearer t"));
        assert_eq!(seen.header("content-length"), Some("13"));
    }
    let got = requester
        .send(request(Method::GET, &server.url("/echo")))
        .await
        .unwrap();
    assert!(
        got.headers.contains(&("x-reply".into(), "Yes".into())),
        "names are lowercase: {:?}",
        got.headers
    );
    let cookies: Vec<&str> = got
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(server.seen().pop().unwrap().body, b"", "no body when none is given");

    // HEAD: the response announces a body it does not carry.
    let got = requester
        .send(request(Method::HEAD, &server.url("/big")))
        .await
        .unwrap();
    assert_eq!((got.status, got.body.len()), (200, 0));
}

#[tokio::test]
async fn connection_headers_are_dropped_and_invalid_ones_refused() {
    let server = echo().await;
    let requester = requester(LAX);
    let mut req = request(Method::POST, &server.url("/echo"));
    req.headers = [
        ("Host", "evil.example"),
        ("Content-Length", "999"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "upgrade"),
        ("Upgrade", "websocket"),
        ("X-Kept", "yes"),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .to_vec();
    req.body = Some(Bytes::from_static(b"abc"));
    let got = requester.send(req).await.unwrap();
    assert_eq!(&got.body[..], b"POST abc");
    let seen = server.seen().pop().unwrap();
    assert_eq!(seen.header("host"), Some(format!("127.0.0.1:{}", server.port).as_str()));
    assert_eq!(seen.header("content-length"), Some("3"));
    assert_eq!((seen.header("transfer-encoding"), seen.header("upgrade")), (None, None));
    assert_eq!(seen.header("x-kept"), Some("yes"));

    for (name, value) in [("X-Split", "a\r\nInjected: 1"), ("Bad Name", "v"), ("", "v")] {
        let mut req = request(Method::GET, &server.url("/echo"));
        req.headers = vec![(name.into(), value.into())];
        let error = requester.send(req).await.unwrap_err();
        assert!(matches!(error, FetchError::InvalidHeader(_)), "{name:?}: {error:?}");
    }
    assert_eq!(server.seen().len(), 1, "invalid requests are never sent");
}

#[tokio::test]
async fn any_status_is_a_response() {
    let server = echo().await;
    let requester = requester(LAX);
    let got = requester
        .send(request(Method::GET, &server.url("/missing")))
        .await
        .unwrap();
    assert_eq!((got.status, &got.body[..]), (404, &b"no such thing"[..]));
    let got = requester
        .send(request(Method::POST, &server.url("/broken")))
        .await
        .unwrap();
    assert_eq!(got.status, 503);
    assert!(got.headers.contains(&("retry-after".into(), "5".into())));
    let got = requester
        .send(request(Method::GET, &server.url("/not-modified")))
        .await
        .unwrap();
    assert_eq!((got.status, got.body.len()), (304, 0));
}

#[tokio::test]
async fn redirects_follow_http_method_rules() {
    let server = echo().await;
    let requester = requester(LAX);
    let mut post = request(Method::POST, &server.url("/see-other"));
    post.body = Some(Bytes::from_static(b"form"));
    let got = requester.send(post.clone()).await.unwrap();
    assert_eq!(&got.body[..], b"GET ", "303 turns a POST into a GET without body");
    post.url = server.url("/temporary");
    let got = requester.send(post).await.unwrap();
    assert_eq!(&got.body[..], b"POST form", "307 keeps the method and the body");
    let error = requester
        .send(request(Method::GET, &server.url("/to-ftp")))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::NotAllowed(Refused::Scheme("ftp".into())));
}

#[tokio::test]
async fn response_bodies_are_capped() {
    let server = echo().await;
    let requester = requester(LAX);
    let mut req = request(Method::GET, &server.url("/big"));
    req.max_response_bytes = 2048;
    assert_eq!(
        requester.send(req.clone()).await.unwrap().body.len(),
        2048,
        "exactly at the cap fits"
    );
    req.max_response_bytes = 2047;
    assert_eq!(
        requester.send(req).await.unwrap_err(),
        FetchError::TooLarge { limit: 2047 }
    );
    let req = request(Method::GET, &server.url("/huge-length"));
    assert_eq!(
        requester.send(req).await.unwrap_err(),
        FetchError::TooLarge { limit: 1024 }
    );
    let mut req = request(Method::GET, &server.url("/endless"));
    req.max_response_bytes = 4096;
    assert_eq!(
        requester.send(req).await.unwrap_err(),
        FetchError::TooLarge { limit: 4096 }
    );
}

#[tokio::test]
async fn slow_servers_time_out() {
    let server = echo().await;
    let requester = requester(LAX);
    let mut req = request(Method::GET, &server.url("/never"));
    req.timeout = Duration::from_millis(300);
    let started = Instant::now();
    assert_eq!(requester.send(req).await.unwrap_err(), FetchError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // The timeout is per request: the next one, with more time, succeeds.
    assert_eq!(
        requester
            .send(request(Method::GET, &server.url("/echo")))
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn the_allow_list_is_checked_on_the_url_and_every_redirect_hop() {
    let server = echo().await;
    let requester = requester(LAX);
    let only_literal = |host: &str| host == "127.0.0.1";

    let got = requester
        .send_allowed(request(Method::GET, &server.url("/echo")), only_literal)
        .await
        .unwrap();
    assert_eq!(got.status, 200);

    let error = requester
        .send_allowed(request(Method::GET, &server.url("/echo")), |_: &str| false)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::NotAllowed(Refused::NotListed {
            host: "127.0.0.1".into()
        })
    );
    assert_eq!(server.seen().len(), 1, "a refused host is never contacted");

    // The first hop is allowed, the redirect to `localhost` is not.
    let hop = server.url(&format!("/to-localhost/{}", server.port));
    let error = requester
        .send_allowed(request(Method::GET, &hop), only_literal)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::NotAllowed(Refused::NotListed {
            host: "localhost".into()
        })
    );
    assert_eq!(
        server.paths(),
        ["/echo", &hop[hop.find("/to").unwrap()..]],
        "the refused hop was not requested"
    );

    // Allowing both follows the redirect; `send` alone has no allow-list.
    let both = |host: &str| host == "127.0.0.1" || host == "localhost";
    assert_eq!(
        requester
            .send_allowed(request(Method::GET, &hop), both)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(requester.send(request(Method::GET, &hop)).await.unwrap().status, 200);
}

#[tokio::test]
async fn the_policy_refuses_before_any_connection() {
    let server = echo().await;
    let requester = requester(STRICT);
    let anything = |_: &str| true;
    let literal = requester
        .send_allowed(request(Method::POST, &server.url("/echo")), anything)
        .await
        .unwrap_err();
    assert!(
        matches!(literal, FetchError::NotAllowed(Refused::Address { .. })),
        "{literal:?}"
    );
    let named = format!("http://localhost:{}/echo", server.port);
    let named = requester.send(request(Method::GET, &named)).await.unwrap_err();
    assert!(
        matches!(&named, FetchError::NotAllowed(Refused::Resolved { host, .. }) if host == "localhost"),
        "{named:?}"
    );
    assert!(server.seen().is_empty(), "the server was never reached");

    for (url, expected) in [
        (
            "ftp://example.com/",
            FetchError::NotAllowed(Refused::Scheme("ftp".into())),
        ),
        (
            "http://user:pw@example.com/",
            FetchError::NotAllowed(Refused::Credentials),
        ),
        ("not a url", FetchError::InvalidUrl),
    ] {
        assert_eq!(
            requester.send(request(Method::GET, url)).await.unwrap_err(),
            expected,
            "{url}"
        );
    }
}
