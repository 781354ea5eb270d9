//! Accounts' profiles as the server keeps them: about text, profile picture,
//! blocklist and privacy settings. A contact's are set by the test
//! ([`Contact::set_profile`]); a client changes its own account's through
//! IQs (`iq/profile.rs`), and [`Simulator::profile`] shows what was recorded.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::Simulator;
use crate::accounts::Contact;

/// One account's profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub about: Option<String>,
    /// The picture's id (WhatsApp's are numbers).
    pub picture_id: Option<String>,
    /// Hex SHA-256 of the picture a client uploaded.
    pub picture_sha256: Option<String>,
    /// Blocked contacts: their LID JID, with the phone-number JID the block named.
    pub blocked: BTreeMap<String, Option<String>>,
    /// Privacy settings changed from the defaults, by WhatsApp's name.
    pub privacy: BTreeMap<String, String>,
}

/// WhatsApp's default privacy settings, in the order the server lists them.
pub const DEFAULT_PRIVACY: [(&str, &str); 8] = [
    ("last", "all"),
    ("online", "all"),
    ("profile", "all"),
    ("status", "contacts"),
    ("groupadd", "all"),
    ("readreceipts", "all"),
    ("calladd", "all"),
    ("messages", "all"),
];

/// A new picture id.
pub fn new_picture_id() -> String {
    rand::random_range(1_000_000_000u64..9_999_999_999).to_string()
}

/// Hex SHA-256, for recorded uploads.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The URL the server gives a picture (on no real host; clients never fetch it here).
pub fn picture_url(id: &str) -> String {
    format!("https://pps.whatsapp.sim/v/{id}.jpg")
}

impl Contact {
    /// The contact's about becomes `about` (when given) and, with
    /// `picture`, it gets a new profile picture (`Some(false)` removes it);
    /// the picture's id.
    pub fn set_profile(&self, about: Option<&str>, picture: Option<bool>) -> Option<String> {
        let mut world = self.inner.world();
        let profile = world.profiles.entry(self.pn.clone()).or_default();
        if let Some(about) = about {
            profile.about = Some(about.to_owned());
        }
        match picture {
            Some(true) => profile.picture_id = Some(new_picture_id()),
            Some(false) => profile.picture_id = None,
            None => {}
        }
        profile.picture_id.clone()
    }
}

impl Simulator {
    /// What the server keeps of account `pn`'s profile.
    pub fn profile(&self, pn: &str) -> Profile {
        self.inner.world().profiles.get(pn).cloned().unwrap_or_default()
    }
}
