//! Inbound traffic: messages, receipts and group events from WhatsApp.

use serde::Serialize;

/// Something that arrived from WhatsApp for an instance.
#[derive(Debug, Clone, Serialize)]
pub struct InboundEvent {
    /// WhatsApp's message id (for receipts: the first acknowledged id).
    pub message_id: String,
    /// The chat: the contact's JID, or the group's.
    pub chat: String,
    /// Who sent it: the contact, or the participant in a group.
    pub sender: String,
    pub push_name: Option<String>,
    pub from_me: bool,
    pub is_group: bool,
    /// Unix seconds, as WhatsApp stamped it.
    pub timestamp: i64,
    pub kind: InboundKind,
}

/// The shape of an inbound event.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundKind {
    /// Emitted when a message arrives; `text` is the text or the media caption.
    Message { message_kind: String, text: Option<String> },
    /// Emitted when messages we sent were delivered, read or played.
    Receipt { receipt: ReceiptType, ids: Vec<String> },
    /// Emitted when group participants join, leave, are promoted or demoted.
    GroupParticipants { action: GroupAction, jids: Vec<String> },
}

impl InboundKind {
    /// The stable snake_case name used by filters and subscriptions.
    pub fn name(&self) -> &'static str {
        match self {
            InboundKind::Message { .. } => "message",
            InboundKind::Receipt { .. } => "receipt",
            InboundKind::GroupParticipants { .. } => "group_participants",
        }
    }
}

/// What a receipt acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptType {
    Delivered,
    Read,
    Played,
}

/// What happened to group participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupAction {
    Join,
    Leave,
    Promote,
    Demote,
}
