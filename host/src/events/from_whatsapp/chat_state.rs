//! A contact's chat state (whatsapp-rust's `Event::ChatPresence`, from a `<chatstate>`
//! stanza) as a [`ChatStateChange`].
//!
//! whatsapp-rust reports typing as `composing`, recording as `composing` with media
//! `audio`, and anything else as `paused`. It gives the chat and the sender as the stanza
//! named them, which is often by LID: the sender's LID is kept in `sender_lid`, and the
//! engine then names the chat and sender by phone number where its client knows it
//! (`engine/lids.rs`), as it does for receipts.

use whatsapp_rust::types::events::ChatPresenceUpdate;
use whatsapp_rust::wacore::types::presence::{ChatPresence, ChatPresenceMedia};

use super::{ChatState, ChatStateChange, EventKind};

/// The chat state `update` reports, received at `now` (unix seconds: WhatsApp does not
/// stamp chat states).
pub fn chat_state(update: &ChatPresenceUpdate, now: i64) -> EventKind {
    let source = &update.source;
    let sender = source.sender.to_non_ad();
    let state = match (update.state, update.media) {
        (ChatPresence::Composing, ChatPresenceMedia::Audio) => ChatState::Recording,
        (ChatPresence::Composing, ChatPresenceMedia::Text) => ChatState::Typing,
        (ChatPresence::Paused, _) => ChatState::Paused,
    };
    EventKind::ChatState(ChatStateChange {
        chat: source.chat.to_non_ad().to_string(),
        sender_lid: sender.is_lid().then(|| sender.to_string()),
        sender_phone: sender.is_pn().then(|| sender.user.to_string()),
        sender: sender.to_string(),
        is_group: source.is_group,
        state,
        timestamp: now,
    })
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::Jid;
    use whatsapp_rust::types::message::MessageSource;

    use super::*;

    const AT: i64 = 1_700_000_000;

    fn update(source: MessageSource, state: ChatPresence, media: ChatPresenceMedia) -> ChatPresenceUpdate {
        ChatPresenceUpdate::builder()
            .source(source)
            .state(state)
            .media(media)
            .build()
    }

    fn change(kind: EventKind) -> ChatStateChange {
        match kind {
            EventKind::ChatState(change) => change,
            other => panic!("not a chat state: {other:?}"),
        }
    }

    #[test]
    fn a_contact_typing_recording_and_pausing_in_a_direct_chat() {
        let direct = MessageSource {
            chat: Jid::pn("6281234567890"),
            sender: Jid::pn("6281234567890"),
            ..Default::default()
        };
        let cases = [
            (ChatPresence::Composing, ChatPresenceMedia::Text, ChatState::Typing),
            (ChatPresence::Composing, ChatPresenceMedia::Audio, ChatState::Recording),
            (ChatPresence::Paused, ChatPresenceMedia::Text, ChatState::Paused),
        ];
        for (presence, media, state) in cases {
            assert_eq!(
                change(chat_state(&update(direct.clone(), presence, media), AT)),
                ChatStateChange {
                    sender_phone: Some("6281234567890".to_owned()),
                    chat: "6281234567890@s.whatsapp.net".to_owned(),
                    sender: "6281234567890@s.whatsapp.net".to_owned(),
                    sender_lid: None,
                    is_group: false,
                    state,
                    timestamp: AT,
                }
            );
        }
    }

    #[test]
    fn a_participant_named_by_lid_in_a_group_keeps_the_lid() {
        let group = MessageSource {
            chat: Jid::group("120363402106000000"),
            sender: Jid::lid_device("251556368777322", 3),
            is_group: true,
            ..Default::default()
        };
        let got = change(chat_state(
            &update(group, ChatPresence::Composing, ChatPresenceMedia::Audio),
            AT,
        ));
        assert_eq!(
            got,
            ChatStateChange {
                sender_phone: None,
                chat: "120363402106000000@g.us".to_owned(),
                sender: "251556368777322@lid".to_owned(),
                sender_lid: Some("251556368777322@lid".to_owned()),
                is_group: true,
                state: ChatState::Recording,
                timestamp: AT,
            }
        );
    }
}
