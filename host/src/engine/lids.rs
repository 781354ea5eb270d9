//! Both names of an account: its phone number and its LID.
//!
//! WhatsApp names most accounts by a LID today (`<digits>@lid`, opaque), and
//! gives the phone number alongside only sometimes (a LID-addressed message
//! carries `sender_pn`, a receipt does not). Each engine knows the pairs it
//! has learnt ([`LidBook`]: whatsapp-rust's LID↔PN mapping on the real engine,
//! the network's accounts on the sim engine); [`complete`] fills in, on every
//! inbound event, the name WhatsApp left out, and names every account by its
//! phone-number JID where the number is known. The lookup route asks a
//! session's book the same way ([`super::Session::lid_pairs`]).

use async_trait::async_trait;

use wasap_events::model::phone_of;

use crate::events::{Content, EventKind, ParticipantIds};

/// Lookups [`complete`] makes for one event at most (a group change may name
/// hundreds of participants); the accounts past it keep the names they came with.
const MAX_LOOKUPS_PER_EVENT: usize = 256;

/// One name of an account, as a lookup asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccountName {
    /// A LID's user part (the digits before `@lid`).
    Lid(String),
    /// A phone number, international form without `+`.
    Phone(String),
}

impl AccountName {
    /// The name a JID gives: `…@lid` or `…@s.whatsapp.net` (any device
    /// suffix dropped); `None` for a group or anything else.
    pub fn of_jid(jid: &str) -> Option<AccountName> {
        if let Some(user) = jid.strip_suffix("@lid") {
            let user = user.split([':', '.']).next().unwrap_or(user);
            return (!user.is_empty()).then(|| AccountName::Lid(user.to_owned()));
        }
        phone_of(jid).map(|phone| AccountName::Phone(phone.to_owned()))
    }
}

/// Both names of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LidPair {
    /// The LID JID, `<digits>@lid`.
    pub lid: String,
    /// The phone number, international form without `+`.
    pub phone: String,
}

impl LidPair {
    /// A pair from a LID's user part and a phone number.
    pub fn new(lid_user: &str, phone: &str) -> LidPair {
        LidPair {
            lid: format!("{lid_user}@lid"),
            phone: phone.to_owned(),
        }
    }

    /// The phone-number JID, `<phone>@s.whatsapp.net`.
    pub fn phone_jid(&self) -> String {
        format!("{}@s.whatsapp.net", self.phone)
    }
}

/// The pairs an engine knows. Asks nobody: a lookup reads what was learnt.
#[async_trait]
pub trait LidBook: Send + Sync {
    /// The pair `name` belongs to, when known.
    async fn pair(&self, name: &AccountName) -> Option<LidPair>;
}

/// Fills in the names of the accounts one event names, asking `book` at
/// most [`MAX_LOOKUPS_PER_EVENT`] times.
struct Filler<'b> {
    book: &'b dyn LidBook,
    lookups_left: usize,
}

/// Fills in both names of every account `kind` names (the sender, the
/// contact of a one-to-one chat, each group participant, the receipt's
/// sender), from the JID itself, then from `book` for the name still
/// missing; and names each by its phone-number JID where the number is
/// known (a LID the book does not know stays as it is).
pub async fn complete(kind: &mut EventKind, book: &dyn LidBook) {
    let mut filler = Filler {
        book,
        lookups_left: MAX_LOOKUPS_PER_EVENT,
    };
    match kind {
        EventKind::Message(m) => {
            let chat_before = m.chat.clone();
            filler
                .account(&mut m.sender, &mut m.sender_lid, &mut m.sender_phone)
                .await;
            if !m.is_group {
                filler.account(&mut m.chat, &mut m.chat_lid, &mut m.chat_phone).await;
                if let Content::Revoked { target_chat, .. } = &mut m.content
                    && *target_chat == chat_before
                {
                    target_chat.clone_from(&m.chat);
                }
            }
        }
        EventKind::MessageUndecryptable(m) => {
            filler
                .account(&mut m.sender, &mut m.sender_lid, &mut m.sender_phone)
                .await;
            if !m.is_group {
                filler.account(&mut m.chat, &mut m.chat_lid, &mut m.chat_phone).await;
            }
        }
        EventKind::Receipt(r) => {
            let same_chat = r.chat == r.sender;
            filler
                .account(&mut r.sender, &mut r.sender_lid, &mut r.sender_phone)
                .await;
            if same_chat {
                r.chat.clone_from(&r.sender);
            } else {
                filler.rename(&mut r.chat).await;
            }
        }
        EventKind::GroupParticipants(g) => {
            // Events journalled before the pairs were carried have none.
            if g.participants.len() != g.jids.len() {
                g.participants = g
                    .jids
                    .iter()
                    .map(|jid| ParticipantIds {
                        jid: jid.clone(),
                        lid: None,
                        phone: None,
                    })
                    .collect();
            }
            for (jid, participant) in g.jids.iter_mut().zip(g.participants.iter_mut()) {
                let ParticipantIds { jid: named, lid, phone } = participant;
                filler.account(named, lid, phone).await;
                jid.clone_from(named);
            }
        }
        EventKind::ChatState(c) => {
            filler
                .account(&mut c.sender, &mut c.sender_lid, &mut c.sender_phone)
                .await;
            if !c.is_group {
                filler.rename(&mut c.chat).await;
            }
        }
        EventKind::PollVote(v) => {
            filler.account(&mut v.voter, &mut v.voter_lid, &mut v.voter_phone).await;
            if !v.is_group {
                filler.rename(&mut v.chat).await;
            }
        }
        EventKind::CallOffer(c) | EventKind::CallMissed(c) | EventKind::CallEnded(c) => {
            filler.account(&mut c.from, &mut c.from_lid, &mut c.from_phone).await;
        }
        _ => {}
    }
}

impl Filler<'_> {
    /// One account as an event names it: `jid`, and its `lid` and `phone`
    /// beside it, each filled in when missing.
    async fn account(&mut self, jid: &mut String, lid: &mut Option<String>, phone: &mut Option<String>) {
        match AccountName::of_jid(jid) {
            Some(AccountName::Lid(user)) if lid.is_none() => *lid = Some(format!("{user}@lid")),
            Some(AccountName::Phone(number)) if phone.is_none() => *phone = Some(number),
            // A group, or a name already given.
            _ => {}
        }
        let missing = match (lid.as_deref(), phone.as_deref()) {
            (Some(lid), None) => AccountName::of_jid(lid),
            (None, Some(phone)) => Some(AccountName::Phone(phone.to_owned())),
            _ => None,
        };
        if let Some(name) = missing
            && self.lookups_left > 0
        {
            self.lookups_left -= 1;
            if let Some(pair) = self.book.pair(&name).await {
                lid.get_or_insert(pair.lid);
                phone.get_or_insert(pair.phone);
            }
        }
        if let Some(phone) = phone.as_deref()
            && jid.ends_with("@lid")
        {
            *jid = format!("{phone}@s.whatsapp.net");
        }
    }

    /// Names a one-to-one chat by phone number where its LID's number is known.
    async fn rename(&mut self, jid: &mut String) {
        let (mut lid, mut phone) = (None, None);
        self.account(jid, &mut lid, &mut phone).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::events::{GroupAction, GroupParticipants, Receipt, ReceiptType};

    struct Book(HashMap<AccountName, LidPair>);

    #[async_trait]
    impl LidBook for Book {
        async fn pair(&self, name: &AccountName) -> Option<LidPair> {
            self.0.get(name).cloned()
        }
    }

    fn book() -> Book {
        let pair = LidPair::new("100000000000002", "6281234567890");
        Book(HashMap::from([
            (AccountName::Lid("100000000000002".to_owned()), pair.clone()),
            (AccountName::Phone("6281234567890".to_owned()), pair),
        ]))
    }

    #[tokio::test]
    async fn a_receipt_by_lid_gets_its_phone_number_and_an_unknown_lid_stays() {
        let mut kind = EventKind::Receipt(Receipt {
            chat: "100000000000002@lid".to_owned(),
            sender: "100000000000002@lid".to_owned(),
            sender_lid: None,
            sender_phone: None,
            ids: vec!["3EB0A".to_owned()],
            receipt_type: ReceiptType::Read,
            timestamp: 1_700_000_000,
        });
        complete(&mut kind, &book()).await;
        let EventKind::Receipt(receipt) = kind else {
            unreachable!()
        };
        assert_eq!(receipt.chat, "6281234567890@s.whatsapp.net");
        assert_eq!(receipt.sender, "6281234567890@s.whatsapp.net");
        assert_eq!(receipt.sender_lid.as_deref(), Some("100000000000002@lid"));
        assert_eq!(receipt.sender_phone.as_deref(), Some("6281234567890"));

        let mut kind = EventKind::GroupParticipants(GroupParticipants {
            group: "120363000000000001@g.us".to_owned(),
            action: GroupAction::Join,
            jids: vec![
                "6281234567890@s.whatsapp.net".to_owned(),
                "100000000000009@lid".to_owned(),
            ],
            participants: Vec::new(),
            timestamp: 1_700_000_000,
        });
        complete(&mut kind, &book()).await;
        let EventKind::GroupParticipants(change) = kind else {
            unreachable!()
        };
        assert_eq!(
            change.participants,
            [
                ParticipantIds {
                    jid: "6281234567890@s.whatsapp.net".to_owned(),
                    lid: Some("100000000000002@lid".to_owned()),
                    phone: Some("6281234567890".to_owned()),
                },
                ParticipantIds {
                    jid: "100000000000009@lid".to_owned(),
                    lid: Some("100000000000009@lid".to_owned()),
                    phone: None,
                },
            ]
        );
        assert_eq!(change.jids, ["6281234567890@s.whatsapp.net", "100000000000009@lid"]);
    }
}
