//! Fetches against loopback servers that each test starts ([`super::loopback`]).

use std::time::Duration;

use tokio::net::TcpListener;

use super::loopback::{Reply, Server, response};
use super::*;

const LAX: UrlPolicy = UrlPolicy { allow_private: true };
const STRICT: UrlPolicy = UrlPolicy { allow_private: false };

fn fetcher(policy: UrlPolicy) -> Fetcher {
    Fetcher::new(policy, Duration::from_secs(10)).unwrap()
}

fn redirect(location: &str) -> Reply {
    loopback::redirect("302 Found", location)
}

async fn files() -> Server {
    Server::start(|seen| match seen.path.split('?').next().unwrap_or("/") {
        "/files/report%20Q1.pdf" => response(
            "200 OK",
            &[("Content-Type", "Application/PDF; charset=binary")],
            b"%PDF-1.7 body",
        ),
        "/named" => response(
            "200 OK",
            &[
                ("Content-Type", "image/png"),
                ("Content-Disposition", "attachment; filename=\"cat photo.png\""),
            ],
            b"\x89PNG\r\n\x1a\n",
        ),
        "/untyped/" => response("200 OK", &[], b"no type"),
        "/huge-length" => Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\nshort".to_vec()),
        "/endless" => Reply::Chunked {
            size: 1024,
            count: 10_000,
        },
        "/small-chunked" => Reply::Chunked { size: 100, count: 3 },
        "/never" => Reply::Stall(Vec::new()),
        "/half" => Reply::Stall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst half".to_vec()),
        "/to-ftp" => redirect("ftp://example.com/file.jpg"),
        "/to-file" => redirect("file:///etc/passwd"),
        p if p.starts_with("/hop/") => match p["/hop/".len()..].parse::<u32>() {
            Ok(0) => response("200 OK", &[("Content-Type", "text/plain")], b"arrived"),
            Ok(n) => redirect(&format!("/hop/{}", n - 1)),
            Err(_) => response("400 Bad Request", &[], b""),
        },
        _ => response("404 Not Found", &[("Content-Type", "text/plain")], b"no such file"),
    })
    .await
}

#[tokio::test]
async fn fetches_bytes_type_and_name() {
    let server = files().await;
    let fetcher = fetcher(LAX);
    let got = fetcher
        .fetch(&server.url("/files/report%20Q1.pdf?token=secret"), 1024)
        .await
        .unwrap();
    assert_eq!(&got.data[..], b"%PDF-1.7 body");
    assert_eq!(got.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(got.file_name.as_deref(), Some("report Q1.pdf"));

    let got = fetcher.fetch(&server.url("/named"), 1024).await.unwrap();
    assert_eq!(
        got.file_name.as_deref(),
        Some("cat photo.png"),
        "Content-Disposition wins"
    );
    assert_eq!(got.mime_type.as_deref(), Some("image/png"));

    let got = fetcher.fetch(&server.url("/untyped/"), 1024).await.unwrap();
    assert_eq!((got.mime_type, got.file_name.as_deref()), (None, Some("untyped")));

    let got = fetcher.fetch(&server.url("/small-chunked"), 300).await.unwrap();
    assert_eq!(got.data.len(), 300, "a chunked body exactly at the cap fits");
}

#[tokio::test]
async fn non_success_statuses_are_errors() {
    let server = files().await;
    assert_eq!(
        fetcher(LAX).fetch(&server.url("/missing.jpg"), 1024).await.unwrap_err(),
        FetchError::Status(404)
    );
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let server = files().await;
    let fetcher = fetcher(LAX);
    // Refused from the header: the body (shorter than it claims) is never read.
    assert_eq!(
        fetcher.fetch(&server.url("/huge-length"), 4096).await.unwrap_err(),
        FetchError::TooLarge { limit: 4096 }
    );
    // No length: cut off while streaming, long before the 10 MB end.
    assert_eq!(
        fetcher.fetch(&server.url("/endless"), 4096).await.unwrap_err(),
        FetchError::TooLarge { limit: 4096 }
    );
    assert_eq!(
        fetcher.fetch(&server.url("/small-chunked"), 299).await.unwrap_err(),
        FetchError::TooLarge { limit: 299 }
    );
}

#[tokio::test]
async fn slow_servers_time_out() {
    let server = files().await;
    let fetcher = Fetcher::new(LAX, Duration::from_millis(300)).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        fetcher.fetch(&server.url("/never"), 1024).await.unwrap_err(),
        FetchError::Timeout
    );
    assert_eq!(
        fetcher.fetch(&server.url("/half"), 1024).await.unwrap_err(),
        FetchError::Timeout,
        "the body counts too"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn redirects_are_followed_at_most_five_times() {
    let server = files().await;
    let fetcher = fetcher(LAX);
    let got = fetcher.fetch(&server.url("/hop/5"), 1024).await.unwrap();
    assert_eq!(&got.data[..], b"arrived");
    assert_eq!(got.file_name.as_deref(), Some("0"), "the name comes from the final URL");
    assert_eq!(
        fetcher.fetch(&server.url("/hop/6"), 1024).await.unwrap_err(),
        FetchError::TooManyRedirects { max: MAX_REDIRECTS }
    );
}

#[tokio::test]
async fn redirects_to_other_schemes_are_refused() {
    let server = files().await;
    let fetcher = fetcher(LAX);
    for (path, scheme) in [("/to-ftp", "ftp"), ("/to-file", "file")] {
        let error = fetcher.fetch(&server.url(path), 1024).await.unwrap_err();
        assert_eq!(error, FetchError::NotAllowed(Refused::Scheme(scheme.into())), "{path}");
    }
}

/// A strict fetcher cannot reach a loopback server to be redirected by it, so
/// the per-hop check (the function the client's redirect policy runs) is
/// tested directly.
#[test]
fn every_redirect_hop_is_checked_by_the_policy() {
    let url = |s: &str| reqwest::Url::parse(s).unwrap();
    assert_eq!(check_redirect(&STRICT, &url("https://cdn.example/a.jpg"), 1), Ok(()));
    assert_eq!(
        check_redirect(&STRICT, &url("https://cdn.example/a.jpg"), MAX_REDIRECTS),
        Ok(())
    );
    assert_eq!(
        check_redirect(&STRICT, &url("https://cdn.example/a.jpg"), MAX_REDIRECTS + 1),
        Err(FetchError::TooManyRedirects { max: MAX_REDIRECTS })
    );
    for refused in [
        "http://127.0.0.1/",
        "http://[::ffff:10.0.0.1]/",
        "http://169.254.169.254/",
        "ftp://cdn.example/a",
    ] {
        assert!(
            matches!(
                check_redirect(&STRICT, &url(refused), 1),
                Err(FetchError::NotAllowed(_))
            ),
            "{refused}"
        );
    }
    assert_eq!(check_redirect(&LAX, &url("http://127.0.0.1/"), 1), Ok(()));
}

#[tokio::test]
async fn loopback_is_refused_by_a_strict_policy_before_any_connection() {
    let server = files().await;
    let fetcher = fetcher(STRICT);
    let literal = fetcher.fetch(&server.url("/named"), 1024).await.unwrap_err();
    assert!(
        matches!(literal, FetchError::NotAllowed(Refused::Address { .. })),
        "{literal:?}"
    );
    let port = server.port;
    let named = fetcher
        .fetch(&format!("http://localhost:{port}/named"), 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(&named, FetchError::NotAllowed(Refused::Resolved { host, .. }) if host == "localhost"),
        "{named:?}"
    );
    assert_eq!(server.connections(), 0, "the server was never reached");
}

#[tokio::test]
async fn bad_urls_and_dead_servers() {
    let fetcher = fetcher(LAX);
    for bad in ["not a url", "http://", "/relative/path.jpg", ""] {
        assert_eq!(
            fetcher.fetch(bad, 1024).await.unwrap_err(),
            FetchError::InvalidUrl,
            "{bad:?}"
        );
    }
    let refused = fetcher.fetch("gopher://example.com/", 1024).await.unwrap_err();
    assert_eq!(refused, FetchError::NotAllowed(Refused::Scheme("gopher".into())));
    let credentials = fetcher.fetch("http://user:pw@127.0.0.1:9/", 1024).await.unwrap_err();
    assert_eq!(credentials, FetchError::NotAllowed(Refused::Credentials));

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let error = fetcher
        .fetch(&format!("http://{addr}/x?secret=1"), 1024)
        .await
        .unwrap_err();
    let FetchError::Transport(message) = error else {
        panic!("{error:?}")
    };
    assert!(!message.contains("secret"), "no URL in the message: {message}");
}
