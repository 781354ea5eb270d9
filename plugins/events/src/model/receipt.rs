//! Receipts: acknowledgements of messages this account sent (or saw on another device).

use serde::{Deserialize, Serialize};

/// Messages in one chat were acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The chat's JID.
    pub chat: String,
    /// Who acknowledged: the contact, or the participant in a group; their phone-number
    /// JID when known, else their LID.
    pub sender: String,
    /// Their LID (`...@lid`), when known. WhatsApp names a LID-addressed contact's
    /// receipts by LID alone; the LID and phone-number pairs the instance has learnt
    /// fill in the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_lid: Option<String>,
    /// Their phone number (international form without `+`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_phone: Option<String>,
    /// The acknowledged message ids (WhatsApp batches them).
    pub ids: Vec<String>,
    pub receipt_type: ReceiptType,
    /// When the acknowledgement was made, unix seconds.
    pub timestamp: i64,
}

/// What a receipt acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReceiptType {
    /// The message reached the recipient's device.
    Delivered,
    /// The recipient opened the chat and saw the message.
    Read,
    /// The recipient played the voice note or video, or opened the view-once media.
    Played,
}

impl ReceiptType {
    /// The type as it appears in JSON (`delivered`, `read`, `played`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptType::Delivered => "delivered",
            ReceiptType::Read => "read",
            ReceiptType::Played => "played",
        }
    }
}
