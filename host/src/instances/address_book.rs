//! An instance's [`AddressBook`]: what its sessions learn from WhatsApp's
//! contact sync, kept in its contact list (`store/contacts.rs`), the same
//! way on both engines.
//!
//! A synced contact is keyed as the senders of messages are: by its
//! phone-number JID when the number is known, else by its LID. Its name is
//! the address book's full name, else its first name (trimmed, at most
//! [`MAX_NAME_CHARS`] characters). A message from the contact later sets its
//! push name and leaves that name alone (messages teach no `name`).

use async_trait::async_trait;

use crate::engine::{AddressBook, SyncedContact};
use crate::store::contacts::LearntContact;
use crate::store::{Store, StoreError};

/// The longest name kept, in characters; a longer one is cut there.
pub const MAX_NAME_CHARS: usize = 256;

/// The address book of one instance, written to the store.
pub(crate) struct StoredAddressBook {
    store: Store,
    instance_id: String,
}

impl StoredAddressBook {
    pub(crate) fn new(store: Store, instance_id: &str) -> StoredAddressBook {
        StoredAddressBook {
            store,
            instance_id: instance_id.to_owned(),
        }
    }
}

#[async_trait]
impl AddressBook for StoredAddressBook {
    async fn learn(&self, contacts: Vec<SyncedContact>) -> Result<(), StoreError> {
        let learnt: Vec<LearntContact> = contacts.into_iter().filter_map(learnt).collect();
        if learnt.is_empty() {
            return Ok(());
        }
        let now = crate::clock::now_secs();
        self.store.learn_address_book(&self.instance_id, &learnt, now).await
    }
}

/// What `contact` teaches the contact list; `None` when it names nobody or
/// gives no name.
pub fn learnt(contact: SyncedContact) -> Option<LearntContact> {
    let name = [contact.full_name, contact.first_name]
        .into_iter()
        .flatten()
        .map(|n| n.trim().chars().take(MAX_NAME_CHARS).collect::<String>())
        .find(|n| !n.is_empty())?;
    let phone = contact.phone.filter(|p| !p.is_empty());
    let lid = contact.lid.filter(|l| l.ends_with("@lid"));
    let jid = match (&phone, &lid) {
        (Some(phone), _) => format!("{phone}@s.whatsapp.net"),
        (None, Some(lid)) => lid.clone(),
        (None, None) => return None,
    };
    Some(LearntContact {
        jid,
        phone,
        lid,
        push_name: None,
        name: Some(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synced(phone: Option<&str>, lid: Option<&str>, full: Option<&str>, first: Option<&str>) -> SyncedContact {
        SyncedContact {
            phone: phone.map(str::to_owned),
            lid: lid.map(str::to_owned),
            full_name: full.map(str::to_owned),
            first_name: first.map(str::to_owned),
        }
    }

    #[test]
    fn a_synced_contact_is_keyed_by_its_number_else_its_lid() {
        let c = learnt(synced(
            Some("6281"),
            Some("99@lid"),
            Some(" Budi Santoso "),
            Some("Budi"),
        ))
        .unwrap();
        assert_eq!(
            (
                c.jid.as_str(),
                c.phone.as_deref(),
                c.lid.as_deref(),
                c.name.as_deref(),
                c.push_name
            ),
            (
                "6281@s.whatsapp.net",
                Some("6281"),
                Some("99@lid"),
                Some("Budi Santoso"),
                None
            )
        );
        let c = learnt(synced(None, Some("99@lid"), Some("  "), Some("Ani"))).unwrap();
        assert_eq!((c.jid.as_str(), c.name.as_deref()), ("99@lid", Some("Ani")));
        assert_eq!(learnt(synced(Some("6281"), None, None, Some(""))), None);
        assert_eq!(learnt(synced(None, None, Some("Nobody"), None)), None);
        let long = "é".repeat(MAX_NAME_CHARS + 5);
        let c = learnt(synced(Some("6281"), None, Some(&long), None)).unwrap();
        assert_eq!(c.name.unwrap().chars().count(), MAX_NAME_CHARS);
    }
}
