//! Events to and from both versions' bindings types, with the one set of
//! conversions `wasap-events` writes for the host and the SDK alike, and a
//! 0.1 outcome lifted into the current one (0.1's actions are a subset of
//! 0.2's, so every 0.1 answer has an exact 0.2 twin).

use super::bindings::{types, v0_1};

mod current {
    use super::super::bindings::types as w;

    wasap_events::wit_conversions!();
}

mod previous {
    use super::super::bindings::v0_1::types as w;

    wasap_events::wit_conversions!();
}

/// An event in the current types, as a 0.1 plugin receives it. The event
/// model is the same in both versions; the canonical model is the bridge.
pub fn event_to_v0_1(event: &types::Event) -> v0_1::types::Event {
    wasap_events::Event::from(event.clone()).into()
}

impl From<v0_1::types::Outcome> for types::Outcome {
    fn from(outcome: v0_1::types::Outcome) -> Self {
        types::Outcome {
            verdict: match outcome.verdict {
                v0_1::types::Verdict::Continue => types::Verdict::Continue,
                v0_1::types::Verdict::Drop => types::Verdict::Drop,
                v0_1::types::Verdict::Replace(event) => {
                    types::Verdict::Replace(wasap_events::Event::from(event).into())
                }
            },
            actions: outcome.actions.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<v0_1::types::Action> for types::Action {
    fn from(action: v0_1::types::Action) -> Self {
        use v0_1::types as old;
        match action {
            old::Action::SendText(old::SendText { to, text, reply_to }) => {
                types::Action::SendText(types::SendText { to, text, reply_to })
            }
            old::Action::SendMedia(old::SendMedia {
                to,
                url,
                media_type,
                caption,
                file_name,
            }) => types::Action::SendMedia(types::SendMedia {
                to,
                url,
                media_type: match media_type {
                    old::MediaType::Image => types::MediaType::Image,
                    old::MediaType::Video => types::MediaType::Video,
                    old::MediaType::Audio => types::MediaType::Audio,
                    old::MediaType::Document => types::MediaType::Document,
                },
                caption,
                file_name,
            }),
            old::Action::Webhook(old::WebhookRequest {
                target,
                format,
                event_id,
                content_type,
                body,
                headers,
            }) => types::Action::Webhook(types::WebhookRequest {
                target: match target {
                    old::WebhookTarget::Subscribers => types::WebhookTarget::Subscribers,
                    old::WebhookTarget::Url(url) => types::WebhookTarget::Url(url),
                },
                format,
                event_id,
                content_type,
                body,
                headers,
            }),
            old::Action::Publish(old::Publish { channel, frame }) => types::Action::Publish(types::Publish {
                channel: match channel {
                    old::Channel::Global => types::Channel::Global,
                    old::Channel::Instance(id) => types::Channel::Instance(id),
                },
                frame,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_event(text: &str) -> wasap_events::Event {
        wasap_events::Event {
            id: "evt-1".to_owned(),
            instance_id: "main".to_owned(),
            at_us: 1_765_202_224_000_000,
            kind: wasap_events::EventKind::Message(wasap_events::Message {
                id: "3EB0".to_owned(),
                chat: "628111@s.whatsapp.net".to_owned(),
                sender: "628111@s.whatsapp.net".to_owned(),
                push_name: Some("Tester".to_owned()),
                from_me: false,
                is_group: false,
                timestamp: 1_765_202_224,
                content: wasap_events::Content::Text { text: text.to_owned() },
                quoted: None,
                forwarded: false,
                view_once: false,
                ephemeral: None,
            }),
        }
    }

    #[test]
    fn an_event_reaches_a_0_1_plugin_unchanged() {
        let event = text_event("hello");
        let current: types::Event = event.clone().into();
        let old = event_to_v0_1(&current);
        assert_eq!(wasap_events::Event::from(old), event);
    }

    #[test]
    fn every_0_1_action_and_verdict_has_its_0_2_twin() {
        use v0_1::types as old;
        let replaced = text_event("[redacted]");
        let outcome = old::Outcome {
            verdict: old::Verdict::Replace(replaced.clone().into()),
            actions: vec![
                old::Action::SendText(old::SendText {
                    to: "628".to_owned(),
                    text: "hi".to_owned(),
                    reply_to: Some("3EB0".to_owned()),
                }),
                old::Action::SendMedia(old::SendMedia {
                    to: "628".to_owned(),
                    url: "https://example.com/a.jpg".to_owned(),
                    media_type: old::MediaType::Document,
                    caption: None,
                    file_name: Some("a.pdf".to_owned()),
                }),
                old::Action::Webhook(old::WebhookRequest {
                    target: old::WebhookTarget::Url("https://hooks.example.com/x".to_owned()),
                    format: "gowa".to_owned(),
                    event_id: "evt-1".to_owned(),
                    content_type: "application/json".to_owned(),
                    body: b"{}".to_vec(),
                    headers: vec![("x-a".to_owned(), "b".to_owned())],
                }),
                old::Action::Publish(old::Publish {
                    channel: old::Channel::Instance("main".to_owned()),
                    frame: "{}".to_owned(),
                }),
            ],
        };
        let lifted = types::Outcome::from(outcome);
        let types::Verdict::Replace(event) = lifted.verdict else {
            panic!("the replacement is kept");
        };
        assert_eq!(wasap_events::Event::from(event), replaced);
        // Field for field, in order (the generated types have no PartialEq).
        let actions: Vec<String> = lifted.actions.iter().map(|a| format!("{a:?}")).collect();
        assert_eq!(actions.len(), 4);
        assert!(
            actions[0].contains("SendText") && actions[0].contains("\"3EB0\""),
            "{actions:?}"
        );
        assert!(
            actions[1].contains("Document") && actions[1].contains("a.pdf"),
            "{actions:?}"
        );
        assert!(
            actions[2].contains("hooks.example.com") && actions[2].contains("x-a"),
            "{actions:?}"
        );
        assert!(actions[3].contains("Instance(\"main\")"), "{actions:?}");
    }
}
