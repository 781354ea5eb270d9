//! Golden tests of the `group_update` kind (a group's subject, description, settings,
//! photo or invite link changed), which neither seed document has: its payloads in both
//! formats are wasap's own (see `sudevwa.rs` and `gowa.rs`), pinned in
//! `tests/fixtures/group_update/` so that changing one is a deliberate edit of a fixture.

use serde_json::Value;
use wasap_events::{Event, EventKind, GroupUpdate, GroupUpdateKind, gowa, sudevwa};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/group_update/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 2026-03-01T10:30:00Z.
const AT_S: i64 = 1_772_361_000;

fn event(update: GroupUpdate) -> Event {
    Event {
        id: "evt-1".into(),
        instance_id: "instance123".into(),
        at_us: AT_S * 1_000_000 + 500_000,
        kind: EventKind::GroupUpdate(update),
    }
}

fn renamed() -> Event {
    event(GroupUpdate {
        group: "120363402106000000@g.us".into(),
        change: GroupUpdateKind::Subject,
        text: Some("Shop talk".into()),
        enabled: None,
        author: Some("6289685000000@s.whatsapp.net".into()),
        timestamp: AT_S,
    })
}

fn announce_only() -> Event {
    event(GroupUpdate {
        group: "120363402106000000@g.us".into(),
        change: GroupUpdateKind::Announce,
        text: None,
        enabled: Some(true),
        author: None,
        timestamp: AT_S,
    })
}

#[test]
fn sudevwa_group_updates() {
    assert_eq!(sudevwa::format(&renamed()).unwrap(), fixture("sudevwa_subject"));
    assert_eq!(sudevwa::format(&announce_only()).unwrap(), fixture("sudevwa_announce"));
}

#[test]
fn gowa_group_updates() {
    assert_eq!(gowa::format(&renamed()).unwrap(), fixture("gowa_subject"));
    assert_eq!(gowa::format(&announce_only()).unwrap(), fixture("gowa_announce"));
}

#[test]
fn every_name_of_the_kind_stands_for_it() {
    for name in ["group_update", "group.update"] {
        assert_eq!(EventKind::kind_name(name), Some("group_update"), "{name}");
    }
    let event = renamed();
    assert_eq!(event.name(), "group_update");
    assert_eq!(sudevwa::event_name(&event), Some("group.update"));
}

#[test]
fn every_change_has_its_name() {
    let names = [
        (GroupUpdateKind::Subject, "subject"),
        (GroupUpdateKind::Description, "description"),
        (GroupUpdateKind::Announce, "announce"),
        (GroupUpdateKind::Locked, "locked"),
        (GroupUpdateKind::Approval, "approval"),
        (GroupUpdateKind::Photo, "photo"),
        (GroupUpdateKind::InviteLink, "invite_link"),
    ];
    for (kind, name) in names {
        assert_eq!(kind.as_str(), name);
        assert_eq!(serde_json::to_value(kind).unwrap(), name);
    }
}

#[test]
fn bytes_and_values_agree() {
    for event in [renamed(), announce_only()] {
        let sudevwa_bytes: Value = serde_json::from_slice(&sudevwa::to_vec(&event).unwrap()).unwrap();
        assert_eq!(sudevwa_bytes, sudevwa::format(&event).unwrap());
        let gowa_bytes: Value = serde_json::from_slice(&gowa::to_vec(&event).unwrap()).unwrap();
        assert_eq!(gowa_bytes, gowa::format(&event).unwrap());
    }
}
