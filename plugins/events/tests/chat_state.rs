//! Golden tests of the `chat_state` kind, which neither seed document has: its payloads in
//! both formats are wasap's own (see `sudevwa.rs` and `gowa.rs` for the rules they
//! follow), pinned in `tests/fixtures/chat_state/` so that changing one is a deliberate
//! edit of a fixture, not a side effect.

use serde_json::Value;
use wasap_events::{ChatState, ChatStateChange, Event, EventKind, gowa, sudevwa};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/chat_state/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 2026-03-01T10:30:00Z.
const AT_S: i64 = 1_772_361_000;

fn event(change: ChatStateChange) -> Event {
    Event {
        id: "evt-1".into(),
        instance_id: "instance123".into(),
        at_us: AT_S * 1_000_000 + 500_000,
        kind: EventKind::ChatState(change),
    }
}

fn direct(state: ChatState) -> Event {
    event(ChatStateChange {
        sender_phone: None,
        chat: "6281234567890@s.whatsapp.net".into(),
        sender: "6281234567890@s.whatsapp.net".into(),
        sender_lid: None,
        is_group: false,
        state,
        timestamp: AT_S,
    })
}

fn group_recording() -> Event {
    event(ChatStateChange {
        sender_phone: Some("6289685000000".into()),
        chat: "120363402106000000@g.us".into(),
        sender: "6289685000000@s.whatsapp.net".into(),
        sender_lid: Some("251556368777322@lid".into()),
        is_group: true,
        state: ChatState::Recording,
        timestamp: AT_S,
    })
}

#[test]
fn sudevwa_chat_states() {
    assert_eq!(
        sudevwa::format(&direct(ChatState::Typing)).unwrap(),
        fixture("sudevwa_typing")
    );
    assert_eq!(
        sudevwa::format(&group_recording()).unwrap(),
        fixture("sudevwa_group_recording")
    );
    let paused = sudevwa::format(&direct(ChatState::Paused)).unwrap();
    assert_eq!(paused["data"]["state"], "paused");
}

#[test]
fn gowa_chat_presence() {
    assert_eq!(
        gowa::format(&direct(ChatState::Typing)).unwrap(),
        fixture("gowa_typing")
    );
    assert_eq!(
        gowa::format(&group_recording()).unwrap(),
        fixture("gowa_group_recording")
    );
    assert_eq!(
        gowa::format(&direct(ChatState::Paused)).unwrap(),
        fixture("gowa_paused")
    );
}

#[test]
fn every_name_of_the_kind_stands_for_it() {
    for name in ["chat_state", "chat.state", "chat_presence"] {
        assert_eq!(EventKind::kind_name(name), Some("chat_state"), "{name}");
    }
    let event = direct(ChatState::Typing);
    assert_eq!(event.name(), "chat_state");
    assert_eq!(sudevwa::event_name(&event), Some("chat.state"));
    assert_eq!(gowa::format(&event).unwrap()["event"], "chat_presence");
}

#[test]
fn bytes_and_values_agree() {
    for event in [direct(ChatState::Paused), group_recording()] {
        let sudevwa_bytes: Value = serde_json::from_slice(&sudevwa::to_vec(&event).unwrap()).unwrap();
        assert_eq!(sudevwa_bytes, sudevwa::format(&event).unwrap());
        let gowa_bytes: Value = serde_json::from_slice(&gowa::to_vec(&event).unwrap()).unwrap();
        assert_eq!(gowa_bytes, gowa::format(&event).unwrap());
    }
}
