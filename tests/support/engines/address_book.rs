//! The driver's side of the contact sync: the phone linked to the instance
//! saves contacts in its address book, on the sim engine through
//! `/sim/instances/{id}/address-book`, on the real engine as `contact` app
//! state mutations the simulator's phone publishes and the client syncs.

use serde_json::{Value, json};

use super::Driver;
use crate::WAIT;

/// One contact saved in the phone's address book.
#[derive(Debug, Clone, Copy)]
pub struct Saved<'a> {
    pub phone: &'a str,
    pub name: Option<&'a str>,
    pub first_name: Option<&'a str>,
}

impl Driver {
    /// The linked phone saves `contacts` and WhatsApp syncs them to the
    /// instance; returns once the instance's contact list shows each one
    /// with `name` (else `first_name`) as its name.
    pub async fn save_contacts(&self, contacts: &[Saved<'_>]) {
        match &self.simulator {
            None => {
                let body = json!({ "contacts": contacts.iter().map(|c| {
                    json!({ "phone": c.phone, "name": c.name, "first_name": c.first_name })
                }).collect::<Vec<Value>>() });
                let (status, answer) = self.api.post(&self.route("address-book"), body).await;
                assert_eq!((status, &answer), (200, &json!({ "synced": contacts.len() })));
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let saved: Vec<wasap_whatsapp_sim::SavedContact> = contacts
                    .iter()
                    .map(|c| wasap_whatsapp_sim::SavedContact {
                        phone: c.phone.to_owned(),
                        full_name: c.name.map(str::to_owned),
                        first_name: c.first_name.map(str::to_owned),
                    })
                    .collect();
                simulator
                    .phone(&user)
                    .save_contacts(&saved, WAIT)
                    .await
                    .expect("the instance syncs the address book");
            }
        }
        // The real engine writes what it synced on its own time.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, list) = self.api.get(&format!("/api/contacts/{}?limit=1000", self.id)).await;
            assert_eq!(status, 200, "{list}");
            let shown = |c: &Saved<'_>| {
                let jid = format!("{}@s.whatsapp.net", c.phone);
                let name = c.name.or(c.first_name);
                list["contacts"].as_array().is_some_and(|all| {
                    all.iter()
                        .any(|k| k["jid"] == jid.as_str() && k["name"].as_str() == name)
                })
            };
            if contacts.iter().all(shown) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the contact list never showed {contacts:?}: {list}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
