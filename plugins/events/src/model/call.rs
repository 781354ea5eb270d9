//! Calls: a contact calling the instance (WhatsApp's `<call>` signalling), and how the call
//! ended. The instance never answers a call (a bot cannot talk); it lets it ring, or
//! rejects it (`POST /api/calls/{id}/reject`, or automatically with the instance's
//! `reject_calls` setting).

use serde::{Deserialize, Serialize};

/// One call, as the `call_offer`, `call_missed` and `call_ended` events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// WhatsApp's call id: the same in the offer and in what ends the call, and what
    /// `POST /api/calls/{id}/reject` names.
    pub id: String,
    /// The caller: their phone-number JID when known, else their LID (`...@lid`).
    pub from: String,
    /// The caller's LID, when known.
    pub from_lid: Option<String>,
    /// The caller's phone number (international form without `+`), when known.
    pub from_phone: Option<String>,
    /// The group the call is in, for a group call.
    pub group: Option<String>,
    /// A video call (else a voice call).
    pub is_video: bool,
    /// A group call.
    pub is_group: bool,
    /// When it happened, unix seconds, as WhatsApp stamped it.
    pub timestamp: i64,
    /// `call_missed` and `call_ended`: why the call stopped (see [`Call::REASONS`]);
    /// `None` for an offer.
    pub reason: Option<String>,
    /// `call_offer`: the instance rejected the call by itself, as its `reject_calls`
    /// setting says (the reject went out once the offer was journalled).
    pub auto_rejected: bool,
}

impl Call {
    /// The reasons a call stops:
    /// - `call_missed`: `timeout` (it rang out), `hung_up` (the caller gave up before it
    ///   was answered), `offline` (it rang while the instance was offline);
    /// - `call_ended`: `accepted_elsewhere` and `rejected_elsewhere` (answered or declined
    ///   on the account's phone or another of its devices), or WhatsApp's own word for
    ///   anything else.
    ///
    /// A call the instance rejects has no event of its own: WhatsApp tells the caller, not
    /// the instance (the offer's `auto_rejected` says when the instance did it by itself).
    pub const REASONS: [&'static str; 5] = [
        "timeout",
        "hung_up",
        "offline",
        "accepted_elsewhere",
        "rejected_elsewhere",
    ];
}
