//! The chain's quarantine policy, on the committed `probe` test component in
//! `trap` mode: an installed plugin is quarantined after repeated failures, a
//! built-in output never is. And the checks of the actions on messages and
//! chats and of a send to queue: capability `send`, an instance to act from, a
//! bounded mark-read; and of the moderation actions: capability `moderate`, an
//! instance, bounded participants, a call id.

use std::path::Path;

use super::*;
use crate::events::{Content, EventKind, Message, new_event};
use crate::outbound::{Requester, UrlPolicy};
use crate::plugins::engine::PluginEngine;
use crate::plugins::loader;
use crate::plugins::runner::HostServices;
use crate::store::Store;

fn message() -> Event {
    new_event(
        "shop",
        EventKind::Message(Message {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: "M1".to_owned(),
            chat: "6281234567890@s.whatsapp.net".to_owned(),
            sender: "6281234567890@s.whatsapp.net".to_owned(),
            push_name: None,
            from_me: false,
            is_group: false,
            timestamp: 1_700_000_000,
            content: Content::Text { text: "hi".to_owned() },
            quoted: None,
            forwarded: false,
            view_once: false,
            ephemeral: None,
        }),
    )
}

/// The probe in `trap` mode, as a built-in output or not.
async fn trapping_probe(builtin: bool, database: Store) -> Arc<RunningPlugin> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = std::fs::read_to_string(root.join("tests/plugins/probe/probe.toml"))
        .unwrap()
        .replace("mode = \"echo\"", "mode = \"trap\"");
    let manifest = Manifest::parse(&manifest).unwrap();
    let bytes = std::fs::read(root.join("tests/components/probe.wasm")).unwrap();
    let engine = PluginEngine::shared().unwrap();
    let mut loaded = loader::load_bytes(engine.engine(), manifest, &bytes, None).unwrap();
    loaded.builtin = builtin;
    let services = HostServices {
        database,
        requester: Requester::new(UrlPolicy { allow_private: false }).unwrap(),
        kv_max_bytes: 1024,
    };
    Arc::new(RunningPlugin::new(loaded, services))
}

#[tokio::test]
async fn a_builtin_output_is_never_quarantined_an_installed_plugin_is() {
    let dir = std::env::temp_dir().join(format!("wasap-chain-{}", crate::random::hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let database = Store::open(&Store::sqlite_url_in(&dir)).await.unwrap();
    for builtin in [false, true] {
        let plugin = trapping_probe(builtin, database.clone()).await;
        let chain = Chain::default();
        chain.set(vec![plugin.clone()]);
        let mut quarantined_at = None;
        for i in 1..=QUARANTINE_AFTER + 2 {
            let outcome = chain.run(message()).await;
            let Some(failure) = outcome.failures.first() else {
                // Skipped: quarantined.
                continue;
            };
            assert_eq!(failure.builtin, builtin);
            assert!(matches!(failure.failure, Failure::Trap(_)), "{}", failure.failure);
            if failure.quarantined {
                quarantined_at = Some(i);
            }
        }
        if builtin {
            assert_eq!(quarantined_at, None);
            assert!(!plugin.is_quarantined());
            assert_eq!(plugin.stats.snapshot().errors, u64::from(QUARANTINE_AFTER) + 2);
        } else {
            assert_eq!(quarantined_at, Some(QUARANTINE_AFTER));
            assert!(plugin.is_quarantined());
        }
    }
    database.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every action on an earlier message or a chat, one of each, and a send to queue.
fn message_actions(read_ids: usize) -> Vec<types::Action> {
    vec![
        types::Action::Queue(types::QueuedSend {
            message: types::QueuedMessage::Text(types::SendText {
                to: "6281234567890".to_owned(),
                text: "later".to_owned(),
                reply_to: None,
                mentions: Vec::new(),
                mention_all: false,
                link_preview: None,
            }),
            send_at_us: Some(1_700_000_000_000_000),
        }),
        types::Action::React(types::React {
            message_id: "M1".to_owned(),
            emoji: "👍".to_owned(),
        }),
        types::Action::Edit(types::Edit {
            message_id: "M0".to_owned(),
            text: "new".to_owned(),
        }),
        types::Action::Revoke(types::Revoke {
            message_id: "M0".to_owned(),
        }),
        types::Action::MarkRead(types::MarkRead {
            message_ids: (0..read_ids).map(|i| format!("M{i}")).collect(),
        }),
        types::Action::ChatState(types::SetChatState {
            to: "6281234567890".to_owned(),
            state: types::ChatState::Typing,
        }),
    ]
}

fn outcome(actions: Vec<types::Action>) -> types::Outcome {
    types::Outcome {
        verdict: types::Verdict::Continue,
        actions,
    }
}

fn manifest(send: bool) -> Manifest {
    Manifest::parse(&format!(
        "name = \"actor\"\nversion = \"1\"\nevents = [\"message\"]\n[capabilities]\nsend = {send}\n"
    ))
    .unwrap()
}

#[test]
fn the_actions_on_messages_and_chats_need_send_and_an_instance() {
    let granted = manifest(true);
    let (_, actions) = check(&granted, &message(), outcome(message_actions(1))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(actions.len(), 6);
    for action in message_actions(1) {
        let refused = check(&manifest(false), &message(), outcome(vec![action])).err();
        assert!(
            matches!(&refused, Some(Failure::BadOutput(why)) if why.contains("capabilities.send")),
            "{refused:?}"
        );
    }
    let server_wide = new_event(
        "",
        EventKind::System {
            message: "up".to_owned(),
        },
    );
    for action in message_actions(1) {
        let refused = check(&granted, &server_wide, outcome(vec![action])).err();
        assert!(
            matches!(&refused, Some(Failure::BadOutput(why)) if why.contains("no instance")),
            "{refused:?}"
        );
    }
}

#[test]
fn mark_read_names_one_to_a_hundred_messages() {
    let granted = manifest(true);
    assert!(check(&granted, &message(), outcome(message_actions(100))).is_ok());
    for count in [0, 101] {
        let refused = check(&granted, &message(), outcome(message_actions(count))).err();
        assert!(
            matches!(&refused, Some(Failure::BadOutput(why)) if why.contains(&format!("names {count} messages"))),
            "{refused:?}"
        );
    }
}

/// One of each moderation action, the group change naming `participants` members.
fn moderation_actions(participants: usize) -> Vec<types::Action> {
    vec![
        types::Action::GroupParticipants(types::ChangeParticipants {
            group: "120363402106000703@g.us".to_owned(),
            change: types::ParticipantChange::Remove,
            participants: (0..participants).map(|i| format!("62812000{i:05}")).collect(),
        }),
        types::Action::BlockContact(types::BlockContact {
            contact: "6281234567890".to_owned(),
            blocked: true,
        }),
        types::Action::RejectCall(types::RejectCall {
            call_id: "CALL0123456789ABCDEF".to_owned(),
            caller: "6281234567890@s.whatsapp.net".to_owned(),
        }),
    ]
}

fn moderator(moderate: bool) -> Manifest {
    Manifest::parse(&format!(
        "name = \"moderator\"\nversion = \"1\"\nevents = [\"message\"]\n[capabilities]\nsend = true\nmoderate = {moderate}\n"
    ))
    .unwrap()
}

#[test]
fn moderation_actions_need_moderate_and_an_instance() {
    let (_, actions) =
        check(&moderator(true), &message(), outcome(moderation_actions(1))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(actions.len(), 3);
    // `send` alone does not grant them, and `moderate` does not grant sending.
    for action in moderation_actions(1) {
        let refused = check(&moderator(false), &message(), outcome(vec![action])).err();
        assert!(
            matches!(&refused, Some(Failure::BadOutput(why)) if why.contains("capabilities.moderate")),
            "{refused:?}"
        );
    }
    let only_moderate =
        Manifest::parse("name = \"m\"\nversion = \"1\"\nevents = [\"message\"]\n[capabilities]\nmoderate = true\n")
            .unwrap();
    let refused = check(&only_moderate, &message(), outcome(message_actions(1))).err();
    assert!(
        matches!(&refused, Some(Failure::BadOutput(why)) if why.contains("capabilities.send")),
        "{refused:?}"
    );
    let server_wide = new_event(
        "",
        EventKind::System {
            message: "up".to_owned(),
        },
    );
    for action in moderation_actions(1) {
        let refused = check(&moderator(true), &server_wide, outcome(vec![action])).err();
        assert!(
            matches!(&refused, Some(Failure::BadOutput(why)) if why.contains("no instance")),
            "{refused:?}"
        );
    }
}

#[test]
fn a_group_change_names_one_to_256_participants_and_a_reject_a_call_id() {
    let granted = moderator(true);
    assert!(check(&granted, &message(), outcome(moderation_actions(256))).is_ok());
    for count in [0, 257] {
        let refused = check(&granted, &message(), outcome(moderation_actions(count))).err();
        assert!(
            matches!(&refused, Some(Failure::BadOutput(why)) if why.contains(&format!("names {count} participants"))),
            "{refused:?}"
        );
    }
    let bad_call = types::Action::RejectCall(types::RejectCall {
        call_id: "no spaces!".to_owned(),
        caller: "6281234567890".to_owned(),
    });
    let refused = check(&granted, &message(), outcome(vec![bad_call])).err();
    assert!(
        matches!(&refused, Some(Failure::BadOutput(why)) if why.contains("not a call id")),
        "{refused:?}"
    );
}
