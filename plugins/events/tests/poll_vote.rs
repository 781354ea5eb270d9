//! Golden tests of the `poll_vote` kind, which neither seed document has: its payloads in
//! both formats are wasap's own (see `sudevwa.rs` and `gowa.rs` for the rules they
//! follow), pinned in `tests/fixtures/poll_vote/` so that changing one is a deliberate
//! edit of a fixture, not a side effect.

use serde_json::Value;
use wasap_events::{Event, EventKind, PollTotal, PollVote, gowa, sudevwa};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/poll_vote/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 2026-03-01T10:30:00Z.
const AT_S: i64 = 1_772_361_000;

fn event(vote: PollVote) -> Event {
    Event {
        id: "evt-1".into(),
        instance_id: "instance123".into(),
        at_us: AT_S * 1_000_000 + 500_000,
        kind: EventKind::PollVote(vote),
    }
}

fn totals(counts: &[(&str, u32)]) -> Vec<PollTotal> {
    counts
        .iter()
        .map(|(option, votes)| PollTotal {
            option: (*option).into(),
            votes: *votes,
        })
        .collect()
}

/// A contact picks two options of a poll sent to them.
fn direct() -> Event {
    event(PollVote {
        id: "3EB0A1B2C3D4E5F60001".into(),
        poll_id: "3EB0POLL000000000001".into(),
        chat: "6281234567890@s.whatsapp.net".into(),
        voter: "6281234567890@s.whatsapp.net".into(),
        voter_lid: None,
        voter_phone: Some("6281234567890".into()),
        push_name: Some("John Doe".into()),
        is_group: false,
        timestamp: AT_S,
        selected: vec!["Egg".into(), "Tofu".into()],
        totals: totals(&[("Egg", 1), ("Chili", 0), ("Tofu", 1)]),
    })
}

/// A group member named by LID withdraws their vote.
fn group_withdrawn() -> Event {
    event(PollVote {
        id: "3EB0A1B2C3D4E5F60002".into(),
        poll_id: "3EB0POLL000000000002".into(),
        chat: "120363402106000000@g.us".into(),
        voter: "6289685000000@s.whatsapp.net".into(),
        voter_lid: Some("251556368777322@lid".into()),
        voter_phone: Some("6289685000000".into()),
        push_name: None,
        is_group: true,
        timestamp: AT_S,
        selected: vec![],
        totals: totals(&[("Mon", 2), ("Tue", 0)]),
    })
}

#[test]
fn sudevwa_poll_votes() {
    assert_eq!(sudevwa::format(&direct()).unwrap(), fixture("sudevwa_direct"));
    assert_eq!(
        sudevwa::format(&group_withdrawn()).unwrap(),
        fixture("sudevwa_group_withdrawn")
    );
}

#[test]
fn gowa_poll_votes() {
    assert_eq!(gowa::format(&direct()).unwrap(), fixture("gowa_direct"));
    assert_eq!(
        gowa::format(&group_withdrawn()).unwrap(),
        fixture("gowa_group_withdrawn")
    );
}

#[test]
fn every_name_of_the_kind_stands_for_it() {
    for name in ["poll_vote", "poll.vote"] {
        assert_eq!(EventKind::kind_name(name), Some("poll_vote"), "{name}");
    }
    let event = direct();
    assert_eq!(event.name(), "poll_vote");
    assert_eq!(sudevwa::event_name(&event), Some("poll.vote"));
}

#[test]
fn the_canonical_form_round_trips() {
    for event in [direct(), group_withdrawn()] {
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
        let sudevwa_bytes: Value = serde_json::from_slice(&sudevwa::to_vec(&event).unwrap()).unwrap();
        assert_eq!(sudevwa_bytes, sudevwa::format(&event).unwrap());
        let gowa_bytes: Value = serde_json::from_slice(&gowa::to_vec(&event).unwrap()).unwrap();
        assert_eq!(gowa_bytes, gowa::format(&event).unwrap());
    }
}
