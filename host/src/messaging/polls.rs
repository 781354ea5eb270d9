//! Sending a poll: the checks a poll passes before it is sent, the same for
//! every caller (the HTTP routes and the plugins' actions), and
//! [`Messenger::send_poll`].
//!
//! WhatsApp's limits, as whatsapp-rust enforces them when it builds the poll
//! message: 2 to 12 options, no two alike (a vote names an option by the
//! SHA-256 of its text, so two equal options could not be told apart), and a
//! voter picks 1 up to every option. WhatsApp Web writes 0 for "any number"
//! in the message; whatsapp-rust takes the number of options for that, and so
//! does wasap. The question and the options are trimmed, must not be empty,
//! and are bounded like WhatsApp's own poll form (255 and 100 characters).

use super::{Messenger, SendError};
use crate::engine::{OutgoingPoll, SentMessage};

/// Options of a poll, at least.
pub const MIN_OPTIONS: usize = 2;
/// Options of a poll, at most.
pub const MAX_OPTIONS: usize = 12;
/// Characters of a poll's question, at most.
pub const MAX_QUESTION_CHARS: usize = 255;
/// Characters of one option, at most.
pub const MAX_OPTION_CHARS: usize = 100;

/// Why a poll cannot be sent; each with the code the API answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPoll {
    #[error("the question is 1 to {MAX_QUESTION_CHARS} characters")]
    Question,
    #[error("a poll has at least {MIN_OPTIONS} options")]
    TooFewOptions,
    #[error("a poll has at most {MAX_OPTIONS} options")]
    TooManyOptions,
    #[error("an option is 1 to {MAX_OPTION_CHARS} characters")]
    Option,
    #[error("the option {0:?} is there twice; options must differ")]
    DuplicateOption(String),
    #[error("selectableCount is 1 (a single choice) up to the number of options ({0})")]
    SelectableCount(usize),
}

impl InvalidPoll {
    /// The stable `error` code of the API's answer.
    pub fn code(&self) -> &'static str {
        match self {
            InvalidPoll::Question => "invalid_poll_question",
            InvalidPoll::TooFewOptions => "too_few_poll_options",
            InvalidPoll::TooManyOptions => "too_many_poll_options",
            InvalidPoll::Option => "invalid_poll_option",
            InvalidPoll::DuplicateOption(_) => "duplicate_poll_options",
            InvalidPoll::SelectableCount(_) => "invalid_selectable_count",
        }
    }
}

/// Why [`Messenger::send_poll`] did not send.
#[derive(Debug, thiserror::Error)]
pub enum PollSendError {
    #[error(transparent)]
    Invalid(#[from] InvalidPoll),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// `poll` checked and trimmed: what is sent, or why it cannot be.
pub fn check(poll: OutgoingPoll) -> Result<OutgoingPoll, InvalidPoll> {
    let name = poll.name.trim();
    if name.is_empty() || name.chars().count() > MAX_QUESTION_CHARS {
        return Err(InvalidPoll::Question);
    }
    if poll.options.len() < MIN_OPTIONS {
        return Err(InvalidPoll::TooFewOptions);
    }
    if poll.options.len() > MAX_OPTIONS {
        return Err(InvalidPoll::TooManyOptions);
    }
    let mut options: Vec<String> = Vec::with_capacity(poll.options.len());
    for option in &poll.options {
        let option = option.trim();
        if option.is_empty() || option.chars().count() > MAX_OPTION_CHARS {
            return Err(InvalidPoll::Option);
        }
        if options.iter().any(|seen| seen == option) {
            return Err(InvalidPoll::DuplicateOption(option.to_owned()));
        }
        options.push(option.to_owned());
    }
    let selectable = usize::try_from(poll.selectable_count).unwrap_or(usize::MAX);
    if !(1..=options.len()).contains(&selectable) {
        return Err(InvalidPoll::SelectableCount(options.len()));
    }
    Ok(OutgoingPoll {
        name: name.to_owned(),
        options,
        selectable_count: poll.selectable_count,
    })
}

impl Messenger {
    /// Sends a poll from instance `id` once it passes [`check`]; its votes
    /// come back as `poll_vote` events.
    pub async fn send_poll(&self, id: &str, to: &str, poll: OutgoingPoll) -> Result<SentMessage, PollSendError> {
        let poll = check(poll)?;
        let (session, jid) = self.prepare(id, to).await?;
        let sent = self
            .counted(id, session.send_poll(&jid, poll).await)
            .map_err(SendError::from)?;
        self.sent(id, "poll", &sent).await;
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(options: &[&str], selectable_count: u32) -> OutgoingPoll {
        OutgoingPoll {
            name: " Lunch? ".to_owned(),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            selectable_count,
        }
    }

    #[test]
    fn a_good_poll_is_trimmed() {
        let checked = check(poll(&[" Rice ", "Noodles"], 2)).unwrap();
        assert_eq!(checked.name, "Lunch?");
        assert_eq!(checked.options, ["Rice", "Noodles"]);
        assert_eq!(checked.selectable_count, 2);
    }

    #[test]
    fn each_bad_poll_says_why() {
        let twelve: Vec<String> = (1..=13).map(|i| format!("option {i}")).collect();
        let thirteen: Vec<&str> = twelve.iter().map(String::as_str).collect();
        assert!(check(poll(&thirteen[..12], 12)).is_ok());
        let long = "x".repeat(MAX_OPTION_CHARS + 1);
        let cases = [
            (poll(&[], 1), InvalidPoll::TooFewOptions),
            (poll(&["Rice"], 1), InvalidPoll::TooFewOptions),
            (poll(&thirteen, 1), InvalidPoll::TooManyOptions),
            (poll(&["Rice", " "], 1), InvalidPoll::Option),
            (poll(&["Rice", &long], 1), InvalidPoll::Option),
            (
                poll(&["Rice", "Noodles", " Rice"], 1),
                InvalidPoll::DuplicateOption("Rice".to_owned()),
            ),
            (poll(&["Rice", "Noodles"], 0), InvalidPoll::SelectableCount(2)),
            (poll(&["Rice", "Noodles"], 3), InvalidPoll::SelectableCount(2)),
            (
                OutgoingPoll {
                    name: "  ".to_owned(),
                    ..poll(&["Rice", "Noodles"], 1)
                },
                InvalidPoll::Question,
            ),
        ];
        for (bad, why) in cases {
            assert_eq!(check(bad.clone()), Err(why), "{bad:?}");
        }
    }
}
