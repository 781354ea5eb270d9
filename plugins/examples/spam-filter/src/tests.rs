//! Each rule drops what it should and nothing else.

use wasap_plugin::testing::{self, message_event, text_message};
use wasap_plugin::{Event, Outcome, Verdict};

use super::*;

const CONFIG: &str = r#"{
    "allowed_senders": ["628999"],
    "blocked_senders": ["628666", "120363@g.us"],
    "blocked_words": ["Casino", "free money"],
    "max_links": 1,
    "drop_forwarded": true,
    "max_per_minute": 3
}"#;

fn filter() -> SpamFilter {
    SpamFilter::init(CONFIG).unwrap()
}

fn text(sender: &str, text: &str) -> Message {
    text_message(&format!("{sender}@s.whatsapp.net"), text)
}

#[test]
fn each_rule_gives_its_reason() {
    let mut filter = filter();
    let mut forwarded = text("6281", "look");
    forwarded.forwarded = true;
    let cases = [
        (text("628666", "hello"), Some(Reason::BlockedSender)),
        (
            text("6281", "Best CASINO in town"),
            Some(Reason::BlockedWord("casino".into())),
        ),
        (
            text("6281", "get FREE MONEY now"),
            Some(Reason::BlockedWord("free money".into())),
        ),
        (
            text("6281", "see https://a.example and www.b.example"),
            Some(Reason::TooManyLinks(2)),
        ),
        (text("6281", "one link https://a.example is fine"), None),
        (forwarded, Some(Reason::Forwarded)),
        (text("628999", "casino, but allowed"), None),
        (text("6282", "hello"), None),
    ];
    for (i, (message, expected)) in cases.into_iter().enumerate() {
        assert_eq!(filter.verdict(&message, i as i64 * MINUTE_US), expected, "case {i}");
    }
}

#[test]
fn floods_are_cut_per_sender_per_minute() {
    let mut filter = filter();
    let a = text("6281", "hi");
    let b = text("6282", "hi");
    let second = 1_000_000;
    for i in 0..3 {
        assert_eq!(filter.verdict(&a, i * second), None);
    }
    assert_eq!(filter.verdict(&a, 3 * second), Some(Reason::Flood));
    assert_eq!(filter.verdict(&b, 3 * second), None, "other senders are not affected");
    // A minute after the first messages the window has room again.
    assert_eq!(filter.verdict(&a, MINUTE_US + 2 * second), None);
}

#[test]
fn drops_become_the_drop_verdict_and_are_logged() {
    testing::reset();
    let spam = message_event(text("628666", "x"));
    let ham = message_event(text("6281", "x"));
    let mut system = ham.clone();
    system.kind = EventKind::System {
        message: "casino".into(),
    };
    let outcomes = testing::run::<SpamFilter>(CONFIG, vec![spam, ham, system]).unwrap();
    let verdicts: Vec<_> = outcomes.iter().map(|o| o.verdict.clone()).collect();
    assert_eq!(verdicts, [Verdict::Drop, Verdict::Continue, Verdict::Continue]);
    assert!(outcomes.iter().all(|o| o.actions.is_empty()));
    assert_eq!(testing::logs().len(), 1);
}

#[test]
fn own_messages_pass_and_an_empty_config_passes_everything() {
    let mut own = text("628666", "casino");
    own.from_me = true;
    assert_eq!(filter().verdict(&own, 0), None);
    let events: Vec<Event> = vec![message_event(text("628666", "casino https://a https://b"))];
    let outcomes = testing::run::<SpamFilter>("{}", events).unwrap();
    assert_eq!(outcomes, [Outcome::cont()]);
    assert!(SpamFilter::init(r#"{"max_links": "two"}"#).is_err());
}
