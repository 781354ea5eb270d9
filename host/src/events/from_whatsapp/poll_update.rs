//! Poll votes as whatsapp-rust hands them over: a `pollUpdateMessage`, still
//! encrypted under the poll's secret. This reads its envelope (who voted on
//! which poll, where and when) and its ciphertext; the engine decrypts it
//! with the secret it kept and the [`PollBook`](crate::polls::PollBook)
//! tallies it.

use whatsapp_rust::Jid;
use whatsapp_rust::types::message::MessageInfo;
use whatsapp_rust::waproto::whatsapp as wa;

use super::{chat_jid, content, sender_jid};
use crate::polls::Ballot;

/// A vote still to decrypt.
#[derive(Debug, Clone)]
pub struct PollUpdate {
    /// Everything about the vote but the options it picks (empty here).
    pub ballot: Ballot,
    /// The voter as WhatsApp addressed the vote (the key's derivation uses it).
    pub voter_jid: Jid,
    pub enc_payload: Vec<u8>,
    pub enc_iv: Vec<u8>,
}

/// The poll vote `message` carries; `None` when it carries none.
pub fn poll_update(message: &wa::Message, info: &MessageInfo) -> Option<PollUpdate> {
    let update = content::base_of(message).poll_update_message.as_option()?;
    let poll_id = update.poll_creation_message_key.as_option()?.id.clone()?;
    let vote = update.vote.as_option()?;
    let source = &info.source;
    let voter_lid = [Some(&source.sender), source.sender_alt.as_ref()]
        .into_iter()
        .flatten()
        .find(|jid| jid.is_lid())
        .map(|jid| jid.to_non_ad().to_string());
    let voted_at_ms = update
        .sender_timestamp_ms
        .unwrap_or_else(|| info.timestamp.timestamp_millis());
    Some(PollUpdate {
        ballot: Ballot {
            id: info.id.to_string(),
            poll_id,
            chat: chat_jid(source),
            voter: sender_jid(source),
            voter_lid,
            push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
            is_group: source.is_group,
            voted_at_ms,
            selected: Vec::new(),
        },
        voter_jid: source.sender.to_non_ad(),
        enc_payload: vote.enc_payload.clone().unwrap_or_default(),
        enc_iv: vote.enc_iv.clone().unwrap_or_default(),
    })
}
