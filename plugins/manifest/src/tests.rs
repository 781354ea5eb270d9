//! Manifest parsing, defaults and refusals.

use super::*;

const FULL: &str = r#"
name = "auto-reply"
version = "0.1.0"
events = ["message"]
instances = ["main", "support"]
order = 10
failure = "closed"

[capabilities]
log = true
kv = true
http = ["api.example.com", "*.example.org"]
send = true
moderate = true
webhook = { subscribers = true }
publish = ["instance"]

[limits]
fuel = 1_000
deadline_ms = 50
memory_mb = 8

[config]
greeting = "hi"
rules = [{ keywords = ["price"], reply = "cheap" }]
"#;

#[test]
fn a_full_manifest_parses() {
    let manifest = Manifest::parse(FULL).unwrap();
    assert_eq!(manifest.name, "auto-reply");
    assert_eq!(manifest.order, 10);
    assert_eq!(manifest.failure, FailurePolicy::Closed);
    assert!(manifest.runs_for("main") && !manifest.runs_for("other"));
    assert!(manifest.wants_event("message") && !manifest.wants_event("receipt"));
    assert_eq!(manifest.limits.memory_mb, 8);
    assert_eq!(manifest.capabilities.publish, [ChannelKind::Instance]);
    assert!(manifest.capabilities.send && manifest.capabilities.moderate);
    let config: serde_json::Value = serde_json::from_str(&manifest.config_json()).unwrap();
    assert_eq!(config["rules"][0]["keywords"][0], "price");
}

#[test]
fn a_minimal_manifest_gets_the_defaults() {
    let manifest = Manifest::parse("name = \"x\"\nversion = \"1\"\nevents = [\"*\"]").unwrap();
    assert_eq!(manifest.instances, ["*"]);
    assert_eq!(manifest.order, 100);
    assert_eq!(manifest.failure, FailurePolicy::Open);
    assert_eq!(manifest.limits, Limits::default());
    assert_eq!(manifest.capabilities, Capabilities::default());
    assert!(
        !manifest.capabilities.send && !manifest.capabilities.moderate,
        "actions are denied by default"
    );
    assert_eq!(manifest.config_json(), "{}");
    assert!(manifest.wants_event("receipt") && manifest.runs_for("any"));
}

#[test]
fn imports_are_granted_one_by_one() {
    let manifest = Manifest::parse(FULL).unwrap();
    let caps = &manifest.capabilities;
    assert!(caps.grants_import("wasap:plugin/types@0.1.0"));
    assert!(caps.grants_import("wasap:plugin/log@0.1.0"));
    assert!(caps.grants_import("wasap:plugin/kv@0.1.0"));
    assert!(!caps.grants_import("wasap:plugin/clock@0.1.0"));
    assert!(caps.grants_import("wasap:plugin/http@0.1.0"));
    assert!(!caps.grants_import("wasi:cli/environment@0.2.0"));
    assert!(!Capabilities::default().grants_import("wasap:plugin/http@0.1.0"));
}

#[test]
fn hosts_match_exactly_or_by_subdomain() {
    let list = vec!["api.example.com".to_owned(), "*.example.org".to_owned()];
    assert!(Capabilities::host_allowed(&list, "API.example.com"));
    assert!(!Capabilities::host_allowed(&list, "evil-api.example.com"));
    assert!(Capabilities::host_allowed(&list, "a.b.example.org"));
    assert!(!Capabilities::host_allowed(&list, "example.org"));
    assert!(!Capabilities::host_allowed(&list, "badexample.org"));
}

#[test]
fn urls_match_the_scheme_and_port_too() {
    let list = vec!["api.example.com".to_owned(), "http://127.0.0.1:8080".to_owned()];
    assert!(Capabilities::url_allowed(&list, "https", "api.example.com", None));
    assert!(!Capabilities::url_allowed(&list, "http", "api.example.com", None));
    assert!(!Capabilities::url_allowed(&list, "https", "api.example.com", Some(25)));
    assert!(Capabilities::url_allowed(&list, "http", "127.0.0.1", Some(8080)));
    assert!(!Capabilities::url_allowed(&list, "http", "127.0.0.1", Some(22)));
    assert!(
        Manifest::parse(
            "name = \"x\"\nversion = \"1\"\nevents = [\"*\"]\n[capabilities]\nhttp = [\"http://a.com:81\"]"
        )
        .is_ok()
    );
}

#[test]
fn bad_manifests_are_refused_with_a_reason() {
    for (text, reason) in [
        ("name = \"Bad Name\"\nversion = \"1\"\nevents = [\"*\"]", "name"),
        ("name = \"x\"\nversion = \"1\"\nevents = []", "events is empty"),
        (
            "name = \"x\"\nversion = \"1\"\nevents = [\"messages\"]",
            "unknown event kind",
        ),
        (
            "name = \"x\"\nversion = \"1\"\nevents = [\"*\"]\n[limits]\nfuel = 0",
            "limits",
        ),
        (
            "name = \"x\"\nversion = \"1\"\nevents = [\"*\"]\n[capabilities]\nhttp = [\"https://a.com/path\"]",
            "not an allow-list entry",
        ),
        (
            "name = \"x\"\nversion = \"1\"\nevents = [\"*\"]\n[capabilities]\nfs = true",
            "unknown field",
        ),
        (
            "name = \"x\"\nversion = \"1\"\nevents = [\"*\"]\nfailure = \"maybe\"",
            "unknown variant",
        ),
    ] {
        let err = Manifest::parse(text).unwrap_err().to_string();
        assert!(err.contains(reason), "{text:?}: {err}");
    }
}
