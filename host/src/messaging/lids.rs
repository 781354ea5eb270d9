//! Looking up both names of accounts, LID to phone number and back, through
//! an instance (docs/API.md, "Phone numbers and LIDs"): the API's lookup
//! route calls this, and plugins may later. The answer is what the
//! instance's engine has learnt ([`crate::engine::lids`]); WhatsApp is not
//! asked.

use super::Messenger;
use super::recipient::normalize_phone;
use crate::engine::EngineError;
use crate::engine::lids::{AccountName, LidPair};
use crate::instances::InstanceError;

/// Names one lookup may ask about at most.
pub const MAX_LOOKUPS: usize = 100;

/// Why a lookup was not made.
#[derive(Debug, thiserror::Error)]
pub enum LidLookupError {
    #[error("{0:?} is not a LID (digits, optionally followed by @lid)")]
    InvalidLid(String),
    #[error("{0:?} is not a phone number (international form, 7 to 15 digits) or a phone-number JID")]
    InvalidPhone(String),
    #[error("between 1 and {MAX_LOOKUPS} names")]
    Count,
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A LID as a client writes it: `251556368777322@lid` or just its digits.
pub fn parse_lid(raw: &str) -> Result<AccountName, LidLookupError> {
    let trimmed = raw.trim();
    let user = trimmed.strip_suffix("@lid").unwrap_or(trimmed);
    if user.is_empty() || user.len() > 32 || !user.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LidLookupError::InvalidLid(raw.to_owned()));
    }
    Ok(AccountName::Lid(user.to_owned()))
}

/// A phone number as a client writes it: `+62 812-3456-7890`, `6281234567890`
/// or `6281234567890@s.whatsapp.net`.
pub fn parse_phone(raw: &str) -> Result<AccountName, LidLookupError> {
    let trimmed = raw.trim();
    let number = trimmed.strip_suffix("@s.whatsapp.net").unwrap_or(trimmed);
    normalize_phone(number)
        .map(AccountName::Phone)
        .map_err(|_| LidLookupError::InvalidPhone(raw.to_owned()))
}

/// A name of either kind: a `…@lid` JID is a LID, anything else a phone number.
pub fn parse_name(raw: &str) -> Result<AccountName, LidLookupError> {
    if raw.trim().ends_with("@lid") {
        parse_lid(raw)
    } else {
        parse_phone(raw)
    }
}

impl Messenger {
    /// Both names of each of `names` (1 to [`MAX_LOOKUPS`]), in order, as
    /// instance `id` knows them; `None` for one it knows nothing about. The
    /// instance must be online.
    pub async fn lid_pairs(&self, id: &str, names: &[AccountName]) -> Result<Vec<Option<LidPair>>, LidLookupError> {
        if names.is_empty() || names.len() > MAX_LOOKUPS {
            return Err(LidLookupError::Count);
        }
        let session = self.instances.session(id)?;
        Ok(session.lid_pairs(names).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lids_and_phone_numbers_are_read_as_clients_write_them() {
        let lid = AccountName::Lid("251556368777322".to_owned());
        assert_eq!(parse_lid("251556368777322@lid").unwrap(), lid);
        assert_eq!(parse_lid("251556368777322").unwrap(), lid);
        assert_eq!(parse_name("251556368777322@lid").unwrap(), lid);
        let phone = AccountName::Phone("6281234567890".to_owned());
        assert_eq!(parse_phone("+62 812-3456-7890").unwrap(), phone);
        assert_eq!(parse_name("6281234567890@s.whatsapp.net").unwrap(), phone);
        for bad in ["", "@lid", "12a@lid", "251556368777322:3@lid"] {
            assert!(matches!(parse_lid(bad), Err(LidLookupError::InvalidLid(_))), "{bad}");
        }
        for bad in ["12", "abc", "6281234567890@g.us", "0812345678"] {
            assert!(
                matches!(parse_phone(bad), Err(LidLookupError::InvalidPhone(_))),
                "{bad}"
            );
        }
    }
}
