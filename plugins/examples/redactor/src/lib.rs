//! redactor: replaces phone numbers in message text with a mask.
//!
//! Texts, edits, captions and quoted texts are redacted, and the event goes on as a
//! `replace`, so webhooks, WebSockets and later plugins only ever see the masked text.
//! Events with nothing to redact continue unchanged (no copy crosses the boundary). The
//! plugin imports nothing: it is pure computation on the event.

use serde::Deserialize;
use wasap_plugin::{Content, Event, EventKind, Message, Outcome, Plugin, export_plugin};

/// The plugin's config (the manifest's `[config]` table).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// What a phone number becomes.
    pub mask: String,
    /// The fewest digits that make a phone number; shorter numbers (prices, years,
    /// dates, codes) are left alone.
    pub min_digits: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mask: "[phone]".to_owned(),
            min_digits: 9,
        }
    }
}

/// The longest phone number (E.164).
const MAX_DIGITS: usize = 15;

/// The redactor.
pub struct Redactor {
    config: Config,
}

impl Plugin for Redactor {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = wasap_plugin::parse_config(config)?;
        if !(1..=MAX_DIGITS).contains(&config.min_digits) {
            return Err(format!("invalid config: min_digits must be 1 to {MAX_DIGITS}"));
        }
        Ok(Redactor { config })
    }

    fn handle(&mut self, mut event: Event) -> Outcome {
        let EventKind::Message(message) = &mut event.kind else {
            return Outcome::cont();
        };
        if self.redact_message(message) {
            Outcome::replace(event)
        } else {
            Outcome::cont()
        }
    }
}

impl Redactor {
    /// Redacts every text the message carries; whether anything changed.
    fn redact_message(&self, message: &mut Message) -> bool {
        let mut changed = false;
        let mut redact = |text: &mut String| {
            if let Some(redacted) = self.redact(text) {
                *text = redacted;
                changed = true;
            }
        };
        match &mut message.content {
            Content::Text { text } | Content::Edited { text, .. } => redact(text),
            content => {
                if let Some(caption) = content.media_mut().and_then(|m| m.caption.as_mut()) {
                    redact(caption);
                }
            }
        }
        if let Some(quoted) = &mut message.quoted {
            redact(&mut quoted.text);
        }
        changed
    }

    /// `text` with its phone numbers masked, or `None` when it has none.
    ///
    /// A phone number is an optional `+`, then digits in groups separated by single
    /// spaces, dashes, dots or parentheses, with `min_digits` to 15 digits, and no letter
    /// or digit right before or after it.
    pub fn redact(&self, text: &str) -> Option<String> {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0; // byte offset in `text` up to which `out` is written
        let mut i = 0;
        while i < chars.len() {
            let starts = match chars[i].1 {
                '+' | '(' => chars.get(i + 1).is_some_and(|(_, c)| c.is_ascii_digit()),
                c => c.is_ascii_digit(),
            };
            let boundary = i == 0 || !chars[i - 1].1.is_alphanumeric();
            if starts
                && boundary
                && let Some(end) = self.number_end(&chars, i)
            {
                out.push_str(&text[copied..chars[i].0]);
                out.push_str(&self.config.mask);
                copied = chars.get(end).map_or(text.len(), |(byte, _)| *byte);
                i = end;
                continue;
            }
            i += 1;
        }
        (copied > 0).then(|| {
            out.push_str(&text[copied..]);
            out
        })
    }

    /// Where the phone number starting at `start` ends (exclusive), if one does.
    fn number_end(&self, chars: &[(usize, char)], start: usize) -> Option<usize> {
        let mut digits = 0;
        let mut end = None; // just after the last digit
        let mut i = start;
        if chars[i].1 == '+' {
            i += 1;
        }
        while let Some(&(_, c)) = chars.get(i) {
            if c.is_ascii_digit() {
                digits += 1;
                end = Some(i + 1);
                i += 1;
                continue;
            }
            // One or two separators join digit groups ("0812 34", "(021) 555", "+1 (415)"),
            // but not a doubled one ("12  34", "1--2"), which reads as two numbers.
            let run = chars[i..]
                .iter()
                .take_while(|(_, c)| matches!(c, ' ' | '-' | '.' | '(' | ')'))
                .count();
            let doubled = run == 2 && chars[i].1 == chars[i + 1].1;
            let joins = chars.get(i + run).is_some_and(|(_, c)| c.is_ascii_digit());
            if run > 2 || doubled || !joins {
                break;
            }
            i += run;
        }
        let end = end?;
        let closes = chars.get(end).is_none_or(|(_, c)| !c.is_alphanumeric());
        (closes && (self.config.min_digits..=MAX_DIGITS).contains(&digits)).then_some(end)
    }
}

export_plugin!(Redactor);

#[cfg(test)]
mod tests;
