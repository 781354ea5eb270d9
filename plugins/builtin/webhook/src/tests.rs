use wasap_plugin::events::{gowa, sudevwa};
use wasap_plugin::testing::text_message;
use wasap_plugin::{Event, EventKind, InstanceStatus, WebhookTarget};

use super::*;

fn event(kind: EventKind) -> Event {
    Event {
        id: "ev-1".to_owned(),
        instance_id: "shop".to_owned(),
        at_us: 1_733_587_980_000_000,
        kind,
    }
}

#[test]
fn a_message_goes_out_in_both_formats_with_the_formatters_bytes() {
    let message = event(EventKind::Message(text_message(
        "6281234567890@s.whatsapp.net",
        "Hello World",
    )));
    let requests = requests(
        &Config {
            formats: every_format(),
        },
        &message,
    );
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].format, "sudevwa");
    assert_eq!(requests[0].body, sudevwa::to_vec(&message).unwrap());
    assert_eq!(requests[1].format, "gowa");
    assert_eq!(requests[1].body, gowa::to_vec(&message).unwrap());
    for request in &requests {
        assert_eq!(request.target, WebhookTarget::Subscribers);
        assert_eq!(request.event_id, "ev-1");
        assert_eq!(request.content_type, "application/json");
    }
}

#[test]
fn formats_without_a_payload_are_skipped() {
    let status = event(EventKind::StatusChanged {
        status: InstanceStatus::Online,
        previous: InstanceStatus::Connecting,
    });
    let requests = requests(
        &Config {
            formats: every_format(),
        },
        &status,
    );
    assert_eq!(
        requests.iter().map(|r| r.format.as_str()).collect::<Vec<_>>(),
        ["sudevwa"]
    );
    let only_gowa = Config {
        formats: vec![Format::Gowa],
    };
    assert!(super::requests(&only_gowa, &status).is_empty());
}

#[test]
fn the_event_always_continues() {
    let mut plugin = Webhook::init(r#"{"formats":["gowa"]}"#).unwrap();
    let outcome = plugin.handle(event(EventKind::Message(text_message(
        "6281234567890@s.whatsapp.net",
        "hi",
    ))));
    assert_eq!(outcome.verdict, wasap_plugin::Verdict::Continue);
    assert_eq!(outcome.actions.len(), 1);
    assert!(Webhook::init(r#"{"formats":["xml"]}"#).is_err());
}
