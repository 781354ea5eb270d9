//! The real engine's contact sync: whatsapp-rust's `Event::ContactUpdate`
//! (one `contact` app state mutation, `ContactAction`, per contact saved in
//! the phone's address book: at the first sync after linking, all of them,
//! then each one the phone adds or renames) into the instance's
//! [`AddressBook`].
//!
//! A handler of its own on the client's event bus ([`ContactSync`]), apart
//! from the bridge: these are not lifecycle nor inbound events. Like the
//! bridge it never waits: it maps the mutation and queues it (bounded: past
//! [`PENDING`] a mutation is dropped with a warning; the next full sync
//! teaches it again), and a writer task hands what waits to the address
//! book in batches. A contact the mutation names by LID alone gets its phone
//! number from the client's LID mapping when it knows it.
//!
//! Not learnt here: a removed contact (whatsapp-rust reports only the
//! mutations that set one; its name stays in the list), `ContactNumberChanged`
//! (it carries no name), and `PushNameUpdate` (whatsapp-rust 0.7 never emits
//! it; push names come with messages).

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{debug, warn};
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::{Event, EventHandler, EventInterest, EventKind};
use whatsapp_rust::waproto::whatsapp as wa;

use super::bridge::Shared;
use super::lid_book::ClientBook;
use crate::engine::lids::{AccountName, LidBook};
use crate::engine::{AddressBook, SyncedContact};

/// Mutations waiting for the writer, at most.
const PENDING: usize = 100_000;
/// Contacts written to the address book in one call at most.
const PER_WRITE: usize = 256;

/// The handler registered on the client's event bus.
pub(super) struct ContactSync {
    shared: Arc<Shared>,
    queue: mpsc::Sender<SyncedContact>,
}

impl ContactSync {
    /// The handler, with its writer task started; the task ends once the
    /// handler (and so the client) is gone.
    pub(super) fn start(shared: Arc<Shared>, book: Arc<dyn AddressBook>) -> ContactSync {
        let (queue, pending) = mpsc::channel(PENDING);
        tokio::spawn(write(pending, book, shared.clone()));
        ContactSync { shared, queue }
    }
}

impl EventHandler for ContactSync {
    fn handle_event(&self, event: Arc<Event>) {
        let Event::ContactUpdate(update) = &*event else {
            return;
        };
        let Some(contact) = synced(&update.jid, &update.action) else {
            return;
        };
        if self.queue.try_send(contact).is_err() {
            warn!(instance = %self.shared.instance_id, "too many synced contacts waiting: one dropped");
        }
    }

    fn interest(&self) -> EventInterest {
        EventInterest::of(&[EventKind::ContactUpdate])
    }
}

/// What one `contact` mutation of chat `jid` says; `None` for a chat that is
/// not a person.
pub(super) fn synced(jid: &Jid, action: &wa::sync_action_value::ContactAction) -> Option<SyncedContact> {
    let parsed = |raw: &Option<String>| raw.as_deref().and_then(|j| j.parse::<Jid>().ok());
    let names = [Some(jid.clone()), parsed(&action.pn_jid), parsed(&action.lid_jid)];
    let phone = names
        .iter()
        .flatten()
        .find(|j| j.is_pn())
        .map(|j| j.user_base().to_owned());
    let lid = names
        .iter()
        .flatten()
        .find(|j| j.is_lid())
        .map(|j| format!("{}@lid", j.user_base()));
    if phone.is_none() && lid.is_none() {
        return None;
    }
    Some(SyncedContact {
        phone,
        lid,
        full_name: action.full_name.clone(),
        first_name: action.first_name.clone(),
    })
}

/// Hands queued contacts to `book`, those waiting together in one call.
async fn write(mut pending: mpsc::Receiver<SyncedContact>, book: Arc<dyn AddressBook>, shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(PER_WRITE);
    while pending.recv_many(&mut batch, PER_WRITE).await > 0 {
        if let Some(client) = shared.client() {
            let lids = ClientBook(&client);
            for contact in batch.iter_mut().filter(|c| c.phone.is_none()) {
                let Some(name) = contact.lid.as_deref().and_then(AccountName::of_jid) else {
                    continue;
                };
                contact.phone = lids.pair(&name).await.map(|pair| pair.phone);
            }
        }
        let count = batch.len();
        match book.learn(std::mem::take(&mut batch)).await {
            Ok(()) => debug!(instance = %shared.instance_id, count, "contacts learnt from the contact sync"),
            Err(e) => warn!(instance = %shared.instance_id, error = %e, count,
                "cannot record the contacts of the contact sync"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(full: Option<&str>, pn: Option<&str>, lid: Option<&str>) -> wa::sync_action_value::ContactAction {
        wa::sync_action_value::ContactAction {
            full_name: full.map(str::to_owned),
            first_name: Some("Budi".to_owned()),
            pn_jid: pn.map(str::to_owned),
            lid_jid: lid.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn a_contact_mutation_names_the_contact_by_both_names() {
        let by_phone = synced(&Jid::pn("6281"), &action(Some("Budi Santoso"), None, Some("99@lid")));
        assert_eq!(
            by_phone,
            Some(SyncedContact {
                phone: Some("6281".into()),
                lid: Some("99@lid".into()),
                full_name: Some("Budi Santoso".into()),
                first_name: Some("Budi".into()),
            })
        );
        let by_lid = synced(&Jid::lid("99"), &action(None, Some("6281@s.whatsapp.net"), None)).unwrap();
        assert_eq!(
            (by_lid.phone.as_deref(), by_lid.lid.as_deref()),
            (Some("6281"), Some("99@lid"))
        );
        let lid_only = synced(&Jid::lid("99"), &action(None, None, None)).unwrap();
        assert_eq!((lid_only.phone, lid_only.lid.as_deref()), (None, Some("99@lid")));
        let group: Jid = "120363@g.us".parse().unwrap();
        assert_eq!(synced(&group, &action(Some("A group"), None, None)), None);
    }
}
