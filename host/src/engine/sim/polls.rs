//! Polls on the simulated network: what it records of a poll an instance
//! sent, and a contact's vote on one, tallied by the instance's
//! [`PollBook`](crate::polls::PollBook) exactly as on the real engine (which
//! decrypts the vote first; here the contact names its options).

use serde::{Deserialize, Serialize};

use super::incoming::new_message_id;
use super::network::{SentRecord, SimError};
use super::session::SimSession;
use crate::engine::{InboundEvent, OutgoingPoll};
use crate::events::Undecryptable;
use crate::polls::{Ballot, PollBook};
use crate::store::polls::StoredPoll;

/// A poll as the simulated network received it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentPoll {
    /// The question.
    pub name: String,
    pub options: Vec<String>,
    /// How many options a voter may pick.
    pub selectable_count: u32,
}

/// The record of poll `poll` sent to `to`.
pub(super) fn record(to: &str, poll: &OutgoingPoll) -> SentRecord {
    SentRecord {
        to: to.to_owned(),
        message_id: crate::engine::chosen_id::or_new(new_message_id),
        kind: "poll",
        poll: Some(SentPoll {
            name: poll.name.clone(),
            options: poll.options.clone(),
            selectable_count: poll.selectable_count,
        }),
        ..SentRecord::default()
    }
}

/// The poll as the instance keeps it: no secret, since nothing here is
/// encrypted.
pub(super) fn stored(message_id: &str, to: &str, poll: OutgoingPoll) -> StoredPoll {
    StoredPoll {
        message_id: message_id.to_owned(),
        chat: to.to_owned(),
        name: poll.name,
        options: poll.options,
        selectable_count: poll.selectable_count,
        secret: None,
        sent_at: crate::clock::now_secs(),
    }
}

impl SimSession {
    /// A contact's vote arrives: tallied, then delivered like any inbound
    /// event. A vote on a poll the instance does not keep is delivered as
    /// unreadable (`unknown_poll`), as the real engine does.
    pub(super) async fn poll_vote(&self, ballot: Ballot) -> Result<(), SimError> {
        let poll = self
            .polls
            .find(&ballot.poll_id)
            .await
            .map_err(|e| SimError::Store(e.to_string()))?;
        let kind = match poll {
            Some(poll) => self
                .polls
                .vote(&poll, ballot)
                .await
                .map_err(|e| SimError::Store(e.to_string()))?,
            None => PollBook::unreadable(&ballot, Undecryptable::UNKNOWN_POLL),
        };
        self.deliver(InboundEvent { kind, media: None }).await
    }
}
