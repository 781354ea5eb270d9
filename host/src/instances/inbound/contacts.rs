//! What an instance's inbound traffic teaches about its contacts: every
//! sender of a message, with the push name it carried, kept in the store's
//! contact list (`store/contacts.rs`).
//!
//! Cheap on purpose: the pipeline remembers what it wrote last for each
//! sender (a bounded map, per instance), and writes only a new contact, a
//! changed push name, or a `last_seen` older than [`LAST_SEEN_RESOLUTION`].
//! A failed write is logged and forgotten: the next message writes again.

use std::collections::HashMap;

use crate::events::{Event, EventKind};
use crate::store::Store;
use crate::store::contacts::LearntContact;

/// How stale a contact's `last_seen` may get before a message refreshes it.
pub const LAST_SEEN_RESOLUTION: i64 = 3600;
/// Senders remembered per instance; the memory starts over when full.
const REMEMBERED: usize = 10_000;

/// What the pipeline of one instance last wrote for each sender.
#[derive(Default)]
pub(super) struct Learnt {
    written: HashMap<String, (Option<String>, i64)>,
}

impl Learnt {
    /// Writes what `events` teach that the store does not know yet.
    pub(super) async fn learn(&mut self, store: &Store, instance_id: &str, events: &[&Event]) {
        let now = crate::clock::now_secs();
        let mut learnt: Vec<LearntContact> = Vec::new();
        for event in events {
            let Some(contact) = sender(event) else { continue };
            let fresh = match self.written.get(&contact.jid) {
                None => true,
                Some((name, at)) => {
                    (contact.push_name.is_some() && contact.push_name != *name) || now - at >= LAST_SEEN_RESOLUTION
                }
            };
            if fresh && !learnt.iter().any(|c| c.jid == contact.jid) {
                learnt.push(contact);
            }
        }
        if learnt.is_empty() {
            return;
        }
        if let Err(e) = store.learn_contacts(instance_id, &learnt, now).await {
            tracing::warn!(error = %e, "cannot record the senders of inbound messages as contacts");
            return;
        }
        if self.written.len() + learnt.len() > REMEMBERED {
            self.written.clear();
        }
        for contact in learnt {
            let name = contact
                .push_name
                .clone()
                .or_else(|| self.written.get(&contact.jid).and_then(|(name, _)| name.clone()));
            self.written.insert(contact.jid, (name, now));
        }
    }
}

/// The sender of a message from someone else, as a contact.
fn sender(event: &Event) -> Option<LearntContact> {
    let EventKind::Message(message) = &event.kind else {
        return None;
    };
    if message.from_me {
        return None;
    }
    let jid = without_device(&message.sender)?;
    let phone = message
        .sender_phone
        .clone()
        .or_else(|| jid.strip_suffix("@s.whatsapp.net").map(str::to_owned));
    let lid = message
        .sender_lid
        .clone()
        .or_else(|| jid.ends_with("@lid").then(|| jid.clone()));
    Some(LearntContact {
        jid,
        phone,
        lid,
        push_name: message.push_name.clone().filter(|n| !n.trim().is_empty()),
        name: None,
    })
}

/// A user JID without its device (`user:device@server` → `user@server`);
/// `None` for what is not a person (a group, a broadcast list).
pub fn without_device(jid: &str) -> Option<String> {
    let (user, server) = jid.split_once('@')?;
    if server != "s.whatsapp.net" && server != "lid" {
        return None;
    }
    let user = user.split(':').next().unwrap_or(user);
    if user.is_empty() {
        return None;
    }
    Some(format!("{user}@{server}"))
}

#[cfg(test)]
mod tests {
    use super::without_device;

    #[test]
    fn a_sender_is_a_person_without_device() {
        assert_eq!(
            without_device("6281:3@s.whatsapp.net").as_deref(),
            Some("6281@s.whatsapp.net")
        );
        assert_eq!(without_device("1234@lid").as_deref(), Some("1234@lid"));
        assert_eq!(without_device("120363@g.us"), None);
        assert_eq!(without_device("status@broadcast"), None);
    }
}
