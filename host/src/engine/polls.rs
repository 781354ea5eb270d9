//! What the poll send of the [`Session`](super::Session) seam carries.

/// A poll to send, already checked (`messaging::polls`): a question, 2 to 12
/// distinct options, and how many of them a voter may pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPoll {
    /// The question.
    pub name: String,
    /// The options, in the order shown.
    pub options: Vec<String>,
    /// How many options a voter may pick: 1 (a single choice) up to the
    /// number of options (any of them).
    pub selectable_count: u32,
}
