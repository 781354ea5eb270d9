//! The phone's address book, as WhatsApp's contact sync carries it to the
//! account's linked devices: one `contact` mutation per saved contact
//! (index `["contact", "<phone>@s.whatsapp.net"]`, a `ContactAction` with
//! the full and first name and, for a contact with an account, its LID) in
//! the `critical_unblock_low` collection, then `server_sync` until every
//! device synced it (`app_state.rs`).

use std::time::Duration;

use tracing::info;
use wacore_binary::Jid;
use waproto::whatsapp as wa;

use crate::Phone;
use crate::app_state::{self, CRITICAL_UNBLOCK_LOW, Record};
use crate::error::{Result, SimError};

/// WhatsApp's schema version of the `contact` action
/// (`wacore::appstate::schemas::CONTACT`).
const CONTACT_VERSION: i32 = 2;

/// One contact saved in the phone's address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedContact {
    /// International form without `+`.
    pub phone: String,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
}

impl Phone {
    /// The phone saves `contacts` in its address book: one patch of
    /// `contact` mutations, synced by every linked device before this
    /// returns (within `timeout`).
    pub async fn save_contacts(&self, contacts: &[SavedContact], timeout: Duration) -> Result<()> {
        let pn = self.pn.clone();
        let version = {
            let mut world = self.inner.world();
            let records = contacts
                .iter()
                .map(|c| {
                    let jid = Jid::pn(c.phone.as_str()).to_string();
                    let lid = world
                        .accounts
                        .get(&c.phone)
                        .map(|a| Jid::lid(a.lid.as_str()).to_string());
                    let index = serde_json::to_vec(&["contact", jid.as_str()])
                        .map_err(|e| SimError::Protocol(e.to_string()))?;
                    Ok(Record {
                        index,
                        value: wa::SyncActionValue {
                            timestamp: Some(wacore::time::now_millis()),
                            contact_action: buffa::MessageField::some(wa::sync_action_value::ContactAction {
                                full_name: c.full_name.clone(),
                                first_name: c.first_name.clone(),
                                lid_jid: lid,
                                save_on_primary_addressbook: Some(true),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        version: CONTACT_VERSION,
                    })
                })
                .collect::<Result<Vec<Record>>>()?;
            let (key_id, key) = {
                let account = world
                    .accounts
                    .get(&pn)
                    .ok_or_else(|| SimError::UnknownAccount(pn.clone()))?;
                (account.app_state_key_id.clone(), account.app_state_key)
            };
            // Made at the first save, not at the account's first sync: a
            // device syncing a third collection at login holds its inbound
            // messages back meanwhile, which the other tests' timing feels.
            app_state::collections(&mut world, &pn)
                .map(|c| c.entry(CRITICAL_UNBLOCK_LOW.to_owned()).or_default())
                .ok_or_else(|| SimError::UnknownAccount(pn.clone()))?
                .append(CRITICAL_UNBLOCK_LOW, &records, &key_id, &key)
        };
        // Told again until synced: whatsapp-rust skips a `server_sync` for a
        // collection it is syncing already (see `Phone::delete_for_me`).
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let told = app_state::notify_behind(&mut self.inner.world(), &pn, CRITICAL_UNBLOCK_LOW, version);
            if told == 0 {
                break;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let synced = self
                .inner
                .wait_for(left.min(app_state::RESEND_SERVER_SYNC), "the devices to sync", |w| {
                    app_state::behind(w, &pn, CRITICAL_UNBLOCK_LOW, version)
                        .is_empty()
                        .then_some(())
                })
                .await;
            match synced {
                Ok(()) => break,
                Err(SimError::Timeout(..)) if !left.is_zero() => {}
                Err(e) => return Err(e),
            }
        }
        info!(target: "whatsapp_sim", %pn, count = contacts.len(), version, "address book synced");
        Ok(())
    }
}
