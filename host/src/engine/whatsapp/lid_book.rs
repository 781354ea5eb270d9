//! The real engine's LID and phone-number pairs: whatsapp-rust's own mapping.
//!
//! The client learns the pair of an account's LID and phone number from the
//! traffic (a LID-addressed message carries `sender_pn`, a group's
//! participants their `phone_number`), from number checks and sends (usync),
//! and from WhatsApp's LID migration sync; it keeps them in its cache and in
//! the device store (`wa_lid_pn_mappings`). `get_lid_pn_entry` reads the
//! cache, then the store: it asks nobody. Inbound events are completed from it
//! ([`crate::engine::lids::complete`]): a receipt, a delete-for-me or a chat
//! state WhatsApp named by LID alone gets the phone number the client knows.

use async_trait::async_trait;
use whatsapp_rust::{Client, Jid};

use crate::engine::lids::{AccountName, LidBook, LidPair};

/// The pairs `client` has learnt.
pub(super) struct ClientBook<'a>(pub(super) &'a Client);

#[async_trait]
impl LidBook for ClientBook<'_> {
    async fn pair(&self, name: &AccountName) -> Option<LidPair> {
        let jid = match name {
            AccountName::Lid(user) => Jid::lid(user.as_str()),
            AccountName::Phone(phone) => Jid::pn(phone.as_str()),
        };
        match self.0.get_lid_pn_entry(&jid).await {
            Ok(Some(entry)) => Some(LidPair::new(&entry.lid, &entry.phone_number)),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = %e, "the LID mapping could not be read");
                None
            }
        }
    }
}

/// Each of `names`' pair, in order, as `client` knows it.
pub(super) async fn pairs(client: &Client, names: &[AccountName]) -> Vec<Option<LidPair>> {
    let book = ClientBook(client);
    let mut pairs = Vec::with_capacity(names.len());
    for name in names {
        pairs.push(book.pair(name).await);
    }
    pairs
}
