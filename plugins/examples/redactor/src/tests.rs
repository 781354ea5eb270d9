//! What counts as a phone number, and what the event becomes.

use wasap_plugin::testing::{self, message_event, text_message};
use wasap_plugin::{Content, EventKind, Media, Outcome, Quoted, Verdict};

use super::*;

fn redactor() -> Redactor {
    Redactor::init("{}").unwrap()
}

#[test]
fn phone_numbers_in_common_shapes_are_masked() {
    let r = redactor();
    for (text, expected) in [
        ("call +62 812-3456-7890 now", "call [phone] now"),
        ("wa: 081234567890.", "wa: [phone]."),
        ("(021) 555 1234 5 ext", "[phone] ext"),
        ("+1 (415) 555-0132", "[phone]"),
        ("two: 6281234567890, 6289876543210", "two: [phone], [phone]"),
        ("0812.3456.7890", "[phone]"),
        ("nomor ku 0812 3456 7890 ya", "nomor ku [phone] ya"),
        ("emoji 📞 +628123456789 ✓", "emoji 📞 [phone] ✓"),
    ] {
        assert_eq!(r.redact(text).as_deref(), Some(expected), "{text}");
    }
}

#[test]
fn other_numbers_are_left_alone() {
    let r = redactor();
    for text in [
        "costs 150000 rupiah",
        "on 2024-01-15 at 10.30",
        "order ABC123456789",
        "id 123456789012345678",
        "12  34  56  78  90",
        "plain text",
        "",
    ] {
        assert_eq!(r.redact(text), None, "{text}");
    }
}

#[test]
fn mask_and_min_digits_come_from_config() {
    let r = Redactor::init(r#"{"mask": "***", "min_digits": 5}"#).unwrap();
    assert_eq!(r.redact("pin 12345").as_deref(), Some("pin ***"));
    assert!(Redactor::init(r#"{"min_digits": 0}"#).is_err());
    assert!(Redactor::init(r#"{"mask": 1}"#).is_err());
}

#[test]
fn messages_are_replaced_with_text_caption_and_quote_redacted() {
    testing::reset();
    let mut message = text_message("1@s.whatsapp.net", "");
    message.content = Content::Image(Media {
        mime_type: "image/jpeg".into(),
        caption: Some("me: 081234567890".into()),
        ..Default::default()
    });
    message.quoted = Some(Quoted {
        id: "q".into(),
        text: "reach +6281234567890".into(),
    });
    let event = message_event(message);
    let outcomes = testing::run::<Redactor>("{}", vec![event.clone()]).unwrap();
    let Verdict::Replace(replaced) = &outcomes[0].verdict else {
        panic!("expected replace, got {:?}", outcomes[0]);
    };
    assert_eq!((&replaced.id, &replaced.instance_id), (&event.id, &event.instance_id));
    let EventKind::Message(message) = &replaced.kind else {
        panic!("not a message");
    };
    assert_eq!(message.text_or_caption(), Some("me: [phone]"));
    assert_eq!(message.quoted.as_ref().unwrap().text, "reach [phone]");
}

#[test]
fn edits_are_redacted_and_clean_events_continue() {
    let mut edit = text_message("1@s.whatsapp.net", "");
    edit.content = Content::Edited {
        target_id: "x".into(),
        text: "new number 081234567890".into(),
    };
    let clean = message_event(text_message("1@s.whatsapp.net", "no numbers"));
    let outcomes = testing::run::<Redactor>("{}", vec![message_event(edit), clean]).unwrap();
    assert!(matches!(&outcomes[0].verdict, Verdict::Replace(e)
        if matches!(&e.kind, EventKind::Message(m) if m.text_or_caption() == Some("new number [phone]"))));
    assert_eq!(outcomes[1], Outcome::cont());
}
