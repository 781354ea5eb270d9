//! The two names WhatsApp has for one account: its phone-number JID
//! (`<digits>@s.whatsapp.net`) and its LID (`<digits>@lid`, an opaque number WhatsApp
//! names most accounts by today). Events carry both where either is known (see
//! `docs/API.md`, "Phone numbers and LIDs"); this file owns the per-participant pair
//! and the small helpers that read a JID as one or the other.

use serde::{Deserialize, Serialize};

/// One participant of a group change, by both names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantIds {
    /// The participant's JID as the event's `jids` names it: the phone-number JID when
    /// known, else the LID.
    pub jid: String,
    /// The participant's LID (`...@lid`), when known.
    pub lid: Option<String>,
    /// The participant's phone number (international form without `+`), when known.
    pub phone: Option<String>,
}

/// The phone number a phone-number JID names (`628123@s.whatsapp.net`, with or
/// without a device suffix → `628123`); `None` for any other JID.
pub fn phone_of(jid: &str) -> Option<&str> {
    let user = jid.strip_suffix("@s.whatsapp.net")?;
    let phone = user.split([':', '.']).next().unwrap_or(user);
    (!phone.is_empty()).then_some(phone)
}

/// Whether `jid` is a LID (`...@lid`).
pub fn is_lid(jid: &str) -> bool {
    jid.ends_with("@lid")
}

/// The pair `jid` gives by itself: `(lid, phone)` with the one it is.
pub fn pair_of(jid: &str) -> (Option<String>, Option<String>) {
    if is_lid(jid) {
        (Some(jid.to_owned()), None)
    } else {
        (None, phone_of(jid).map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jid_is_a_phone_number_or_a_lid_or_neither() {
        assert_eq!(phone_of("6281234567890@s.whatsapp.net"), Some("6281234567890"));
        assert_eq!(phone_of("6281234567890:3@s.whatsapp.net"), Some("6281234567890"));
        assert_eq!(phone_of("251556368777322@lid"), None);
        assert_eq!(phone_of("120363402106000000@g.us"), None);
        assert_eq!(
            pair_of("251556368777322@lid"),
            (Some("251556368777322@lid".to_owned()), None)
        );
        assert_eq!(
            pair_of("6281234567890@s.whatsapp.net"),
            (None, Some("6281234567890".to_owned()))
        );
        assert_eq!(pair_of("120363402106000000@g.us"), (None, None));
    }
}
