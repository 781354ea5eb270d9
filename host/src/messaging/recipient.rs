//! Recipients as the API accepts them: a phone number in international form
//! (`6281234567890`), or a full JID (`…@s.whatsapp.net`, `…@g.us`, `…@lid`).

/// Why a recipient was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecipientError {
    #[error("{0:?} is not a phone number in international form (digits only, e.g. 6281234567890)")]
    InvalidPhone(String),
    #[error("{0:?} is not a WhatsApp JID (…@s.whatsapp.net, …@g.us or …@lid)")]
    InvalidJid(String),
}

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// Digits only; checked with WhatsApp before sending.
    Phone(String),
    /// Sent to as given.
    Jid(String),
}

/// Whether a JID's user part is valid for its server.
type UserCheck = fn(&str) -> bool;

/// JID servers a message can be sent to, with what their user part may hold.
const SERVERS: &[(&str, UserCheck)] = &[
    ("@s.whatsapp.net", is_phone),
    ("@g.us", |user| {
        user.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !user.is_empty()
    }),
    ("@lid", |user| {
        !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit())
    }),
];

impl Recipient {
    pub fn parse(raw: &str) -> Result<Recipient, RecipientError> {
        let raw = raw.trim();
        if raw.contains('@') {
            let valid = SERVERS
                .iter()
                .any(|(server, user_ok)| raw.strip_suffix(server).is_some_and(user_ok));
            return if valid {
                Ok(Recipient::Jid(raw.to_owned()))
            } else {
                Err(RecipientError::InvalidJid(raw.to_owned()))
            };
        }
        Ok(Recipient::Phone(normalize_phone(raw)?))
    }
}

impl Recipient {
    /// The JID of a user (not a group) this recipient names, as a mention
    /// names it: a phone number as its phone JID, a user JID as given.
    pub fn user_jid(self) -> Result<String, RecipientError> {
        match self {
            Recipient::Phone(phone) => Ok(format!("{phone}@s.whatsapp.net")),
            Recipient::Jid(jid) if jid.ends_with("@g.us") => Err(RecipientError::InvalidJid(jid)),
            Recipient::Jid(jid) => Ok(jid),
        }
    }
}

/// Digits of an international number; a leading `+`, spaces and dashes are
/// dropped. E.164 allows 15 digits; fewer than 7 cannot be a full number.
pub fn normalize_phone(raw: &str) -> Result<String, RecipientError> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let digits: String = trimmed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if is_phone(&digits) {
        Ok(digits)
    } else {
        Err(RecipientError::InvalidPhone(raw.to_owned()))
    }
}

fn is_phone(digits: &str) -> bool {
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_jids_are_told_apart_and_checked() {
        assert_eq!(
            Recipient::parse("+62 812-3456-7890").unwrap(),
            Recipient::Phone("6281234567890".into())
        );
        for jid in [
            "6281234567890@s.whatsapp.net",
            "120363402106000000@g.us",
            "123456-789@g.us",
            "100000012345678@lid",
        ] {
            assert_eq!(Recipient::parse(jid).unwrap(), Recipient::Jid(jid.into()));
        }
        for bad in [
            "",
            "123",
            "0812345678",
            "62812abc",
            "abc@s.whatsapp.net",
            "1@example.com",
            "@g.us",
        ] {
            assert!(Recipient::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
