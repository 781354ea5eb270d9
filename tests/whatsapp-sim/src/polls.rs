//! Polls: what a contact's phone reads in a poll it received, and its vote
//! on one, sent the way WhatsApp sends it: a `pollUpdateMessage` naming the
//! poll by its key, the picked options as SHA-256 hashes of their text,
//! encrypted (AES-GCM) under a key derived from the poll's message secret,
//! the poll's id and both JIDs (wacore's `encrypt_poll_vote_with_secret`).

use wacore::poll::{compute_option_hash, encrypt_poll_vote_with_secret};
use wacore_binary::Jid;
use waproto::whatsapp as wa;

use crate::error::{Result, SimError};
use crate::{Contact, ReceivedMessage};

/// A poll as the phone that received it reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPoll {
    /// The poll message's id.
    pub id: String,
    /// Who made it: the sender's JID without device.
    pub creator: String,
    pub name: String,
    pub options: Vec<String>,
    /// `selectableOptionsCount`, as sent.
    pub selectable_count: u32,
    /// Which message field carried it: `v3` (single choice, as WhatsApp Web
    /// sends those) or `v1`.
    pub version: &'static str,
    /// The message secret its votes are encrypted under.
    pub secret: Vec<u8>,
}

impl ReceivedPoll {
    /// The poll `message` carries, if it carries one.
    pub fn of(message: &ReceivedMessage) -> Option<ReceivedPoll> {
        let m = &message.message;
        let (poll, version) = match (
            m.poll_creation_message_v3.as_option(),
            m.poll_creation_message.as_option(),
        ) {
            (Some(poll), _) => (poll, "v3"),
            (None, Some(poll)) => (poll, "v1"),
            (None, None) => return None,
        };
        let creator = message.from.parse::<Jid>().ok()?.to_non_ad().to_string();
        Some(ReceivedPoll {
            id: message.id.clone(),
            creator,
            name: poll.name.clone().unwrap_or_default(),
            options: poll
                .options
                .iter()
                .map(|o| o.option_name.clone().unwrap_or_default())
                .collect(),
            selectable_count: poll.selectable_options_count.unwrap_or(0),
            version,
            secret: m
                .message_context_info
                .as_option()
                .and_then(|c| c.message_secret.clone())
                .unwrap_or_default(),
        })
    }
}

impl Contact {
    /// Votes on `poll` (received from its creator in a one-to-one chat) for
    /// `options` (none withdraws the vote); returns the vote's id.
    pub async fn vote(&self, poll: &ReceivedPoll, options: &[&str]) -> Result<String> {
        let hashes: Vec<Vec<u8>> = options.iter().map(|o| compute_option_hash(o).to_vec()).collect();
        let voter = Jid::pn(self.pn.as_str()).to_string();
        let (payload, iv) = encrypt_poll_vote_with_secret(&hashes, &poll.secret, &poll.id, &poll.creator, &voter)
            .map_err(|e| SimError::Protocol(format!("encrypting a vote: {e}")))?;
        let vote = wa::Message {
            poll_update_message: buffa::MessageField::some(wa::message::PollUpdateMessage {
                // The poll's key from the voter's side: the chat is its creator.
                poll_creation_message_key: buffa::MessageField::some(wa::MessageKey {
                    remote_jid: Some(poll.creator.clone()),
                    from_me: Some(false),
                    id: Some(poll.id.clone()),
                    participant: None,
                }),
                vote: buffa::MessageField::some(wa::message::PollEncValue {
                    enc_payload: Some(payload),
                    enc_iv: Some(iv.to_vec()),
                }),
                metadata: buffa::MessageField::none(),
                sender_timestamp_ms: Some(wacore::time::now_millis()),
            }),
            ..Default::default()
        };
        self.send_message(&poll.creator, &vote).await
    }
}
