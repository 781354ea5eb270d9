//! The recipient's LID in a send's answer: WhatsApp names most accounts by
//! a LID today, and a client that stores chats by LID wants it. The client
//! learns the pair of a phone number and its LID from number checks and
//! sends (usync) and keeps it; this reads it there, and asks nobody.

use whatsapp_rust::{Client, Jid};

use crate::engine::SentMessage;

/// `sent` with its recipient's LID, when the client knows it: the
/// recipient itself when WhatsApp addressed it by LID, the LID paired with
/// its phone number otherwise. Groups have none.
pub(super) async fn with_lid(client: &Client, mut sent: SentMessage) -> SentMessage {
    let Ok(jid) = sent.to.parse::<Jid>() else { return sent };
    sent.lid = if jid.is_lid() {
        Some(jid.to_non_ad_string())
    } else if jid.is_pn() {
        match client.get_lid_pn_entry(&jid).await {
            Ok(Some(entry)) => Some(Jid::lid(&*entry.lid).to_string()),
            _ => None,
        }
    } else {
        None
    };
    sent
}
