//! Poll votes: a contact voted on a poll this instance sent, with the running totals.

use serde::{Deserialize, Serialize};

/// A contact voted on (or changed or withdrew their vote on) a poll this instance sent.
///
/// WhatsApp sends a vote encrypted under the poll's secret and naming options by the
/// SHA-256 of their text; the engine decrypts it with the secret kept when the poll was
/// sent and reports the options by name. Each vote replaces the voter's previous one: an
/// empty `selected` withdraws it. `totals` counts, per option, the voters whose latest
/// vote picks it, as the instance knows them when this vote arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollVote {
    /// WhatsApp's id of the vote message itself.
    pub id: String,
    /// The id of the poll voted on (the message the instance sent).
    pub poll_id: String,
    /// The poll's chat: the contact's JID, or the group's (`...@g.us`).
    pub chat: String,
    /// The voter's JID as users address it: their phone-number JID where WhatsApp gave
    /// one, else their LID.
    pub voter: String,
    /// The voter's LID (`...@lid`), when WhatsApp named it.
    pub voter_lid: Option<String>,
    /// The voter's phone number (international form without `+`), when known.
    pub voter_phone: Option<String>,
    /// The voter's display name, when WhatsApp sent one.
    pub push_name: Option<String>,
    /// The chat is a group.
    pub is_group: bool,
    /// When the voter voted, unix seconds.
    pub timestamp: i64,
    /// The options this vote picks, by name, in the poll's order; empty when the voter
    /// withdrew their vote.
    pub selected: Vec<String>,
    /// Every option of the poll, in the poll's order, with its count of votes so far.
    pub totals: Vec<PollTotal>,
}

/// One option of a poll and how many voters pick it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollTotal {
    /// The option's text.
    pub option: String,
    /// Voters whose latest vote picks this option.
    pub votes: u32,
}
