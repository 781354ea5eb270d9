//! Telling a component's version, and running plugins of both versions
//! through one face: the committed `probe` (built against the current
//! version) and the frozen 0.1.0 build of it (`tests/components/v0.1.0/`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::events::{Content, Event, EventKind, Message, new_event};
use crate::outbound::{Requester, UrlPolicy};
use crate::plugins::engine::PluginEngine;
use crate::plugins::loader;
use crate::plugins::runner::{HostServices, RunningPlugin};
use crate::store::Store;

const CHAT: &str = "6281234567890@s.whatsapp.net";

#[test]
fn the_imports_name_the_version() {
    let v01 = ["wasap:plugin/types@0.1.0", "wasap:plugin/log@0.1.0"];
    assert_eq!(WorldVersion::of_imports(v01), Ok(WorldVersion::V0_1));
    assert_eq!(
        WorldVersion::of_imports(["wasap:plugin/types@0.2.0"]),
        Ok(WorldVersion::V0_2)
    );
    assert_eq!(
        WorldVersion::of_imports(["wasap:plugin/types@0.3.0"]),
        Ok(WorldVersion::V0_3)
    );
    // Foreign imports do not count (the loader refuses them by capability).
    assert_eq!(
        WorldVersion::of_imports(["wasi:cli/stdout@0.2.0", "wasap:plugin/types@0.1.0"]),
        Ok(WorldVersion::V0_1)
    );
    assert_eq!(WorldVersion::of_imports([]), Ok(WorldVersion::CURRENT));
}

#[test]
fn unknown_and_mixed_versions_are_refused_with_what_is_supported() {
    let unknown = WorldVersion::of_imports(["wasap:plugin/types@0.4.0"]).unwrap_err();
    assert_eq!(unknown, VersionError::Unsupported("0.4.0".to_owned()));
    assert!(unknown.to_string().contains("0.1.0, 0.2.0 and 0.3.0"), "{unknown}");
    assert_eq!(
        WorldVersion::of_imports(["wasap:plugin/types@0.2.0", "wasap:plugin/kv@0.1.0"]),
        Err(VersionError::Mixed("0.2.0".to_owned(), "0.1.0".to_owned()))
    );
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(text: &str) -> Event {
    new_event(
        "shop",
        EventKind::Message(Message {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: "M1".to_owned(),
            chat: CHAT.to_owned(),
            sender: CHAT.to_owned(),
            push_name: None,
            from_me: false,
            is_group: false,
            timestamp: 1_700_000_000,
            content: Content::Text { text: text.to_owned() },
            quoted: None,
            forwarded: false,
            view_once: false,
            ephemeral: None,
        }),
    )
}

/// The probe component at `component` (under the repository's root) in `mode`.
fn probe(component: &str, mode: &str, database: Store) -> Arc<RunningPlugin> {
    let manifest = std::fs::read_to_string(root().join("tests/plugins/probe/probe.toml"))
        .unwrap()
        .replace("mode = \"echo\"", &format!("mode = \"{mode}\""));
    let manifest = wasap_plugin_manifest::Manifest::parse(&manifest).unwrap();
    let bytes = std::fs::read(root().join(component)).unwrap();
    let engine = PluginEngine::shared().unwrap();
    let loaded = loader::load_bytes(engine.engine(), manifest, &bytes, None).unwrap();
    let services = HostServices {
        database,
        requester: Requester::new(UrlPolicy { allow_private: false }).unwrap(),
        kv_max_bytes: 1024,
    };
    Arc::new(RunningPlugin::new(loaded, services))
}

async fn answer(plugin: &RunningPlugin, event: &Event) -> types::Outcome {
    match plugin.handle(&event.clone().into()).await {
        Ok((outcome, _fuel)) => outcome,
        Err((failure, _)) => panic!("the plugin failed: {failure}"),
    }
}

const V0_1_PROBE: &str = "tests/components/v0.1.0/probe.wasm";
const V0_2_PROBE: &str = "tests/components/v0.2.0/probe.wasm";
const PROBE: &str = "tests/components/probe.wasm";

#[tokio::test]
async fn a_plugin_built_against_0_1_runs_with_its_imports_and_its_answers_lifted() {
    let dir = std::env::temp_dir().join(format!("wasap-world-{}", crate::random::hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let database = Store::open(&Store::sqlite_url_in(&dir)).await.unwrap();

    let echo = probe(V0_1_PROBE, "echo", database.clone());
    assert_eq!(echo.loaded.world_version(), WorldVersion::V0_1);
    let outcome = answer(&echo, &text("hi")).await;
    assert!(matches!(outcome.verdict, types::Verdict::Continue));
    match outcome.actions.as_slice() {
        [types::Action::SendText(send)] => {
            assert_eq!(
                (send.to.as_str(), send.text.as_str(), send.reply_to.as_deref()),
                (CHAT, "probe: hi", Some("M1"))
            );
        }
        other => panic!("one reply: {other:?}"),
    }

    // Its kv and clock imports are the 0.2 ones under the 0.1 names.
    let count = probe(V0_1_PROBE, "count", database.clone());
    for _ in 0..2 {
        answer(&count, &text("one more")).await;
    }
    let stored = database.kv_get("probe", &format!("count/{CHAT}")).await.unwrap();
    assert_eq!(stored.as_deref(), Some(&b"2"[..]));

    // Its verdicts, replacements included, come back in the current types.
    let filter = probe(V0_1_PROBE, "drop-spam", database.clone());
    assert!(matches!(
        answer(&filter, &text("spam!")).await.verdict,
        types::Verdict::Drop
    ));
    let forger = probe(V0_1_PROBE, "garbage", database.clone());
    let event = text("hi");
    match answer(&forger, &event).await.verdict {
        types::Verdict::Replace(replaced) => {
            let replaced = Event::from(replaced);
            assert_eq!(replaced.id, format!("{}-forged", event.id));
            assert_eq!(replaced.kind, event.kind);
        }
        _ => panic!("a replacement"),
    }
    database.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_current_probe_is_linked_as_0_3_and_asks_for_the_message_actions() {
    let dir = std::env::temp_dir().join(format!("wasap-world-{}", crate::random::hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let database = Store::open(&Store::sqlite_url_in(&dir)).await.unwrap();
    let actor = probe(PROBE, "actions", database.clone());
    assert_eq!(actor.loaded.world_version(), WorldVersion::V0_3);
    let outcome = answer(&actor, &text("react")).await;
    match outcome.actions.as_slice() {
        [types::Action::React(react)] => {
            assert_eq!((react.message_id.as_str(), react.emoji.as_str()), ("M1", "👍"));
        }
        other => panic!("one reaction: {other:?}"),
    }
    let outcome = answer(&actor, &text("edit 3EB0SENT new words")).await;
    match outcome.actions.as_slice() {
        [types::Action::Edit(edit)] => {
            assert_eq!(
                (edit.message_id.as_str(), edit.text.as_str()),
                ("3EB0SENT", "new words")
            );
        }
        other => panic!("one edit: {other:?}"),
    }
    database.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_component_of_another_version_does_not_load_and_is_told_why() {
    let manifest = std::fs::read_to_string(root().join("tests/plugins/probe/probe.toml")).unwrap();
    let manifest = wasap_plugin_manifest::Manifest::parse(&manifest).unwrap();
    let engine = PluginEngine::shared().unwrap();
    let future = r#"(component (import "wasap:plugin/types@0.4.0" (instance)))"#;
    let refused = loader::load_bytes(engine.engine(), manifest, future.as_bytes(), None).err();
    let why = refused.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        matches!(refused, Some(loader::LoadError::Version(VersionError::Unsupported(ref v))) if v == "0.4.0"),
        "{why}"
    );
    assert!(
        why.contains("wasap:plugin@0.4.0") && why.contains("0.1.0, 0.2.0 and 0.3.0"),
        "{why}"
    );
}

fn chat_state() -> Event {
    new_event(
        "shop",
        EventKind::ChatState(wasap_events::ChatStateChange {
            sender_phone: None,
            chat: CHAT.to_owned(),
            sender: CHAT.to_owned(),
            sender_lid: None,
            is_group: false,
            state: wasap_events::ChatState::Typing,
            timestamp: 1_700_000_000,
        }),
    )
}

#[tokio::test]
async fn a_plugin_built_against_0_2_acts_and_is_not_handed_the_kinds_added_since() {
    let dir = std::env::temp_dir().join(format!("wasap-world-{}", crate::random::hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let database = Store::open(&Store::sqlite_url_in(&dir)).await.unwrap();
    let actor = probe(V0_2_PROBE, "actions", database.clone());
    assert_eq!(actor.loaded.world_version(), WorldVersion::V0_2);
    // Its 0.2 actions come back in the current types.
    match answer(&actor, &text("read")).await.actions.as_slice() {
        [types::Action::MarkRead(read)] => assert_eq!(read.message_ids, ["M1"]),
        other => panic!("one mark-read: {other:?}"),
    }
    // A kind 0.2 lacks passes it by; the 0.3 probe takes the same event.
    for version in [V0_1_PROBE, V0_2_PROBE, PROBE] {
        let forger = probe(version, "garbage", database.clone());
        let outcome = answer(&forger, &chat_state()).await;
        assert!(
            matches!(outcome.verdict, types::Verdict::Continue) && outcome.actions.is_empty(),
            "{version}: {outcome:?}"
        );
    }
    assert!(super::super::convert::event_to_v0_2(&chat_state().into()).is_none());
    assert!(super::super::convert::event_to_v0_1(&chat_state().into()).is_none());
    database.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
