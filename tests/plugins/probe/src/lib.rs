//! probe: the plugin wasap's black-box tests load under different manifests.
//! Its `mode` config picks what it does with each message:
//!
//! - `echo`: replies `"<tag>: <text it saw>"`, so what reached it shows in
//!   the sim's sent messages (after a redactor, the redacted text);
//! - `drop-spam`: drops messages whose text contains `spam`;
//! - `loop`: never returns (stopped by fuel or the deadline);
//! - `sleep-loop`: spins on the clock without burning much fuel (stopped by
//!   the deadline);
//! - `slow`: spins on the clock for the config's `ms` milliseconds, then lets
//!   the message pass (a slow plugin that never fails);
//! - `memory`: allocates until the memory limit stops it;
//! - `trap`: panics;
//! - `garbage`: answers a replacement that claims another event's id;
//! - `send`: asks to send a message (refused unless the manifest grants it);
//! - `send-media`: replies with the image at the config's `url`, captioned
//!   with the text it saw;
//! - `count`: counts messages per chat in the key-value store;
//! - `actions`: does what the text says, with the actions of `wasap:plugin@0.3.0`:
//!   `react` reacts 👍 to the message and `unreact` withdraws that, `read` marks it
//!   read, `typing`/`recording`/`paused` show that chat state in its chat,
//!   `edit <id> <text>` edits and `revoke <id>` revokes the instance's own message `<id>`;
//!   `location` and `contacts` send a fixed place and card to the chat, `poll` a fixed
//!   poll, `forward <id> <to>` forwards `<id>`, `forget <id>` deletes `<id>` for the
//!   instance only, `mention <who> <text>` sends `<text>` mentioning `<who>`,
//!   `everyone <text>` mentions the whole group, `preview <url>` sends `see <url>` with a
//!   fetched link preview, `sticker <url>` and `voice <url>` send that media as a
//!   sticker or a voice note, `once <url>` as a view-once image, and `tag <who> <url>` as
//!   an image whose caption mentions `<who>`. Sends through the send queue: `remind <minutes>
//!   <text>` schedules `<text>` as a reply, `<minutes>` after the message's event, and `queue
//!   <what>` queues now the fixed `location`, `contacts` or `poll`, or `image <url>` or
//!   `document <url>` (the latter with a file name, which the queue refuses). The moderation
//!   actions (capability `moderate`):
//!   `add`, `remove`, `promote` and `demote <who>` change participant `<who>` of the
//!   message's group, `block <who>` and `unblock <who>` block and unblock `<who>`; and a
//!   `call-offer` event (when the manifest subscribes to it) is rejected.
//!
//! Every mode but `echo`/`drop-spam`/`send`/`send-media`/`slow`/`actions` is hostile on
//! purpose.

use serde::Deserialize;
use wasap_plugin::{
    CardToSend, ChatState, Content, Event, EventKind, LinkPreview, MediaType, Message, Outcome, ParticipantChange,
    Plugin, SendContacts, SendLocation, SendMedia, SendPoll, SendText, export_plugin, kv,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    ms: i64,
}

/// The probe.
pub struct Probe {
    config: Config,
}

impl Plugin for Probe {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = wasap_plugin::parse_config(config)?;
        Ok(Probe { config })
    }

    fn handle(&mut self, event: Event) -> Outcome {
        if let EventKind::CallOffer(call) = &event.kind
            && self.config.mode == "actions"
        {
            return Outcome::cont().reject_call(&call.id, &call.from);
        }
        let EventKind::Message(message) = &event.kind else {
            return Outcome::cont();
        };
        let text = match &message.content {
            Content::Text { text } => text.clone(),
            _ => String::new(),
        };
        match self.config.mode.as_str() {
            "echo" => Outcome::cont().reply(message, format!("{}: {text}", self.config.tag)),
            "drop-spam" if text.contains("spam") => Outcome::drop(),
            "loop" => loop {
                std::hint::black_box(&text);
            },
            "sleep-loop" => {
                let start = wasap_plugin::clock::now_us();
                loop {
                    if wasap_plugin::clock::now_us() < start {
                        break Outcome::cont();
                    }
                }
            }
            "slow" => {
                let until = wasap_plugin::clock::now_us() + self.config.ms * 1000;
                while wasap_plugin::clock::now_us() < until {}
                Outcome::cont()
            }
            "memory" => {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    hog.push(vec![0u8; 1 << 20]);
                    std::hint::black_box(&hog);
                }
            }
            "trap" => panic!("the probe traps on purpose"),
            "garbage" => {
                let mut forged = event.clone();
                forged.id = format!("{}-forged", event.id);
                Outcome::replace(forged)
            }
            "send" => Outcome::cont().send_text(message.chat.clone(), "unsolicited"),
            "send-media" => Outcome::cont().send_media(SendMedia {
                to: message.chat.clone(),
                url: self.config.url.clone(),
                media_type: MediaType::Image,
                caption: Some(text),
                file_name: None,
                view_once: false,
                mentions: Vec::new(),
            }),
            "count" => {
                let key = format!("count/{}", message.chat);
                let count = kv::get_json::<u64>(&key).ok().flatten().unwrap_or(0) + 1;
                let _ = kv::set_json(&key, &count);
                Outcome::cont()
            }
            "actions" => act(&event, message, &text),
            _ => Outcome::cont(),
        }
    }
}

/// The `actions` mode: the first word of `text` names the action, the second the
/// message it is on when that is not `message` itself.
fn act(event: &Event, message: &Message, text: &str) -> Outcome {
    let mut words = text.splitn(3, ' ');
    let verb = words.next().unwrap_or_default();
    let target = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default();
    let state = |state| Outcome::cont().chat_state(&message.chat, state);
    match verb {
        "react" => Outcome::cont().react(&message.id, "👍"),
        "unreact" => Outcome::cont().withdraw_reaction(&message.id),
        "read" => Outcome::cont().mark_read([&message.id]),
        "typing" => state(ChatState::Typing),
        "recording" => state(ChatState::Recording),
        "paused" => state(ChatState::Paused),
        "edit" => Outcome::cont().edit(target, rest),
        "revoke" => Outcome::cont().revoke(target),
        "location" => Outcome::cont().send_location(place(message)),
        "contacts" => Outcome::cont().send_contacts(&message.chat, cards()),
        "poll" => Outcome::cont().send_poll(&message.chat, "Lunch?", ["Rice", "Noodles", "Soup"], 2),
        "remind" => {
            let minutes: i64 = target.parse().unwrap_or_default();
            let reminder = SendText::new(&message.chat, rest).replying_to(&message.id);
            Outcome::cont().schedule(reminder, event.at_us + minutes * 60_000_000)
        }
        "queue" => match target {
            "location" => Outcome::cont().queue(place(message)),
            "contacts" => Outcome::cont().queue(SendContacts {
                to: message.chat.clone(),
                cards: cards(),
            }),
            "poll" => Outcome::cont().queue(SendPoll {
                to: message.chat.clone(),
                name: "Lunch?".to_owned(),
                options: vec!["Rice".to_owned(), "Noodles".to_owned(), "Soup".to_owned()],
                selectable_count: 2,
            }),
            "image" => Outcome::cont().queue(SendMedia {
                caption: Some("queued".to_owned()),
                ..media(message, rest, MediaType::Image)
            }),
            "document" => Outcome::cont().queue(SendMedia {
                file_name: Some("menu.pdf".to_owned()),
                ..media(message, rest, MediaType::Document)
            }),
            _ => Outcome::cont(),
        },
        "forward" => Outcome::cont().forward(target, rest),
        "forget" => Outcome::cont().delete_for_me(target),
        "mention" => Outcome::cont().send(SendText::new(&message.chat, rest).mentioning([target])),
        "everyone" => {
            Outcome::cont().send(SendText::new(&message.chat, format!("{target} {rest}")).mentioning_everyone())
        }
        "preview" => Outcome::cont()
            .send(SendText::new(&message.chat, format!("see {target}")).with_link_preview(LinkPreview::Fetch)),
        "sticker" => Outcome::cont().send_media(media(message, target, MediaType::Sticker)),
        "voice" => Outcome::cont().send_media(media(message, target, MediaType::Voice)),
        "once" => Outcome::cont().send_media(SendMedia {
            caption: Some("once only".to_owned()),
            view_once: true,
            ..media(message, target, MediaType::Image)
        }),
        "add" => Outcome::cont().group_participants(&message.chat, ParticipantChange::Add, [target]),
        "remove" => Outcome::cont().group_participants(&message.chat, ParticipantChange::Remove, [target]),
        "promote" => Outcome::cont().group_participants(&message.chat, ParticipantChange::Promote, [target]),
        "demote" => Outcome::cont().group_participants(&message.chat, ParticipantChange::Demote, [target]),
        "block" => Outcome::cont().block(target),
        "unblock" => Outcome::cont().unblock(target),
        "tag" => Outcome::cont().send_media(SendMedia {
            caption: Some(format!("look @{target}")),
            mentions: vec![target.to_owned()],
            ..media(message, rest, MediaType::Image)
        }),
        _ => Outcome::cont(),
    }
}

/// The fixed place of `location`, to the chat of `message`.
fn place(message: &Message) -> SendLocation {
    SendLocation {
        to: message.chat.clone(),
        latitude: -6.175392,
        longitude: 106.827153,
        name: Some("Monas".to_owned()),
        address: Some("Gambir, Jakarta Pusat".to_owned()),
    }
}

/// The fixed card of `contacts`.
fn cards() -> Vec<CardToSend> {
    vec![CardToSend::phone("Ani", "6281200002222")]
}

/// Media of `media_type` from `url`, to the chat of `message`, without a caption.
fn media(message: &Message, url: &str, media_type: MediaType) -> SendMedia {
    SendMedia {
        to: message.chat.clone(),
        url: url.to_owned(),
        media_type,
        caption: None,
        file_name: None,
        view_once: false,
        mentions: Vec::new(),
    }
}

export_plugin!(Probe);
