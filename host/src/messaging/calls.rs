//! Rejecting a call: the instance declines a call that rings on it (named by
//! the id and the caller its `call_offer` event gave), and the caller sees it
//! declined. Checked before anything reaches WhatsApp: the caller must name
//! a user (a phone number, or a user or LID JID), not a group.

use super::recipient::{Recipient, RecipientError};
use super::{Messenger, SendError};

/// The longest call id accepted (WhatsApp's are 32 hex digits or so).
const MAX_CALL_ID: usize = 128;

/// Whether `call_id` can be a WhatsApp call id: 1 to 128 of `A-Z`, `a-z`, `0-9`, `-`, `_`, `.`.
pub fn valid_call_id(call_id: &str) -> bool {
    (1..=MAX_CALL_ID).contains(&call_id.len())
        && call_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Messenger {
    /// Rejects the call `call_id` that `from` (a phone number or the
    /// caller's JID) is making to instance `id`. `CallNotFound` (as an
    /// engine error) when no such call rings, an invalid id included.
    pub async fn reject_call(&self, id: &str, call_id: &str, from: &str) -> Result<(), SendError> {
        let caller = match Recipient::parse(from)? {
            Recipient::Phone(phone) => format!("{phone}@s.whatsapp.net"),
            Recipient::Jid(jid) if jid.ends_with("@g.us") => return Err(RecipientError::InvalidJid(jid).into()),
            Recipient::Jid(jid) => jid,
        };
        let session = self.instances.session(id)?;
        if !valid_call_id(call_id) {
            return Err(crate::engine::EngineError::CallNotFound(call_id.to_owned()).into());
        }
        session.reject_call(call_id, &caller).await?;
        tracing::info!(instance = %id, call = %call_id, "call rejected");
        Ok(())
    }
}
