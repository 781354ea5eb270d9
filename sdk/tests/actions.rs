//! The `Outcome` helpers build the actions of the WIT `action` variant field for field (the
//! moderation ones and the queued sends of 0.3.0 included), and the actions of `wasap:plugin@0.2.0` on earlier
//! messages and chats cross the component boundary unchanged (through the same
//! conversions the exported `handle-event` uses).

use wasap_plugin::bindings::wasap::plugin::types as w;
use wasap_plugin::testing::{self, message_event, text_message};
use wasap_plugin::{
    Action, BlockContact, ChangeParticipants, ChatState, Edit, Event, EventKind, MarkRead, MediaType, Outcome,
    ParticipantChange, Plugin, QueuedMessage, QueuedSend, React, RejectCall, Revoke, SendLocation, SendMedia, SendPoll,
    SendText, SetChatState,
};

#[test]
fn react_and_withdraw_name_the_message_and_the_emoji() {
    let message = text_message("6281234567890@s.whatsapp.net", "hi");
    let outcome = Outcome::cont().react(&message.id, "👍").withdraw_reaction("3EB0OTHER");
    assert_eq!(
        outcome.actions,
        [
            Action::React(React {
                message_id: "3EB0TEST".to_owned(),
                emoji: "👍".to_owned(),
            }),
            Action::React(React {
                message_id: "3EB0OTHER".to_owned(),
                emoji: String::new(),
            }),
        ]
    );
}

#[test]
fn edit_and_revoke_name_the_message() {
    let outcome = Outcome::cont().edit("3EB0SENT", "the new text").revoke("3EB0SENT");
    assert_eq!(
        outcome.actions,
        [
            Action::Edit(Edit {
                message_id: "3EB0SENT".to_owned(),
                text: "the new text".to_owned(),
            }),
            Action::Revoke(Revoke {
                message_id: "3EB0SENT".to_owned(),
            }),
        ]
    );
}

#[test]
fn mark_read_takes_any_list_of_ids() {
    let message = text_message("6281234567890@s.whatsapp.net", "hi");
    let from_refs = Outcome::cont().mark_read([&message.id]);
    let from_strs = Outcome::cont().mark_read(vec!["a", "b"]);
    assert_eq!(
        from_refs.actions,
        [Action::MarkRead(MarkRead {
            message_ids: vec!["3EB0TEST".to_owned()],
        })]
    );
    assert_eq!(
        from_strs.actions,
        [Action::MarkRead(MarkRead {
            message_ids: vec!["a".to_owned(), "b".to_owned()],
        })]
    );
}

#[test]
fn chat_state_names_the_chat_and_the_state() {
    for state in [ChatState::Typing, ChatState::Recording, ChatState::Paused] {
        let outcome = Outcome::cont().chat_state("6281234567890", state);
        assert_eq!(
            outcome.actions,
            [Action::ChatState(SetChatState {
                to: "6281234567890".to_owned(),
                state,
            })]
        );
    }
}

#[test]
fn moderation_names_the_group_the_contact_and_the_call() {
    let outcome = Outcome::cont()
        .group_participants("120363402106000703@g.us", ParticipantChange::Remove, ["6281200001111"])
        .block("6281200002222@s.whatsapp.net")
        .unblock("6281200003333")
        .reject_call("CALL0123456789ABCDEF", "6281200004444@s.whatsapp.net");
    assert_eq!(
        outcome.actions,
        [
            Action::GroupParticipants(ChangeParticipants {
                group: "120363402106000703@g.us".to_owned(),
                change: ParticipantChange::Remove,
                participants: vec!["6281200001111".to_owned()],
            }),
            Action::BlockContact(BlockContact {
                contact: "6281200002222@s.whatsapp.net".to_owned(),
                blocked: true,
            }),
            Action::BlockContact(BlockContact {
                contact: "6281200003333".to_owned(),
                blocked: false,
            }),
            Action::RejectCall(RejectCall {
                call_id: "CALL0123456789ABCDEF".to_owned(),
                caller: "6281200004444@s.whatsapp.net".to_owned(),
            }),
        ]
    );
}

#[test]
fn queue_and_schedule_carry_any_queueable_message_and_its_time() {
    let chat = "6281234567890@s.whatsapp.net";
    let place = SendLocation {
        to: chat.to_owned(),
        latitude: -6.175392,
        longitude: 106.827153,
        name: None,
        address: None,
    };
    let media = SendMedia {
        to: chat.to_owned(),
        url: "https://files.example/menu.jpg".to_owned(),
        media_type: MediaType::Image,
        caption: None,
        file_name: None,
        view_once: false,
        mentions: Vec::new(),
    };
    let poll = SendPoll {
        to: chat.to_owned(),
        name: "Lunch?".to_owned(),
        options: vec!["Rice".to_owned(), "Soup".to_owned()],
        selectable_count: 1,
    };
    let outcome = Outcome::cont()
        .queue(SendText::new(chat, "soon"))
        .schedule(place.clone(), 1_765_205_824_000_000)
        .queue(media.clone())
        .queue_send(QueuedSend {
            message: poll.clone().into(),
            send_at_us: Some(7),
        });
    let queued = |message, send_at_us| Action::Queue(QueuedSend { message, send_at_us });
    assert_eq!(
        outcome.actions,
        [
            queued(QueuedMessage::Text(SendText::new(chat, "soon")), None),
            queued(QueuedMessage::Location(place), Some(1_765_205_824_000_000)),
            queued(QueuedMessage::Media(media), None),
            queued(QueuedMessage::Poll(poll), Some(7)),
        ]
    );
    // Through the WIT types, as the component returns them.
    let wit: w::Outcome = outcome.clone().into();
    assert_eq!(wit.actions, outcome.actions);
}

/// Answers each text with the action it names, on the message it came in.
struct Actor;

impl Plugin for Actor {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Actor)
    }

    fn handle(&mut self, event: Event) -> Outcome {
        let EventKind::Message(message) = &event.kind else {
            return Outcome::cont();
        };
        match message.text_or_caption() {
            Some("react") => Outcome::cont().react(&message.id, "👍"),
            Some("read") => Outcome::cont().mark_read([&message.id]),
            Some("typing") => Outcome::cont().chat_state(&message.chat, ChatState::Typing),
            Some("all") => Outcome::drop()
                .mark_read([&message.id])
                .chat_state(&message.chat, ChatState::Recording)
                .edit("3EB0SENT", "edited")
                .revoke("3EB0SENT")
                .reply(message, "done"),
            _ => Outcome::cont(),
        }
    }
}

#[test]
fn a_plugin_answers_the_new_actions_through_the_wit_types() {
    let chat = "6281234567890@s.whatsapp.net";
    let events = ["react", "read", "typing", "all"]
        .map(|text| message_event(text_message(chat, text)))
        .to_vec();
    let outcomes = testing::run::<Actor>("{}", events).unwrap();
    assert_eq!(outcomes[0].actions, Outcome::cont().react("3EB0TEST", "👍").actions);
    assert_eq!(outcomes[1].actions, Outcome::cont().mark_read(["3EB0TEST"]).actions);
    assert_eq!(
        outcomes[2].actions,
        Outcome::cont().chat_state(chat, ChatState::Typing).actions
    );
    let all = &outcomes[3];
    assert_eq!(all.verdict, wasap_plugin::Verdict::Drop);
    assert_eq!(all.actions.len(), 5);
    assert!(matches!(&all.actions[4], Action::SendText(SendText { reply_to: Some(id), .. }) if id == "3EB0TEST"));

    // The outcome the component returns carries the same actions.
    let wit: w::Outcome = all.clone().into();
    assert_eq!(wit.actions, all.actions);
    assert!(matches!(
        &wit.actions[1],
        Action::ChatState(SetChatState {
            state: ChatState::Recording,
            ..
        })
    ));
}
