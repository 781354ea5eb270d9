//! Events to and from every version's bindings types, with the one set of
//! conversions `wasap-events` writes for the host and the SDK alike, and an
//! old version's outcome lifted into the current one, a version at a time
//! (0.1's actions are a subset of 0.2's, and 0.2's of 0.3's, so every old
//! answer has an exact current twin).

use super::bindings::{types, v0_1, v0_2};

mod current {
    use super::super::bindings::types as w;

    wasap_events::wit_conversions!();
}

mod released_0_2 {
    use super::super::bindings::v0_2::types as w;

    wasap_events::wit_conversions!(before_0_3);
}

mod released_0_1 {
    use super::super::bindings::v0_1::types as w;

    wasap_events::wit_conversions!(before_0_3);
}

/// An event in the current types, as a 0.2 plugin receives it; `None` for a
/// kind 0.2 does not have, which such a plugin is not handed. The canonical
/// model is the bridge.
pub fn event_to_v0_2(event: &types::Event) -> Option<v0_2::types::Event> {
    wasap_events::Event::from(event.clone()).try_into().ok()
}

/// An event in the current types, as a 0.1 plugin receives it; `None` for a
/// kind 0.1 does not have.
pub fn event_to_v0_1(event: &types::Event) -> Option<v0_1::types::Event> {
    wasap_events::Event::from(event.clone()).try_into().ok()
}

impl From<v0_1::types::Outcome> for types::Outcome {
    fn from(outcome: v0_1::types::Outcome) -> Self {
        v0_2::types::Outcome::from(outcome).into()
    }
}

impl From<v0_1::types::Outcome> for v0_2::types::Outcome {
    fn from(outcome: v0_1::types::Outcome) -> Self {
        v0_2::types::Outcome {
            verdict: match outcome.verdict {
                v0_1::types::Verdict::Continue => v0_2::types::Verdict::Continue,
                v0_1::types::Verdict::Drop => v0_2::types::Verdict::Drop,
                v0_1::types::Verdict::Replace(event) => v0_2::types::Verdict::Replace(
                    v0_2::types::Event::try_from(wasap_events::Event::from(event)).expect("a 0.1 event has a 0.2 twin"),
                ),
            },
            actions: outcome.actions.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<v0_1::types::Action> for v0_2::types::Action {
    fn from(action: v0_1::types::Action) -> Self {
        use v0_1::types as old;
        match action {
            old::Action::SendText(old::SendText { to, text, reply_to }) => {
                v0_2::types::Action::SendText(v0_2::types::SendText { to, text, reply_to })
            }
            old::Action::SendMedia(old::SendMedia {
                to,
                url,
                media_type,
                caption,
                file_name,
            }) => v0_2::types::Action::SendMedia(v0_2::types::SendMedia {
                to,
                url,
                media_type: match media_type {
                    old::MediaType::Image => v0_2::types::MediaType::Image,
                    old::MediaType::Video => v0_2::types::MediaType::Video,
                    old::MediaType::Audio => v0_2::types::MediaType::Audio,
                    old::MediaType::Document => v0_2::types::MediaType::Document,
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
            }) => v0_2::types::Action::Webhook(v0_2::types::WebhookRequest {
                target: match target {
                    old::WebhookTarget::Subscribers => v0_2::types::WebhookTarget::Subscribers,
                    old::WebhookTarget::Url(url) => v0_2::types::WebhookTarget::Url(url),
                },
                format,
                event_id,
                content_type,
                body,
                headers,
            }),
            old::Action::Publish(old::Publish { channel, frame }) => {
                v0_2::types::Action::Publish(v0_2::types::Publish {
                    channel: match channel {
                        old::Channel::Global => v0_2::types::Channel::Global,
                        old::Channel::Instance(id) => v0_2::types::Channel::Instance(id),
                    },
                    frame,
                })
            }
        }
    }
}

impl From<v0_2::types::Outcome> for types::Outcome {
    fn from(outcome: v0_2::types::Outcome) -> Self {
        types::Outcome {
            verdict: match outcome.verdict {
                v0_2::types::Verdict::Continue => types::Verdict::Continue,
                v0_2::types::Verdict::Drop => types::Verdict::Drop,
                v0_2::types::Verdict::Replace(event) => {
                    types::Verdict::Replace(wasap_events::Event::from(event).into())
                }
            },
            actions: outcome.actions.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<v0_2::types::Action> for types::Action {
    fn from(action: v0_2::types::Action) -> Self {
        use v0_2::types as old;
        match action {
            old::Action::SendText(old::SendText { to, text, reply_to }) => types::Action::SendText(types::SendText {
                to,
                text,
                reply_to,
                mentions: Vec::new(),
                mention_all: false,
                link_preview: None,
            }),
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
                view_once: false,
                mentions: Vec::new(),
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
            old::Action::React(old::React { message_id, emoji }) => {
                types::Action::React(types::React { message_id, emoji })
            }
            old::Action::Edit(old::Edit { message_id, text }) => types::Action::Edit(types::Edit { message_id, text }),
            old::Action::Revoke(old::Revoke { message_id }) => types::Action::Revoke(types::Revoke { message_id }),
            old::Action::MarkRead(old::MarkRead { message_ids }) => {
                types::Action::MarkRead(types::MarkRead { message_ids })
            }
            old::Action::ChatState(old::SetChatState { to, state }) => types::Action::ChatState(types::SetChatState {
                to,
                state: match state {
                    old::ChatState::Typing => types::ChatState::Typing,
                    old::ChatState::Recording => types::ChatState::Recording,
                    old::ChatState::Paused => types::ChatState::Paused,
                },
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
                sender_lid: None,
                sender_phone: None,
                chat_lid: None,
                chat_phone: None,
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
        let old = event_to_v0_1(&current).expect("0.1 has messages");
        assert_eq!(wasap_events::Event::from(old), event);
        let old = event_to_v0_2(&current).expect("0.2 has messages");
        assert_eq!(wasap_events::Event::from(old), event);
    }

    #[test]
    fn a_ban_reaches_plugins_before_0_3_as_disconnected() {
        let banned = wasap_events::Event {
            kind: wasap_events::EventKind::StatusChanged {
                status: wasap_events::InstanceStatus::Banned,
                previous: wasap_events::InstanceStatus::Online,
            },
            ..text_event("")
        };
        let current: types::Event = banned.clone().into();
        assert_eq!(wasap_events::Event::from(current.clone()), banned, "0.3 has banned");
        let seen_as = |event: wasap_events::Event| match event.kind {
            wasap_events::EventKind::StatusChanged { status, previous } => (status, previous),
            other => panic!("{other:?}"),
        };
        let expected = (
            wasap_events::InstanceStatus::Disconnected,
            wasap_events::InstanceStatus::Online,
        );
        let old = event_to_v0_2(&current).expect("0.2 has status changes");
        assert_eq!(seen_as(old.into()), expected);
        let old = event_to_v0_1(&current).expect("0.1 has status changes");
        assert_eq!(seen_as(old.into()), expected);
    }

    #[test]
    fn every_0_1_action_and_verdict_has_its_current_twin() {
        use v0_1::types as old;
        let replaced = text_event("[redacted]");
        let outcome = old::Outcome {
            verdict: old::Verdict::Replace(replaced.clone().try_into().expect("0.1 has messages")),
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

    #[test]
    fn every_0_2_action_has_its_current_twin_with_the_new_fields_empty() {
        use v0_2::types as old;
        let outcome = old::Outcome {
            verdict: old::Verdict::Continue,
            actions: vec![
                old::Action::SendText(old::SendText {
                    to: "628".to_owned(),
                    text: "hi".to_owned(),
                    reply_to: None,
                }),
                old::Action::SendMedia(old::SendMedia {
                    to: "628".to_owned(),
                    url: "https://example.com/a.jpg".to_owned(),
                    media_type: old::MediaType::Image,
                    caption: Some("look".to_owned()),
                    file_name: None,
                }),
                old::Action::React(old::React {
                    message_id: "3EB0".to_owned(),
                    emoji: "👍".to_owned(),
                }),
                old::Action::Edit(old::Edit {
                    message_id: "3EB1".to_owned(),
                    text: "fixed".to_owned(),
                }),
                old::Action::Revoke(old::Revoke {
                    message_id: "3EB2".to_owned(),
                }),
                old::Action::MarkRead(old::MarkRead {
                    message_ids: vec!["3EB3".to_owned()],
                }),
                old::Action::ChatState(old::SetChatState {
                    to: "628".to_owned(),
                    state: old::ChatState::Recording,
                }),
            ],
        };
        let lifted = types::Outcome::from(outcome);
        assert!(matches!(lifted.verdict, types::Verdict::Continue));
        let actions = lifted.actions;
        assert!(matches!(
            &actions[0],
            types::Action::SendText(types::SendText { text, mentions, mention_all: false, link_preview: None, .. })
                if text == "hi" && mentions.is_empty()
        ));
        assert!(matches!(
            &actions[1],
            types::Action::SendMedia(types::SendMedia { media_type: types::MediaType::Image, caption: Some(c), view_once: false, .. })
                if c == "look"
        ));
        assert!(matches!(&actions[2], types::Action::React(r) if r.message_id == "3EB0" && r.emoji == "👍"));
        assert!(matches!(&actions[3], types::Action::Edit(e) if e.message_id == "3EB1" && e.text == "fixed"));
        assert!(matches!(&actions[4], types::Action::Revoke(r) if r.message_id == "3EB2"));
        assert!(matches!(&actions[5], types::Action::MarkRead(m) if m.message_ids == ["3EB3"]));
        assert!(matches!(
            &actions[6],
            types::Action::ChatState(types::SetChatState {
                state: types::ChatState::Recording,
                ..
            })
        ));
        assert_eq!(actions.len(), 7);
    }
}
