//! Contacts and the account's own profile as the engine seam carries them: a
//! contact's profile (picture, about), the blocklist, the account's push
//! name, about and photo, and its privacy settings with the values WhatsApp
//! accepts for each.

/// A contact's profile as WhatsApp shows it to this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactProfile {
    /// The contact's JID, as asked (a phone-number JID or a LID).
    pub jid: String,
    /// The contact's LID (`…@lid`), when WhatsApp told it.
    pub lid: Option<String>,
    /// The profile picture; `None` when there is none, or the contact's
    /// privacy settings hide it from this account.
    pub picture: Option<ProfilePicture>,
    /// The about text; `None` when there is none or it is hidden.
    pub about: Option<String>,
}

/// A profile picture: WhatsApp's id for it and where to download it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfilePicture {
    pub id: String,
    /// The picture's URL on WhatsApp's servers (it expires after a while).
    pub url: Option<String>,
}

/// A contact on the blocklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedContact {
    /// The contact's phone-number JID when known, else the JID WhatsApp listed.
    pub jid: String,
    /// The contact's LID (`…@lid`), when known.
    pub lid: Option<String>,
}

/// The account's own profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnProfile {
    /// The account's JID (`…@s.whatsapp.net`, without device).
    pub jid: String,
    /// The display name others see with this account's messages.
    pub push_name: String,
    pub about: Option<String>,
    pub picture: Option<ProfilePicture>,
}

/// One privacy setting of the account: what a category is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacySetting {
    pub category: PrivacyCategory,
    /// The value, as WhatsApp names it (`all`, `contacts`, ...).
    pub value: String,
}

/// The privacy settings the API names, each with WhatsApp's name for it and
/// the values WhatsApp accepts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivacyCategory {
    LastSeen,
    Online,
    ProfilePhoto,
    About,
    GroupsAdd,
    ReadReceipts,
    CallsAdd,
    Messages,
}

impl PrivacyCategory {
    pub const ALL: [PrivacyCategory; 8] = [
        PrivacyCategory::LastSeen,
        PrivacyCategory::Online,
        PrivacyCategory::ProfilePhoto,
        PrivacyCategory::About,
        PrivacyCategory::GroupsAdd,
        PrivacyCategory::ReadReceipts,
        PrivacyCategory::CallsAdd,
        PrivacyCategory::Messages,
    ];

    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            PrivacyCategory::LastSeen => "last_seen",
            PrivacyCategory::Online => "online",
            PrivacyCategory::ProfilePhoto => "profile_photo",
            PrivacyCategory::About => "about",
            PrivacyCategory::GroupsAdd => "groups_add",
            PrivacyCategory::ReadReceipts => "read_receipts",
            PrivacyCategory::CallsAdd => "calls_add",
            PrivacyCategory::Messages => "messages",
        }
    }

    /// WhatsApp's name on the wire.
    pub fn wire(self) -> &'static str {
        match self {
            PrivacyCategory::LastSeen => "last",
            PrivacyCategory::Online => "online",
            PrivacyCategory::ProfilePhoto => "profile",
            PrivacyCategory::About => "status",
            PrivacyCategory::GroupsAdd => "groupadd",
            PrivacyCategory::ReadReceipts => "readreceipts",
            PrivacyCategory::CallsAdd => "calladd",
            PrivacyCategory::Messages => "messages",
        }
    }

    pub fn from_name(name: &str) -> Option<PrivacyCategory> {
        PrivacyCategory::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn from_wire(wire: &str) -> Option<PrivacyCategory> {
        PrivacyCategory::ALL.into_iter().find(|c| c.wire() == wire)
    }

    /// The values it can be set to. `contact_blacklist` ("my contacts
    /// except…") is read but not set: it needs the list of exceptions.
    pub fn values(self) -> &'static [&'static str] {
        match self {
            PrivacyCategory::LastSeen
            | PrivacyCategory::ProfilePhoto
            | PrivacyCategory::About
            | PrivacyCategory::GroupsAdd => &["all", "contacts", "none"],
            PrivacyCategory::Online => &["all", "match_last_seen"],
            PrivacyCategory::ReadReceipts => &["all", "none"],
            PrivacyCategory::CallsAdd => &["all", "known", "contacts"],
            PrivacyCategory::Messages => &["all", "contacts"],
        }
    }
}
