//! The native test doubles behave like the host imports they stand in for.

use wasap_plugin::http::{self, Request, Response};
use wasap_plugin::{clock, kv, testing};

#[test]
fn kv_stores_lists_and_deletes() {
    testing::reset();
    kv::set("main/a", b"1").unwrap();
    kv::set("main/b", "2").unwrap();
    kv::set("other/c", b"3").unwrap();
    assert_eq!(kv::get("main/a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(kv::list_keys("main/", 10).unwrap(), ["main/a", "main/b"]);
    assert_eq!(kv::list_keys("main/", 1).unwrap(), ["main/a"]);
    kv::delete("main/a").unwrap();
    kv::delete("main/a").unwrap();
    assert_eq!(kv::get("main/a").unwrap(), None);
    assert_eq!(kv::set("", b"x"), Err(kv::Error::InvalidKey));

    kv::set_json("count", &41u32).unwrap();
    assert_eq!(kv::get_json::<u32>("count").unwrap(), Some(41));
    assert_eq!(kv::get_json::<Vec<String>>("count").unwrap(), None);
}

#[test]
fn clock_can_be_fixed() {
    testing::set_now_us(1_765_202_224_147_255);
    assert_eq!(clock::now_ms(), 1_765_202_224_147);
    assert_eq!(clock::now_secs(), 1_765_202_224);
}

#[test]
fn logs_are_recorded() {
    testing::reset();
    wasap_plugin::info!("hello {}", 42);
    let logs = testing::logs();
    assert_eq!(logs, [(wasap_plugin::log::Level::Info, "hello 42".to_owned())]);
}

#[test]
fn http_goes_to_the_mock_or_fails() {
    testing::reset();
    assert!(matches!(
        http::fetch(&Request::get("https://example.com/")),
        Err(http::Error::NotAllowed(_))
    ));
    testing::mock_http(|request| {
        Ok(Response {
            status: 201,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: request.body.clone().unwrap_or_default(),
        })
    });
    let response = http::fetch(&Request::post("https://example.com/", "text/plain", "echo")).unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert_eq!(response.text(), Some("echo"));
}
