//! The driver's side of contacts' profiles and the instance's own account:
//! a contact's about and picture as WhatsApp serves them, and what WhatsApp
//! recorded of the instance's account (about, photo, blocklist, privacy), on
//! the sim engine from `/sim/`, on the real engine from the simulator.

use std::collections::BTreeMap;

use serde_json::json;

use super::Driver;

/// What WhatsApp keeps of the instance's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub about: Option<String>,
    /// Hex SHA-256 of the photo the instance uploaded.
    pub picture_sha256: Option<String>,
    /// The phone-number JIDs the instance blocked, sorted.
    pub blocked: Vec<String>,
    /// Privacy settings changed from the defaults, by WhatsApp's name.
    pub privacy: BTreeMap<String, String>,
}

impl Driver {
    /// Contact `phone`'s about becomes `about` and it gets a new profile
    /// picture; the picture's id.
    pub async fn contact_profile(&self, phone: &str, about: &str) -> String {
        match &self.simulator {
            None => {
                let body = json!({ "about": about, "picture": true });
                let (status, answer) = self.api.post(&format!("/sim/contacts/{phone}/profile"), body).await;
                assert_eq!(status, 200, "{answer}");
                answer["picture_id"].as_str().expect("a picture id").to_owned()
            }
            Some(simulator) => simulator
                .contact(phone)
                .set_profile(Some(about), Some(true))
                .expect("a picture id"),
        }
    }

    /// What WhatsApp recorded of the instance's own account.
    pub async fn account_record(&self) -> AccountRecord {
        match &self.simulator {
            None => {
                let (status, account) = self.api.get(&self.route("account")).await;
                assert_eq!(status, 200, "{account}");
                AccountRecord {
                    about: account["about"].as_str().map(str::to_owned),
                    picture_sha256: account["picture_sha256"].as_str().map(str::to_owned),
                    blocked: serde_json::from_value(account["blocked"].clone()).expect("the blocklist"),
                    privacy: serde_json::from_value(account["privacy"].clone()).expect("the privacy settings"),
                }
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let profile = simulator.profile(&user);
                let mut blocked: Vec<String> = profile
                    .blocked
                    .iter()
                    .map(|(lid, pn)| pn.clone().unwrap_or_else(|| lid.clone()))
                    .collect();
                blocked.sort();
                AccountRecord {
                    about: profile.about,
                    picture_sha256: profile.picture_sha256,
                    blocked,
                    privacy: profile.privacy,
                }
            }
        }
    }
}
