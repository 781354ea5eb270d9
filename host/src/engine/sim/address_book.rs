//! The simulated phone's address book: `/sim/instances/{id}/address-book`
//! plays WhatsApp's contact sync to a connected instance, as the real
//! engine gets it (one `contact` app state mutation per saved contact, with
//! its full and first name and, when WhatsApp knows it, its LID).

use super::network::{SimError, SimNetwork};
use crate::engine::SyncedContact;

/// Contacts one sync carries at most.
pub const MAX_SYNCED_CONTACTS: usize = 1000;

/// One contact saved in the simulated phone's address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedContact {
    /// International form without `+`.
    pub phone: String,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
}

impl SimNetwork {
    /// The phone linked to instance `instance_id` syncs `contacts` from its
    /// address book; returns once the instance has recorded them. A contact
    /// registered with a LID (`/sim/contacts`) is synced with it.
    pub async fn sync_address_book(&self, instance_id: &str, contacts: Vec<SavedContact>) -> Result<(), SimError> {
        if contacts.len() > MAX_SYNCED_CONTACTS {
            return Err(SimError::Invalid(format!(
                "a contact sync carries at most {MAX_SYNCED_CONTACTS} contacts"
            )));
        }
        let session = self.session(instance_id)?;
        session
            .require_connected()
            .map_err(|_| SimError::NotConnected(instance_id.to_owned()))?;
        let synced = contacts
            .into_iter()
            .map(|c| SyncedContact {
                lid: self.contact(&c.phone).and_then(|known| known.lid),
                phone: Some(c.phone),
                full_name: c.full_name,
                first_name: c.first_name,
            })
            .collect();
        session
            .address_book
            .learn(synced)
            .await
            .map_err(|e| SimError::Store(e.to_string()))
    }
}
