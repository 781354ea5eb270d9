//! A poll vote on the real engine: decrypted with the secret the poll was
//! sent with (whatsapp-rust's `polls().decrypt_vote`, which also tries the
//! voter's and this account's other namespace, LID or phone number), its
//! option hashes named ([`tally`]), and tallied by the instance's poll book.
//!
//! A vote that cannot be read is still reported, never dropped: as
//! `message_undecryptable` with reason `unknown_poll` when the poll is not
//! kept (sent from the phone or another client, or pruned), or
//! `decryption_failed` when its secret does not open it.

use std::sync::Arc;

use tracing::warn;
use whatsapp_rust::Client;
use whatsapp_rust::features::PollVoteCiphertext;

use crate::engine::InboundEvent;
use crate::events::Undecryptable;
use crate::events::from_whatsapp::PollUpdate;
use crate::polls::{PollBook, tally};
use crate::store::StoreError;

/// The event for `vote`: the tallied vote, or why it cannot be read. `Err`
/// only when the poll book cannot be read or written (the batch then fails
/// and WhatsApp delivers it again).
pub(super) async fn event(
    client: &Arc<Client>,
    polls: &PollBook,
    vote: PollUpdate,
) -> Result<InboundEvent, StoreError> {
    let PollUpdate {
        mut ballot,
        voter_jid,
        enc_payload,
        enc_iv,
    } = vote;
    let found = polls.find(&ballot.poll_id).await?;
    let (poll, secret) = match found {
        Some(poll) => match poll.secret.clone() {
            Some(secret) => (poll, secret),
            None => return Ok(unreadable(&ballot, Undecryptable::UNKNOWN_POLL)),
        },
        None => return Ok(unreadable(&ballot, Undecryptable::UNKNOWN_POLL)),
    };
    // This account made the poll; its votes are keyed by the account's
    // phone-number JID (decrypt_vote tries the LID too).
    let Some(creator) = client.pn().or_else(|| client.lid()).map(|jid| jid.to_non_ad()) else {
        return Ok(unreadable(&ballot, Undecryptable::DECRYPTION_FAILED));
    };
    let ciphertext = PollVoteCiphertext {
        enc_payload: &enc_payload,
        enc_iv: &enc_iv,
    };
    let hashes = match client
        .polls()
        .decrypt_vote(ciphertext, &secret, &poll.message_id, &creator, &voter_jid)
        .await
    {
        Ok(hashes) => hashes,
        Err(e) => {
            warn!(poll = %poll.message_id, vote = %ballot.id, error = %e, "a poll vote could not be decrypted");
            return Ok(unreadable(&ballot, Undecryptable::DECRYPTION_FAILED));
        }
    };
    ballot.selected = tally::options_of_hashes(&poll.options, &hashes);
    Ok(InboundEvent {
        kind: polls.vote(&poll, ballot).await?,
        media: None,
    })
}

fn unreadable(ballot: &crate::polls::Ballot, reason: &str) -> InboundEvent {
    InboundEvent {
        kind: PollBook::unreadable(ballot, reason),
        media: None,
    }
}
