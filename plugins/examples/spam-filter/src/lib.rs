//! spam-filter: drops messages that look like spam, by rules from its config.
//!
//! A dropped message reaches no later plugin and no output (webhooks, WebSockets). Rules:
//! blocked senders, blocked words, too many links, forwarded messages, and a per-sender
//! flood limit. The flood window is kept in memory and timed by the events' own
//! timestamps, so the filter needs no clock and no store: losing the window on a reload
//! only forgives a flood in progress.

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;
use wasap_plugin::events::jid::user_part;
use wasap_plugin::{Event, EventKind, Message, Outcome, Plugin, export_plugin};

/// The plugin's config (the manifest's `[config]` table). Every rule is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Never filtered: phone numbers (international, no `+`) or JIDs.
    pub allowed_senders: Vec<String>,
    /// Always dropped: phone numbers or JIDs.
    pub blocked_senders: Vec<String>,
    /// Dropped when the text contains any of these, case-insensitively.
    pub blocked_words: Vec<String>,
    /// Dropped when the text has more links than this.
    pub max_links: Option<usize>,
    /// Drop forwarded messages.
    pub drop_forwarded: bool,
    /// Dropped when a sender sends more than this many messages in a minute.
    pub max_per_minute: Option<usize>,
}

/// Why a message was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The sender is blocked.
    BlockedSender,
    /// The text contains this blocked word.
    BlockedWord(String),
    /// The text has this many links.
    TooManyLinks(usize),
    /// The message was forwarded.
    Forwarded,
    /// The sender sent too many messages in a minute.
    Flood,
}

/// The filter, with each sender's recent message times (unix microseconds).
pub struct SpamFilter {
    config: Config,
    blocked_words: Vec<String>,
    recent: HashMap<String, VecDeque<i64>>,
}

const MINUTE_US: i64 = 60_000_000;

impl Plugin for SpamFilter {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = wasap_plugin::parse_config(config)?;
        let blocked_words = config.blocked_words.iter().map(|w| w.to_lowercase()).collect();
        Ok(SpamFilter {
            config,
            blocked_words,
            recent: HashMap::new(),
        })
    }

    fn handle(&mut self, event: Event) -> Outcome {
        let EventKind::Message(message) = &event.kind else {
            return Outcome::cont();
        };
        match self.verdict(message, event.at_us) {
            Some(reason) => {
                wasap_plugin::info!("dropped {} from {}: {reason:?}", message.id, message.sender);
                Outcome::drop()
            }
            None => Outcome::cont(),
        }
    }
}

impl SpamFilter {
    /// Why `message`, received at `at_us`, is spam; `None` when it is not.
    pub fn verdict(&mut self, message: &Message, at_us: i64) -> Option<Reason> {
        if message.from_me || listed(&self.config.allowed_senders, &message.sender) {
            return None;
        }
        if listed(&self.config.blocked_senders, &message.sender) {
            return Some(Reason::BlockedSender);
        }
        if self.config.drop_forwarded && message.forwarded {
            return Some(Reason::Forwarded);
        }
        if let Some(text) = message.text_or_caption() {
            let lower = text.to_lowercase();
            if let Some(word) = self.blocked_words.iter().find(|w| lower.contains(w.as_str())) {
                return Some(Reason::BlockedWord(word.clone()));
            }
            let links = count_links(&lower);
            if self.config.max_links.is_some_and(|max| links > max) {
                return Some(Reason::TooManyLinks(links));
            }
        }
        // Counted last, so only messages that pass every other rule fill the window.
        if let Some(max) = self.config.max_per_minute {
            let times = self.recent.entry(message.sender.clone()).or_default();
            while times.front().is_some_and(|&t| at_us - t >= MINUTE_US) {
                times.pop_front();
            }
            times.push_back(at_us);
            if times.len() > max {
                return Some(Reason::Flood);
            }
        }
        None
    }
}

/// Whether `sender` (a JID) is in `list` of phone numbers and JIDs.
fn listed(list: &[String], sender: &str) -> bool {
    list.iter().any(|entry| entry == sender || entry == user_part(sender))
}

/// Counts `http://`, `https://` and `www.` links in lowercase text.
fn count_links(lower: &str) -> usize {
    lower
        .split(|c: char| c.is_whitespace())
        .filter(|word| word.contains("http://") || word.contains("https://") || word.starts_with("www."))
        .count()
}

export_plugin!(SpamFilter);

#[cfg(test)]
mod tests;
