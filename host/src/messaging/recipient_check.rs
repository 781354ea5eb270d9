//! Many recipients checked at once, as a send checks its one (a bulk send's
//! list, before anything is queued): each parsed, and the phone numbers
//! among them asked of WhatsApp in a few batched queries instead of one
//! query each. Answers go to and come from the same cache as a single send's.

use std::collections::{HashMap, HashSet};

use super::{Messenger, Recipient, SendError};
use crate::engine::NumberCheck;

/// Numbers asked of WhatsApp in one query at most.
pub const CHECK_BATCH: usize = 100;

impl Messenger {
    /// Each of `recipients` (phone numbers or JIDs, as a send's `to`), in
    /// order: the JID a send to it would go to, or why none would
    /// ([`SendError::Recipient`] for a malformed one,
    /// [`SendError::NotOnWhatsapp`] for a number without WhatsApp). JIDs
    /// are taken as given, as by a send. Fails as a whole only when the
    /// instance cannot ask (not connected) or WhatsApp does not answer.
    pub async fn check_recipients(
        &self,
        id: &str,
        recipients: &[String],
    ) -> Result<Vec<Result<String, SendError>>, SendError> {
        let session = self.instances.session(id)?;
        let parsed: Vec<Result<Recipient, SendError>> = recipients
            .iter()
            .map(|to| Recipient::parse(to).map_err(SendError::from))
            .collect();
        let mut seen = HashSet::new();
        let mut unknown: Vec<String> = Vec::new();
        for recipient in parsed.iter().flatten() {
            if let Recipient::Phone(phone) = recipient
                && seen.insert(phone.as_str())
                && self.cache.get(phone).is_none()
            {
                unknown.push(phone.clone());
            }
        }
        let mut answers: HashMap<String, NumberCheck> = HashMap::new();
        for batch in unknown.chunks(CHECK_BATCH) {
            let checks = session.check_numbers(batch).await?;
            for phone in batch {
                let check = checks
                    .iter()
                    .find(|c| &c.phone == phone)
                    .cloned()
                    .unwrap_or(NumberCheck {
                        phone: phone.clone(),
                        on_whatsapp: false,
                        jid: None,
                    });
                self.cache.put(check.clone());
                answers.insert(phone.clone(), check);
            }
        }
        Ok(parsed
            .into_iter()
            .map(|recipient| match recipient? {
                Recipient::Jid(jid) => Ok(jid),
                Recipient::Phone(phone) => {
                    let check = answers.get(&phone).cloned().or_else(|| self.cache.get(&phone));
                    match check {
                        Some(NumberCheck {
                            on_whatsapp: true,
                            jid: Some(jid),
                            ..
                        }) => Ok(jid),
                        _ => Err(SendError::NotOnWhatsapp(phone)),
                    }
                }
            })
            .collect())
    }
}
