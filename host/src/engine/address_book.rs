//! What an engine learns of the account's address book: WhatsApp's contact
//! sync (an app state mutation per saved contact, on the real engine) names
//! a contact by its phone number and/or its LID, with the name the phone's
//! address book gives it.
//!
//! This is not a public event: nothing a plugin or a webhook would act on
//! arrives in it, and a full sync after linking is one mutation per saved
//! contact, thousands at once. A session hands what it learnt to the
//! instance's [`AddressBook`] (given in the
//! [`SessionRequest`](super::SessionRequest)), which keeps it in the
//! instance's contact list (`GET /api/contacts/{id}`), the way
//! [`PollBook`](crate::polls::PollBook) keeps the polls.

use async_trait::async_trait;

use crate::store::StoreError;

/// One contact as the account's address book has it. The engine hands on
/// every one; the [`AddressBook`] decides what it teaches (the store's keeps
/// nothing of a contact with neither a number nor a LID, or with no name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncedContact {
    /// The phone number, international form without `+`.
    pub phone: Option<String>,
    /// The LID JID, `<digits>@lid`.
    pub lid: Option<String>,
    /// The full name in the address book.
    pub full_name: Option<String>,
    /// The first name, the one kept when there is no full name.
    pub first_name: Option<String>,
}

/// Where a session hands the contacts it learnt from the address book.
#[async_trait]
pub trait AddressBook: Send + Sync {
    /// Records `contacts` in the instance's contact list; returns once written.
    async fn learn(&self, contacts: Vec<SyncedContact>) -> Result<(), StoreError>;
}

/// An address book that keeps nothing: for a session opened outside an
/// instance (tests of the engine alone).
pub struct Forgetful;

#[async_trait]
impl AddressBook for Forgetful {
    async fn learn(&self, _contacts: Vec<SyncedContact>) -> Result<(), StoreError> {
        Ok(())
    }
}
