//! Naming contacts by phone number where WhatsApp named them by LID alone.
//!
//! WhatsApp names most accounts by their LID today. A message from a
//! LID-addressed contact carries its phone number too (`sender_pn`), and the
//! conversion (`events::from_whatsapp`) reports that; a receipt from the
//! same contact, or a delete-for-me in its chat (app state names the chat by
//! LID), carries the LID only. The client knows the pair: it learnt it from
//! the contact's messages, from a number check or a send (usync), and keeps
//! it in its store. This file looks every LID a converted event still names
//! up there, so a receipt names the contact the way the messages it concerns
//! do. A LID the client does not know stays as it is.

use std::collections::HashMap;

use whatsapp_rust::{Client, Jid};

use crate::events::{Content, EventKind};

const LID_SERVER: &str = "@lid";

/// Replaces each LID JID `kind` names by the phone-number JID the client
/// knows for it.
pub(super) async fn name_by_phone(client: &Client, kind: &mut EventKind) {
    let mut phones = HashMap::new();
    for lid in lids(kind) {
        if phones.contains_key(&lid) {
            continue;
        }
        let entry = client.get_lid_pn_entry(&Jid::lid(lid.as_str())).await;
        if let Ok(Some(entry)) = entry {
            phones.insert(lid, format!("{}@s.whatsapp.net", entry.phone_number));
        }
    }
    if !phones.is_empty() {
        rename(kind, |lid| phones.get(lid).cloned());
    }
}

/// The LID users (the part before `@lid`) `kind` names.
fn lids(kind: &EventKind) -> Vec<String> {
    let mut found = Vec::new();
    visit(kind, |jid| {
        if let Some(user) = jid.strip_suffix(LID_SERVER) {
            found.push(user.to_owned());
        }
    });
    found
}

/// Each JID field of `kind`, for reading.
fn visit(kind: &EventKind, mut f: impl FnMut(&str)) {
    match kind {
        EventKind::Message(m) => {
            f(&m.chat);
            f(&m.sender);
            if let Content::Revoked { target_chat, .. } = &m.content {
                f(target_chat);
            }
        }
        EventKind::Receipt(r) => {
            f(&r.chat);
            f(&r.sender);
        }
        EventKind::MessageUndecryptable(m) => {
            f(&m.chat);
            f(&m.sender);
        }
        EventKind::GroupParticipants(g) => g.jids.iter().for_each(|j| f(j)),
        EventKind::ChatState(c) => {
            f(&c.chat);
            f(&c.sender);
        }
        _ => {}
    }
}

/// Renames every `<lid>@lid` field of `kind` that `phone_of(<lid>)` knows.
fn rename(kind: &mut EventKind, phone_of: impl Fn(&str) -> Option<String>) {
    let swap = |jid: &mut String| {
        if let Some(phone) = jid.strip_suffix(LID_SERVER).and_then(&phone_of) {
            *jid = phone;
        }
    };
    match kind {
        EventKind::Message(m) => {
            swap(&mut m.chat);
            swap(&mut m.sender);
            if let Content::Revoked { target_chat, .. } = &mut m.content {
                swap(target_chat);
            }
        }
        EventKind::Receipt(r) => {
            swap(&mut r.chat);
            swap(&mut r.sender);
        }
        EventKind::MessageUndecryptable(m) => {
            swap(&mut m.chat);
            swap(&mut m.sender);
        }
        EventKind::GroupParticipants(g) => g.jids.iter_mut().for_each(swap),
        // `sender_lid` keeps the LID: it is there to say which one it was.
        EventKind::ChatState(c) => {
            swap(&mut c.chat);
            swap(&mut c.sender);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Receipt, ReceiptType};

    #[test]
    fn known_lids_become_phone_numbers_and_unknown_ones_stay() {
        let mut kind = EventKind::Receipt(Receipt {
            chat: "100000000000002@lid".to_owned(),
            sender: "100000000000003@lid".to_owned(),
            ids: vec!["3EB0A".to_owned()],
            receipt_type: ReceiptType::Read,
            timestamp: 1_700_000_000,
        });
        assert_eq!(lids(&kind), ["100000000000002", "100000000000003"]);
        rename(&mut kind, |lid| {
            (lid == "100000000000002").then(|| "6281234567890@s.whatsapp.net".to_owned())
        });
        let EventKind::Receipt(receipt) = kind else {
            unreachable!()
        };
        assert_eq!(
            (receipt.chat.as_str(), receipt.sender.as_str()),
            ("6281234567890@s.whatsapp.net", "100000000000003@lid")
        );
    }
}
