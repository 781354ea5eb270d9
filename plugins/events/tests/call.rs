//! Golden tests of the call kinds (`call_offer`, `call_missed`, `call_ended`) and of
//! `instance_offline`, which neither seed document has: their payloads are wasap's own (see
//! `sudevwa.rs` and `gowa.rs` for the rules they follow), pinned in `tests/fixtures/call/`
//! so that changing one is a deliberate edit of a fixture, not a side effect.

use serde_json::Value;
use wasap_events::{Call, Event, EventKind, InstanceStatus, gowa, sudevwa};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/call/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 2026-03-01T10:30:00Z.
const AT_S: i64 = 1_772_361_000;

fn event(kind: EventKind) -> Event {
    Event {
        id: "evt-1".into(),
        instance_id: "instance123".into(),
        at_us: AT_S * 1_000_000 + 500_000,
        kind,
    }
}

fn voice_call() -> Call {
    Call {
        id: "CALL5A7E0C1D".into(),
        from: "6281234567890@s.whatsapp.net".into(),
        from_lid: Some("251556368777322@lid".into()),
        from_phone: Some("6281234567890".into()),
        group: None,
        is_video: false,
        is_group: false,
        timestamp: AT_S,
        reason: None,
        auto_rejected: true,
    }
}

fn group_video_call() -> Call {
    Call {
        id: "CALL9F00B2".into(),
        from: "6289685000000@s.whatsapp.net".into(),
        from_lid: None,
        from_phone: Some("6289685000000".into()),
        group: Some("120363402106000000@g.us".into()),
        is_video: true,
        is_group: true,
        timestamp: AT_S,
        reason: Some("timeout".into()),
        auto_rejected: false,
    }
}

#[test]
fn sudevwa_calls() {
    assert_eq!(
        sudevwa::format(&event(EventKind::CallOffer(voice_call()))).unwrap(),
        fixture("sudevwa_offer")
    );
    assert_eq!(
        sudevwa::format(&event(EventKind::CallMissed(group_video_call()))).unwrap(),
        fixture("sudevwa_group_missed")
    );
    let ended = Call {
        reason: Some("accepted_elsewhere".into()),
        auto_rejected: false,
        ..voice_call()
    };
    let ended = sudevwa::format(&event(EventKind::CallEnded(ended))).unwrap();
    assert_eq!(ended["event"], "call.ended");
    assert_eq!(ended["data"]["reason"], "accepted_elsewhere");
}

#[test]
fn gowa_calls() {
    assert_eq!(
        gowa::format(&event(EventKind::CallOffer(voice_call()))).unwrap(),
        fixture("gowa_offer")
    );
    assert_eq!(
        gowa::format(&event(EventKind::CallMissed(group_video_call()))).unwrap(),
        fixture("gowa_group_missed")
    );
    let ended = gowa::format(&event(EventKind::CallEnded(voice_call()))).unwrap();
    assert_eq!(ended["event"], "call.ended");
}

#[test]
fn instance_offline_is_a_sudevwa_lifecycle_event_only() {
    let offline = event(EventKind::Offline {
        status: InstanceStatus::Disconnected,
        offline_secs: 301,
        reason: Some("connection dropped: stream error 503".into()),
    });
    assert_eq!(sudevwa::format(&offline).unwrap(), fixture("sudevwa_offline"));
    assert_eq!(gowa::format(&offline), None, "lifecycle events have no gowa payload");
}

#[test]
fn the_call_kinds_round_trip_through_serde_by_name() {
    for kind in [
        EventKind::CallOffer(voice_call()),
        EventKind::CallMissed(group_video_call()),
        EventKind::CallEnded(voice_call()),
    ] {
        let event = event(kind);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"]["type"], event.name());
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
        assert_eq!(
            EventKind::kind_name(&event.name().replacen('_', ".", 1)),
            Some(event.name())
        );
    }
}
