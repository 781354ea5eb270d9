//! How the server names an account to others: by its phone number, or, as
//! WhatsApp names most accounts today, by its LID (an opaque number) with the
//! phone number alongside (`sender_pn` on a message, `participant_pn` and
//! `phone_number` in LID-addressed groups). Receipts from a LID-addressed
//! account carry the LID alone. A contact is addressed by phone number
//! unless [`Contact::address_by_lid`] says otherwise.

use wacore_binary::Jid;

use crate::Contact;
use crate::state::World;

/// The JID account `pn` is named by, and its phone-number JID when that is a LID.
pub fn named(world: &World, pn: &str) -> (Jid, Option<Jid>) {
    match world.accounts.get(pn) {
        Some(account) if world.lid_addressed.contains(pn) => (account.lid_jid(), Some(account.jid())),
        _ => (Jid::pn(pn), None),
    }
}

impl Contact {
    /// From now on WhatsApp names this contact by its LID, as it does most
    /// accounts today.
    pub fn address_by_lid(&self) {
        self.inner.world().lid_addressed.insert(self.pn.clone());
    }

    /// Whether WhatsApp names this contact by its LID.
    pub fn is_addressed_by_lid(&self) -> bool {
        self.inner.world().lid_addressed.contains(&self.pn)
    }

    /// The contact's LID JID, `…@lid`.
    pub fn lid_jid(&self) -> String {
        self.inner
            .world()
            .accounts
            .get(&self.pn)
            .map(|a| a.lid_jid().to_string())
            .unwrap_or_default()
    }
}
