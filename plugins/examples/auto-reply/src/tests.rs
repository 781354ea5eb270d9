//! The rules, the cooldown and what the bot leaves alone.

use wasap_plugin::testing::{self, message_event, text_message};
use wasap_plugin::{Action, Content, Event, Outcome, SendText, Verdict};

use super::*;

const CONFIG: &str = r#"{
    "rules": [
        {"keywords": ["price", "harga"], "reply": "Prices: https://example.com/prices"},
        {"keywords": ["hi"], "match": "exact", "reply": "Hello!"},
        {"keywords": ["refund"], "match": "contains", "reply": "Refunds take 3 days."}
    ],
    "cooldown_secs": 60
}"#;

fn run(events: Vec<Event>) -> Vec<Outcome> {
    testing::run::<AutoReply>(CONFIG, events).unwrap()
}

fn replies(outcome: &Outcome) -> Vec<&str> {
    outcome
        .actions
        .iter()
        .map(|action| match action {
            Action::SendText(SendText { text, .. }) => text.as_str(),
            other => panic!("unexpected action {other:?}"),
        })
        .collect()
}

fn from(chat: &str, text: &str) -> Event {
    message_event(text_message(chat, text))
}

#[test]
fn the_first_matching_rule_replies_quoting_the_message() {
    testing::reset();
    let outcomes = run(vec![from("628111@s.whatsapp.net", "What is the PRICE?")]);
    assert_eq!(outcomes[0].verdict, Verdict::Continue);
    assert_eq!(
        outcomes[0].actions,
        [Action::SendText(
            SendText::new("628111@s.whatsapp.net", "Prices: https://example.com/prices").replying_to("3EB0TEST")
        )]
    );
}

#[test]
fn match_modes_differ() {
    testing::reset();
    let outcomes = run(vec![
        from("1@s.whatsapp.net", "prices please"), // word: no
        from("2@s.whatsapp.net", "  Hi "),         // exact: yes
        from("3@s.whatsapp.net", "hi there"),      // exact: no
        from("4@s.whatsapp.net", "nonrefundable"), // contains: yes
        from("5@s.whatsapp.net", "harga?"),        // word, second keyword: yes
    ]);
    let answered: Vec<_> = outcomes.iter().map(replies).collect();
    let none: Vec<&str> = vec![];
    assert_eq!(answered[0], none);
    assert_eq!(answered[1], ["Hello!"]);
    assert_eq!(answered[2], none);
    assert_eq!(answered[3], ["Refunds take 3 days."]);
    assert_eq!(answered[4], ["Prices: https://example.com/prices"]);
}

#[test]
fn a_chat_gets_one_reply_per_cooldown() {
    testing::reset();
    testing::set_now_us(1_000_000_000);
    let mut bot = AutoReply::init(CONFIG).unwrap();
    let mut ask = |chat: &str| replies(&bot.handle(from(chat, "price"))).len();
    assert_eq!(ask("a@s.whatsapp.net"), 1);
    assert_eq!(ask("a@s.whatsapp.net"), 0);
    assert_eq!(ask("b@s.whatsapp.net"), 1, "other chats are not held back");
    testing::set_now_us(1_000_000_000 + 61_000_000);
    assert_eq!(ask("a@s.whatsapp.net"), 1);
}

#[test]
fn own_messages_groups_and_other_events_are_left_alone() {
    testing::reset();
    let mut own = text_message("1@s.whatsapp.net", "price");
    own.from_me = true;
    let mut group = text_message("120363@g.us", "price");
    group.is_group = true;
    let mut reaction = text_message("2@s.whatsapp.net", "");
    reaction.content = Content::Reaction {
        emoji: "👍".into(),
        target_id: "x".into(),
    };
    let mut receipt = from("3@s.whatsapp.net", "price");
    receipt.kind = EventKind::System {
        message: "price".into(),
    };
    for outcome in run(vec![
        message_event(own),
        message_event(group),
        message_event(reaction),
        receipt,
    ]) {
        assert_eq!(outcome, Outcome::cont());
    }
}

#[test]
fn captions_count_as_text() {
    testing::reset();
    let mut photo = text_message("1@s.whatsapp.net", "");
    photo.content = Content::Image(wasap_plugin::Media {
        mime_type: "image/jpeg".into(),
        caption: Some("price of this?".into()),
        ..Default::default()
    });
    assert_eq!(replies(&run(vec![message_event(photo)])[0]).len(), 1);
}

#[test]
fn bad_configs_are_refused() {
    assert!(AutoReply::init("{}").is_err());
    assert!(AutoReply::init(r#"{"rules": [{"keywords": [], "reply": "x"}]}"#).is_err());
    assert!(AutoReply::init(r#"{"rules": [], "unknown": 1}"#).is_err());
    assert!(AutoReply::init(r#"{"rules": []}"#).is_ok());
}
