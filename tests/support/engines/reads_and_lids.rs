//! The driver's side of read receipts and LIDs: which of a contact's
//! messages the instance reported read, in order (on the sim engine, the
//! simulated network's record; on the real engine, the receipts the
//! contact's phone got), and a contact with a LID, which sends to it answer
//! with.

use serde_json::json;

use super::Driver;

impl Driver {
    /// The ids of each read receipt contact `from` got from the instance so
    /// far, in order: a snapshot, to be taken once a later receipt is known
    /// to have arrived ([`Driver::wait_read`]).
    pub async fn read_receipts_to(&self, from: &str) -> Vec<Vec<String>> {
        match &self.simulator {
            None => {
                let from_jid = format!("{from}@s.whatsapp.net");
                self.sim_records()
                    .await
                    .into_iter()
                    .filter(|r| r["kind"] == "read" && r["to"] == from_jid.as_str())
                    .map(|r| {
                        r["read_ids"]
                            .as_array()
                            .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_owned)).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            }
            Some(simulator) => simulator
                .contact(from)
                .receipts()
                .into_iter()
                .filter(|r| r.kind == "read")
                .map(|r| r.ids)
                .collect(),
        }
    }

    /// Contact `phone` is on WhatsApp with a LID; its LID JID (`…@lid`).
    pub async fn contact_with_lid(&self, phone: &str) -> String {
        match &self.simulator {
            None => {
                let lid = format!("1{phone}@lid");
                let body = json!({ "phone": phone, "on_whatsapp": true, "lid": lid });
                let (status, answer) = self.api.post("/sim/contacts", body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
                lid
            }
            Some(simulator) => simulator.contact(phone).lid_jid(),
        }
    }
}
