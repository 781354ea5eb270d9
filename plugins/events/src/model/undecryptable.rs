//! Undecryptable messages: a message reached the instance, but its content could not be read.

use serde::{Deserialize, Serialize};

/// A message whose content the engine could not decrypt, or that WhatsApp delivered as a
/// placeholder without content. The envelope is a [`crate::Message`]'s, so a receiver can
/// tell who wrote what, where and when, and ask the sender to send it again.
///
/// When the engine could not decrypt, it asks the sender's device to encrypt the message
/// again; if that succeeds, the message arrives later as a separate `message` event with
/// the same `id` (and a different event id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undecryptable {
    /// WhatsApp's id of the message.
    pub id: String,
    /// The chat's JID: the contact's (`...@s.whatsapp.net`) or the group's (`...@g.us`).
    pub chat: String,
    /// The author's JID: the contact, or the participant in a group; their phone-number
    /// JID when known, else their LID.
    pub sender: String,
    /// The author's LID, when known (as in [`crate::Message`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_lid: Option<String>,
    /// The author's phone number (international form without `+`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_phone: Option<String>,
    /// In a one-to-one chat, the contact's LID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_lid: Option<String>,
    /// In a one-to-one chat, the contact's phone number, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_phone: Option<String>,
    /// The author's display name, when WhatsApp sent one.
    pub push_name: Option<String>,
    /// Sent by this account (from the phone or another linked device).
    pub from_me: bool,
    /// The chat is a group.
    pub is_group: bool,
    /// When WhatsApp stamped the message, unix seconds.
    pub timestamp: i64,
    /// Why there is no content, one of [`Undecryptable::REASONS`]. A string rather than
    /// an enum so that a reason a later version adds survives in stored events unchanged.
    pub reason: String,
}

impl Undecryptable {
    /// The engine could not decrypt the message (a broken or missing session, a bad MAC);
    /// it asked the sender to send it again.
    pub const DECRYPTION_FAILED: &'static str = "decryption_failed";
    /// WhatsApp delivered a placeholder without content (e.g. a message the phone sent
    /// before this device was linked).
    pub const UNAVAILABLE: &'static str = "unavailable";
    /// A placeholder for view-once media, which linked devices do not receive.
    pub const UNAVAILABLE_VIEW_ONCE: &'static str = "unavailable_view_once";
    /// A placeholder for a message of a business's hosted (cloud API) account.
    pub const UNAVAILABLE_HOSTED: &'static str = "unavailable_hosted";
    /// A placeholder for a message of a bot (Meta AI).
    pub const UNAVAILABLE_BOT: &'static str = "unavailable_bot";
    /// A vote on a poll the instance does not keep (sent from the phone or another
    /// client, or older than the journal's retention): without the poll's secret and
    /// options the vote cannot be read. The envelope names the voter and the vote's id.
    pub const UNKNOWN_POLL: &'static str = "unknown_poll";

    /// Every reason this version writes.
    pub const REASONS: [&'static str; 6] = [
        Undecryptable::DECRYPTION_FAILED,
        Undecryptable::UNAVAILABLE,
        Undecryptable::UNAVAILABLE_VIEW_ONCE,
        Undecryptable::UNAVAILABLE_HOSTED,
        Undecryptable::UNAVAILABLE_BOT,
        Undecryptable::UNKNOWN_POLL,
    ];
}
