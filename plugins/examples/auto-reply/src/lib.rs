//! auto-reply: answers messages that match keyword rules from its config.
//!
//! The first rule whose keyword matches a message's text (or caption) sends its reply,
//! quoting the message. A per-chat cooldown, kept in the plugin's key-value store so it
//! survives reloads and restarts, stops the bot from answering a chatty contact over and
//! over. The event itself always continues: replying is a side effect.

use serde::Deserialize;
use wasap_plugin::{Event, EventKind, Message, Outcome, Plugin, clock, export_plugin, kv};

/// The plugin's config (the manifest's `[config]` table).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Tried in order; the first match answers.
    pub rules: Vec<Rule>,
    /// Answer in groups too (default: only one-to-one chats).
    #[serde(default)]
    pub groups: bool,
    /// At most one automatic reply per chat in this many seconds (0: no limit).
    #[serde(default = "default_cooldown")]
    pub cooldown_secs: i64,
}

fn default_cooldown() -> i64 {
    60
}

/// One keyword rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Any of these, compared case-insensitively.
    pub keywords: Vec<String>,
    /// How a keyword must appear in the text.
    #[serde(default, rename = "match")]
    pub mode: MatchMode,
    /// The reply's text.
    pub reply: String,
}

/// How a keyword must appear in a message.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// As a whole word (the default): "price" matches "the price?" but not "prices".
    #[default]
    Word,
    /// Anywhere, even inside a word.
    Contains,
    /// The whole message, surrounding spaces aside.
    Exact,
}

impl Rule {
    /// Whether a keyword matches `text`; both are lowercase already (see
    /// [`AutoReply::init`]), so a message is lowercased once, not per keyword.
    fn matches(&self, text: &str) -> bool {
        self.keywords.iter().any(|keyword| match self.mode {
            MatchMode::Exact => text.trim() == keyword,
            MatchMode::Contains => text.contains(keyword.as_str()),
            MatchMode::Word => contains_word(text, keyword),
        })
    }
}

/// Whether `keyword` occurs in `text` with no letter or digit right before or after it.
fn contains_word(text: &str, keyword: &str) -> bool {
    if keyword.is_empty() {
        return false;
    }
    text.match_indices(keyword).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + keyword.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The auto-reply bot.
pub struct AutoReply {
    config: Config,
}

impl Plugin for AutoReply {
    fn init(config: &str) -> Result<Self, String> {
        let mut config: Config = wasap_plugin::parse_config(config)?;
        if config.rules.iter().any(|rule| rule.keywords.is_empty()) {
            return Err("invalid config: a rule has no keywords".to_owned());
        }
        // Keywords compare case-insensitively: lowercase them once, here.
        for keyword in config.rules.iter_mut().flat_map(|rule| rule.keywords.iter_mut()) {
            *keyword = keyword.to_lowercase();
        }
        Ok(AutoReply { config })
    }

    fn handle(&mut self, event: Event) -> Outcome {
        let EventKind::Message(message) = &event.kind else {
            return Outcome::cont();
        };
        match self.reply_for(&event.instance_id, message) {
            Some(reply) => Outcome::cont().reply(message, reply),
            None => Outcome::cont(),
        }
    }
}

impl AutoReply {
    fn reply_for(&self, instance_id: &str, message: &Message) -> Option<String> {
        // Never answer ourselves (that would loop) or group chatter unless asked to.
        if message.from_me || (message.is_group && !self.config.groups) {
            return None;
        }
        let text = message.text_or_caption()?.to_lowercase();
        let rule = self.config.rules.iter().find(|rule| rule.matches(&text))?;
        if !self.cooldown_over(instance_id, &message.chat) {
            return None;
        }
        Some(rule.reply.clone())
    }

    /// Checks and restarts the chat's cooldown. A store failure lets the reply through:
    /// a rare duplicate answer is better than a bot that goes silent.
    fn cooldown_over(&self, instance_id: &str, chat: &str) -> bool {
        if self.config.cooldown_secs <= 0 {
            return true;
        }
        let key = format!("last-reply/{instance_id}/{chat}");
        let now = clock::now_secs();
        match kv::get_json::<i64>(&key) {
            Ok(Some(last)) if now - last < self.config.cooldown_secs => return false,
            Ok(_) => {}
            Err(err) => wasap_plugin::warn!("cooldown not read: {err}"),
        }
        if let Err(err) = kv::set_json(&key, &now) {
            wasap_plugin::warn!("cooldown not stored: {err}");
        }
        true
    }
}

export_plugin!(AutoReply);

#[cfg(test)]
mod tests;
