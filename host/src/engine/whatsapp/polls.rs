//! Sending a poll on the real engine: whatsapp-rust makes the poll message
//! (a single-choice poll as `pollCreationMessageV3`, a multiple-choice one
//! as `pollCreationMessage`, as WhatsApp Web does) with a fresh message
//! secret, and hands the secret back; the poll is kept with it in the
//! instance's poll book, since every vote on it is encrypted under it.

use std::time::Duration;

use whatsapp_rust::features::PollError;

use super::recipient_lid::with_lid;
use super::session::{WhatsappSession, recipient, send_error};
use crate::engine::{EngineError, OutgoingPoll, SentMessage};
use crate::store::polls::StoredPoll;

/// How long sending a poll may take.
const POLL_TIMEOUT: Duration = Duration::from_secs(60);

impl WhatsappSession {
    /// Sends `poll` to `to` and keeps it, with its secret, for its votes.
    pub(super) async fn create_poll(&self, to: &str, poll: OutgoingPoll) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let jid = recipient(to)?;
        let created = tokio::time::timeout(
            POLL_TIMEOUT,
            self.client
                .polls()
                .create(jid, &poll.name, &poll.options, poll.selectable_count),
        )
        .await
        .map_err(|_| EngineError::Timeout)?;
        let (result, secret) = created.map_err(poll_error)?;
        let sent = with_lid(&self.client, SentMessage::now(result.message_id, result.to.to_string())).await;
        self.polls
            .sent(StoredPoll {
                message_id: sent.message_id.clone(),
                chat: sent.to.clone(),
                name: poll.name,
                options: poll.options,
                selectable_count: poll.selectable_count,
                secret: Some(secret),
                sent_at: sent.timestamp,
            })
            .await;
        Ok(sent)
    }
}

fn poll_error(error: PollError) -> EngineError {
    match error {
        PollError::Send(e) => send_error(e),
        // The poll was checked before it got here (`messaging::polls`).
        other => EngineError::Protocol(format!("poll not sent: {other}")),
    }
}
