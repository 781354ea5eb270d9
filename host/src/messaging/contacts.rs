//! Contacts and the instance's own profile, for the API and the plugins
//! alike: the contact list (and its CSV export), a contact's profile, the
//! blocklist, the own push name, about and photo, and the privacy settings.
//! Everything is checked here before anything reaches WhatsApp: a refused
//! request changes nothing.

use crate::engine::{BlockedContact, ContactProfile, EngineError, OwnProfile, PrivacyCategory, PrivacySetting};
use crate::instances::InstanceError;
use crate::store::StoreError;
use crate::store::contacts::StoredContact;

use super::{Messenger, Recipient, RecipientError};

/// Contacts one page lists, at most.
pub const MAX_PAGE: u32 = 1_000;
/// Contacts a page lists when the caller does not say.
pub const DEFAULT_PAGE: u32 = 100;
/// The longest push name WhatsApp accepts, in characters.
pub const MAX_PUSH_NAME: usize = 25;
/// The longest about text WhatsApp accepts, in characters.
pub const MAX_ABOUT: usize = 139;
/// The largest profile photo accepted, in bytes (WhatsApp shows 640×640 JPEGs).
pub const MAX_PHOTO_BYTES: u64 = 1024 * 1024;

/// Why a contacts or profile request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContactsError {
    #[error(transparent)]
    Recipient(#[from] RecipientError),
    #[error("{0} is not on WhatsApp")]
    NotOnWhatsapp(String),
    #[error("limit must be 1 to {MAX_PAGE}")]
    InvalidLimit,
    #[error("{0}")]
    InvalidProfile(String),
    #[error("the photo must be a JPEG image")]
    NotJpeg,
    #[error("the photo has more than {MAX_PHOTO_BYTES} bytes")]
    PhotoTooLarge,
    #[error(
        "unknown privacy setting {0:?}; known: last_seen, online, profile_photo, about, groups_add, read_receipts, calls_add, messages"
    )]
    UnknownPrivacySetting(String),
    #[error("{name} cannot be {value:?}; it can be one of {allowed}")]
    InvalidPrivacyValue {
        name: &'static str,
        value: String,
        allowed: String,
    },
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of an instance's contacts.
#[derive(Debug, Clone)]
pub struct ContactPage {
    pub contacts: Vec<StoredContact>,
    /// The cursor of the next page (`after`), when there may be one.
    pub next: Option<String>,
}

/// A change of the own profile; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub push_name: Option<String>,
    pub about: Option<String>,
}

/// The user JID `who` (a phone number or a user JID) names.
pub fn contact_jid(who: &str) -> Result<String, ContactsError> {
    Ok(Recipient::parse(who)?.user_jid()?)
}

/// A profile photo checked: a JPEG within [`MAX_PHOTO_BYTES`].
pub fn photo(data: bytes::Bytes) -> Result<bytes::Bytes, ContactsError> {
    if data.len() as u64 > MAX_PHOTO_BYTES {
        return Err(ContactsError::PhotoTooLarge);
    }
    if super::media_kind::sniff(&data).1 != "image/jpeg" {
        return Err(ContactsError::NotJpeg);
    }
    Ok(data)
}

/// A privacy change checked: a known setting and one of its values.
pub fn privacy_change(name: &str, value: &str) -> Result<(PrivacyCategory, String), ContactsError> {
    let category =
        PrivacyCategory::from_name(name).ok_or_else(|| ContactsError::UnknownPrivacySetting(name.to_owned()))?;
    if !category.values().contains(&value) {
        return Err(ContactsError::InvalidPrivacyValue {
            name: category.name(),
            value: value.to_owned(),
            allowed: category.values().join(", "),
        });
    }
    Ok((category, value.to_owned()))
}

fn check_profile(change: &ProfileChange) -> Result<(), ContactsError> {
    if let Some(name) = &change.push_name {
        let length = name.trim().chars().count();
        if length == 0 || length > MAX_PUSH_NAME || name.chars().any(char::is_control) {
            return Err(ContactsError::InvalidProfile(format!(
                "push_name must be 1 to {MAX_PUSH_NAME} characters, without control characters"
            )));
        }
    }
    if let Some(about) = &change.about {
        let length = about.trim().chars().count();
        if length == 0 || length > MAX_ABOUT {
            return Err(ContactsError::InvalidProfile(format!(
                "about must be 1 to {MAX_ABOUT} characters"
            )));
        }
    }
    if change.push_name.is_none() && change.about.is_none() {
        return Err(ContactsError::InvalidProfile(
            "nothing to change: give push_name or about".to_owned(),
        ));
    }
    Ok(())
}

/// The contacts as CSV (RFC 4180: CRLF line ends, fields with a comma, a
/// quote or a line break quoted, quotes doubled), with a header line. A
/// field that a spreadsheet would read as a formula is prefixed with `'`.
pub fn csv(contacts: &[StoredContact]) -> String {
    let mut out = String::from("jid,phone,lid,push_name,name,first_seen,last_seen\r\n");
    for c in contacts {
        let fields = [
            c.jid.clone(),
            c.phone.clone().unwrap_or_default(),
            c.lid.clone().unwrap_or_default(),
            c.push_name.clone().unwrap_or_default(),
            c.name.clone().unwrap_or_default(),
            crate::clock::rfc3339(c.first_seen),
            crate::clock::rfc3339(c.last_seen),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

impl Messenger {
    /// A page of instance `id`'s contacts, by JID, after `after`.
    pub async fn contacts(
        &self,
        id: &str,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ContactPage, ContactsError> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ContactsError::InvalidLimit);
        }
        self.instances.status(id)?;
        let contacts = self.store.contacts_page(id, after, limit).await?;
        let next = (contacts.len() == limit as usize)
            .then(|| contacts.last().map(|c| c.jid.clone()))
            .flatten();
        Ok(ContactPage { contacts, next })
    }

    /// Every contact of instance `id` (at most the store's limit), as CSV.
    pub async fn contacts_csv(&self, id: &str) -> Result<String, ContactsError> {
        self.instances.status(id)?;
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.contacts_page(id, after.as_deref(), MAX_PAGE).await?;
            let full = page.len() == MAX_PAGE as usize;
            after = page.last().map(|c| c.jid.clone());
            all.extend(page);
            if !full {
                return Ok(csv(&all));
            }
        }
    }

    /// Contact `who`'s profile picture and about, as WhatsApp shows them to instance `id`.
    pub async fn contact_profile(&self, id: &str, who: &str) -> Result<ContactProfile, ContactsError> {
        let jid = contact_jid(who)?;
        let session = self.instances.session(id)?;
        session
            .contact_profile(&jid)
            .await?
            .ok_or(ContactsError::NotOnWhatsapp(jid))
    }

    /// Blocks or unblocks contact `who` from instance `id`; the JID it named.
    pub async fn set_blocked(&self, id: &str, who: &str, blocked: bool) -> Result<String, ContactsError> {
        let jid = contact_jid(who)?;
        let session = self.instances.session(id)?;
        if let Some(phone) = jid.strip_suffix("@s.whatsapp.net") {
            let checked = session.check_numbers(&[phone.to_owned()]).await?;
            if !checked.iter().any(|c| c.on_whatsapp) {
                return Err(ContactsError::NotOnWhatsapp(jid));
            }
        }
        session.set_blocked(&jid, blocked).await?;
        Ok(jid)
    }

    /// The contacts instance `id` has blocked.
    pub async fn blocklist(&self, id: &str) -> Result<Vec<BlockedContact>, ContactsError> {
        Ok(self.instances.session(id)?.blocklist().await?)
    }

    /// Instance `id`'s own push name, about and photo.
    pub async fn own_profile(&self, id: &str) -> Result<OwnProfile, ContactsError> {
        Ok(self.instances.session(id)?.own_profile().await?)
    }

    /// Changes instance `id`'s push name and/or about; the profile after.
    pub async fn update_profile(&self, id: &str, change: ProfileChange) -> Result<OwnProfile, ContactsError> {
        check_profile(&change)?;
        let session = self.instances.session(id)?;
        if let Some(name) = &change.push_name {
            session.set_push_name(name.trim()).await?;
        }
        if let Some(about) = &change.about {
            session.set_about(about.trim()).await?;
        }
        Ok(session.own_profile().await?)
    }

    /// Sets instance `id`'s photo (checked with [`photo`]) or removes it
    /// (`None`); the new picture's id.
    pub async fn set_photo(&self, id: &str, jpeg: Option<bytes::Bytes>) -> Result<Option<String>, ContactsError> {
        let jpeg = jpeg.map(photo).transpose()?;
        Ok(self.instances.session(id)?.set_profile_photo(jpeg).await?)
    }

    /// Instance `id`'s privacy settings.
    pub async fn privacy(&self, id: &str) -> Result<Vec<PrivacySetting>, ContactsError> {
        Ok(self.instances.session(id)?.privacy().await?)
    }

    /// Sets instance `id`'s privacy settings `changes` (name, value), all
    /// checked first; the settings after.
    pub async fn set_privacy(
        &self,
        id: &str,
        changes: &[(String, String)],
    ) -> Result<Vec<PrivacySetting>, ContactsError> {
        let checked = changes
            .iter()
            .map(|(name, value)| privacy_change(name, value))
            .collect::<Result<Vec<_>, _>>()?;
        if checked.is_empty() {
            return Err(ContactsError::InvalidProfile("nothing to change".to_owned()));
        }
        let session = self.instances.session(id)?;
        for (category, value) in &checked {
            session.set_privacy(*category, value).await?;
        }
        Ok(session.privacy().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let contact = StoredContact {
            jid: "6281@s.whatsapp.net".to_owned(),
            phone: Some("6281".to_owned()),
            lid: None,
            push_name: Some("Budi, \"the\" boss".to_owned()),
            name: Some("=HYPERLINK(1)".to_owned()),
            first_seen: 0,
            last_seen: 60,
        };
        assert_eq!(
            csv(&[contact]),
            "jid,phone,lid,push_name,name,first_seen,last_seen\r\n\
             6281@s.whatsapp.net,6281,,\"Budi, \"\"the\"\" boss\",'=HYPERLINK(1),1970-01-01T00:00:00Z,1970-01-01T00:01:00Z\r\n"
        );
    }

    #[test]
    fn privacy_changes_are_checked_by_name_and_value() {
        assert_eq!(
            privacy_change("last_seen", "contacts").unwrap(),
            (PrivacyCategory::LastSeen, "contacts".to_owned())
        );
        assert!(matches!(
            privacy_change("last_seen", "match_last_seen"),
            Err(ContactsError::InvalidPrivacyValue { .. })
        ));
        assert!(matches!(
            privacy_change("lastseen", "all"),
            Err(ContactsError::UnknownPrivacySetting(_))
        ));
    }

    #[test]
    fn a_photo_is_a_jpeg_within_the_limit() {
        assert!(photo(bytes::Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xE0])).is_ok());
        assert!(matches!(
            photo(bytes::Bytes::from_static(b"\x89PNG")),
            Err(ContactsError::NotJpeg)
        ));
    }
}
