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
//! - `count`: counts messages per chat in the key-value store.
//!
//! Every mode but `echo`/`drop-spam`/`send`/`send-media`/`slow` is hostile on purpose.

use serde::Deserialize;
use wasap_plugin::{Content, Event, EventKind, MediaType, Outcome, Plugin, SendMedia, export_plugin, kv};

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
            }),
            "count" => {
                let key = format!("count/{}", message.chat);
                let count = kv::get_json::<u64>(&key).ok().flatten().unwrap_or(0) + 1;
                let _ = kv::set_json(&key, &count);
                Outcome::cont()
            }
            _ => Outcome::cont(),
        }
    }
}

export_plugin!(Probe);
