//! Polls an instance sent, and the votes they get, the same on both engines.
//!
//! An engine records each poll it sent through the instance's [`PollBook`]
//! (the real engine with the message secret WhatsApp's votes are encrypted
//! under). When a vote arrives, the engine reads which options it picks (the
//! real engine decrypts it; the simulated one is told), and the book keeps it
//! as the voter's latest and answers the `poll_vote` event with the totals so
//! far ([`tally`]). A vote on a poll the book does not have (sent from the
//! phone, or pruned past the journal's retention) cannot be read: it becomes a
//! `message_undecryptable` event with reason `unknown_poll`, never a silent drop.

pub mod tally;

use crate::events::{EventKind, PollVote, Undecryptable};
use crate::store::polls::{StoredPoll, StoredVote};
use crate::store::{Store, StoreError};

/// One instance's polls. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PollBook {
    store: Store,
    instance_id: String,
}

/// A vote as an engine received it, its options already named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot {
    /// WhatsApp's id of the vote message.
    pub id: String,
    /// The poll voted on.
    pub poll_id: String,
    /// The chat the vote came in.
    pub chat: String,
    /// The voter's JID (phone-number JID where known, else LID), without device.
    pub voter: String,
    pub voter_lid: Option<String>,
    pub push_name: Option<String>,
    pub is_group: bool,
    /// When the voter voted, unix milliseconds (their clock).
    pub voted_at_ms: i64,
    /// The options picked, by name; empty to withdraw the vote.
    pub selected: Vec<String>,
}

impl PollBook {
    pub fn new(store: Store, instance_id: &str) -> PollBook {
        PollBook {
            store,
            instance_id: instance_id.to_owned(),
        }
    }

    /// Remembers a poll WhatsApp took. The poll is out whatever the record's
    /// fate: a failed record is logged, and its votes will be reported as
    /// `unknown_poll`.
    pub async fn sent(&self, poll: StoredPoll) {
        if let Err(e) = self.store.record_poll(&self.instance_id, &poll).await {
            tracing::warn!(instance = %self.instance_id, message_id = %poll.message_id, error = %e,
                "a sent poll could not be recorded; its votes will not be readable");
        }
    }

    /// The poll `poll_id`, if this instance sent it and it is still kept.
    pub async fn find(&self, poll_id: &str) -> Result<Option<StoredPoll>, StoreError> {
        self.store.find_poll(&self.instance_id, poll_id).await
    }

    /// Counts `ballot` as its voter's latest vote on `poll` (unless the voter
    /// voted later already) and answers the event that reports it, with every
    /// option's total so far.
    pub async fn vote(&self, poll: &StoredPoll, ballot: Ballot) -> Result<EventKind, StoreError> {
        let selected = tally::in_poll_order(&poll.options, &ballot.selected);
        // The last vote per voter wins: a voter is one person whichever of
        // their JIDs WhatsApp named them by, so their LID keys them when known.
        let key = ballot.voter_lid.clone().unwrap_or_else(|| ballot.voter.clone());
        let votes = self
            .store
            .record_poll_vote(
                &self.instance_id,
                &poll.message_id,
                &StoredVote {
                    voter: key,
                    selected: selected.clone(),
                    voted_at: ballot.voted_at_ms,
                },
            )
            .await?;
        Ok(EventKind::PollVote(PollVote {
            voter_phone: phone_of(&ballot.voter),
            totals: tally::totals(&poll.options, &votes),
            id: ballot.id,
            poll_id: ballot.poll_id,
            chat: ballot.chat,
            voter: ballot.voter,
            voter_lid: ballot.voter_lid,
            push_name: ballot.push_name,
            is_group: ballot.is_group,
            timestamp: ballot.voted_at_ms.div_euclid(1000),
            selected,
        }))
    }

    /// The event for a vote that cannot be read: its poll is not kept
    /// (`unknown_poll`), or its decryption failed (`decryption_failed`).
    pub fn unreadable(ballot: &Ballot, reason: &str) -> EventKind {
        EventKind::MessageUndecryptable(Undecryptable {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: ballot.id.clone(),
            chat: ballot.chat.clone(),
            sender: ballot.voter.clone(),
            push_name: ballot.push_name.clone(),
            from_me: false,
            is_group: ballot.is_group,
            timestamp: ballot.voted_at_ms.div_euclid(1000),
            reason: reason.to_owned(),
        })
    }
}

/// The phone number of a phone-number JID (`62812…@s.whatsapp.net`).
fn phone_of(jid: &str) -> Option<String> {
    let user = jid.strip_suffix("@s.whatsapp.net")?;
    let user = user.split(':').next().unwrap_or(user);
    (!user.is_empty() && user.bytes().all(|b| b.is_ascii_digit())).then(|| user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_phone_number_jids_have_a_phone() {
        assert_eq!(
            phone_of("6281234567890@s.whatsapp.net").as_deref(),
            Some("6281234567890")
        );
        assert_eq!(
            phone_of("6281234567890:3@s.whatsapp.net").as_deref(),
            Some("6281234567890")
        );
        assert_eq!(phone_of("123456789@lid"), None);
        assert_eq!(phone_of("120363@g.us"), None);
        assert_eq!(phone_of("@s.whatsapp.net"), None);
    }
}
