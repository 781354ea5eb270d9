//! The simulated network's profiles: each account's about text, photo,
//! blocklist and privacy settings, as WhatsApp's servers keep them. A
//! contact's are set through `/sim/contacts/{phone}/profile`; an instance's
//! own change through the Session calls, and `/sim/instances/{id}/account`
//! shows what the network recorded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::network::{SimError, SimNetwork};
use crate::engine::{
    BlockedContact, ContactProfile, EngineError, OwnProfile, PrivacyCategory, PrivacySetting, ProfilePicture,
};
use crate::store::DeviceBackend;

/// Accounts with a profile the simulated network keeps, at most.
const PROFILES_CAPACITY: usize = 100_000;
/// Contacts one simulated account may block, at most.
const BLOCKLIST_CAPACITY: usize = 10_000;

/// One account's profile on the simulated network.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct SimAccount {
    pub about: Option<String>,
    /// WhatsApp's id of the profile photo.
    pub picture_id: Option<String>,
    /// Hex SHA-256 of the photo an instance uploaded, for byte-exact checks.
    pub picture_sha256: Option<String>,
    /// The JIDs the account blocked, sorted.
    pub blocked: BTreeSet<String>,
    /// The privacy settings changed from WhatsApp's defaults, by WhatsApp's
    /// name of the category.
    pub privacy: BTreeMap<String, String>,
}

/// Every account's profile, by phone number.
#[derive(Default)]
pub(super) struct SimProfiles {
    accounts: Mutex<HashMap<String, SimAccount>>,
    next_picture: std::sync::atomic::AtomicU64,
}

impl SimProfiles {
    fn with<T>(&self, phone: &str, change: impl FnOnce(&mut SimAccount) -> T) -> Result<T, SimError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if accounts.len() >= PROFILES_CAPACITY && !accounts.contains_key(phone) {
            return Err(SimError::Invalid(format!(
                "the simulated network keeps at most {PROFILES_CAPACITY} profiles"
            )));
        }
        Ok(change(accounts.entry(phone.to_owned()).or_default()))
    }

    pub(super) fn get(&self, phone: &str) -> SimAccount {
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.get(phone).cloned().unwrap_or_default()
    }

    fn new_picture_id(&self) -> String {
        let n = self.next_picture.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (1_700_000_000_000 + n).to_string()
    }
}

/// The simulated picture URL for a picture id: never fetched.
fn picture(id: Option<String>) -> Option<ProfilePicture> {
    id.map(|id| ProfilePicture {
        url: Some(format!("https://pps.whatsapp.sim/v/{id}.jpg")),
        id,
    })
}

/// WhatsApp's default privacy settings, by wire name.
fn default_privacy(category: PrivacyCategory) -> &'static str {
    match category {
        PrivacyCategory::About => "contacts",
        _ => "all",
    }
}

impl SimNetwork {
    /// Contact `phone`'s profile becomes `about` and, when `picture` is set,
    /// a photo (a new picture id); `picture: false` removes it.
    pub fn set_contact_profile(
        &self,
        phone: &str,
        about: Option<String>,
        picture: Option<bool>,
    ) -> Result<SimAccount, SimError> {
        let profiles = self.profiles();
        let id = picture.filter(|p| *p).map(|_| profiles.new_picture_id());
        profiles.with(phone, |account| {
            if about.is_some() {
                account.about = about;
            }
            match picture {
                Some(true) => account.picture_id = id,
                Some(false) => account.picture_id = None,
                None => {}
            }
            account.clone()
        })
    }

    /// What the network recorded of account `phone`.
    pub fn account(&self, phone: &str) -> SimAccount {
        self.profiles().get(phone)
    }
}

/// A connected session's view of the network: its own account, by phone.
pub(super) struct Link<'a> {
    pub(super) network: &'a SimNetwork,
    pub(super) device: &'a DeviceBackend,
}

impl Link<'_> {
    /// The account's phone number and push name, from the device store.
    async fn me(&self) -> Result<(String, String), EngineError> {
        use whatsapp_rust::wacore::store::traits::DeviceStore;
        let device = self
            .device
            .load()
            .await
            .map_err(|e| EngineError::Protocol(format!("device store: {e}")))?
            .ok_or(EngineError::NotConnected)?;
        let phone = device
            .pn
            .map(|pn| pn.user.to_string())
            .ok_or(EngineError::NotConnected)?;
        Ok((phone, device.push_name))
    }

    pub(super) fn contact_profile(&self, jid: &str) -> Option<ContactProfile> {
        let (phone, lid) = self.network.resolve(jid)?;
        let account = self.network.account(&phone);
        Some(ContactProfile {
            jid: jid.to_owned(),
            lid,
            picture: picture(account.picture_id),
            about: account.about,
        })
    }

    pub(super) async fn set_blocked(&self, jid: &str, blocked: bool) -> Result<(), EngineError> {
        let (me, _) = self.me().await?;
        // Kept by phone number, as the real engine lists them.
        let jid = &match self.network.resolve(jid) {
            Some((phone, _)) => format!("{phone}@s.whatsapp.net"),
            None => jid.to_owned(),
        };
        let outcome = self.network.profiles().with(&me, |account| {
            if !blocked {
                account.blocked.remove(jid);
                return Ok(());
            }
            if account.blocked.len() >= BLOCKLIST_CAPACITY && !account.blocked.contains(jid) {
                return Err(EngineError::Protocol(format!(
                    "the simulated network keeps at most {BLOCKLIST_CAPACITY} blocked contacts"
                )));
            }
            account.blocked.insert(jid.to_owned());
            Ok(())
        });
        outcome.map_err(|e| EngineError::Protocol(e.to_string()))?
    }

    pub(super) async fn blocklist(&self) -> Result<Vec<BlockedContact>, EngineError> {
        let (me, _) = self.me().await?;
        Ok(self
            .network
            .account(&me)
            .blocked
            .into_iter()
            .map(|jid| BlockedContact {
                lid: self.network.resolve(&jid).and_then(|(_, lid)| lid),
                jid,
            })
            .collect())
    }

    pub(super) async fn own_profile(&self) -> Result<OwnProfile, EngineError> {
        let (me, push_name) = self.me().await?;
        let account = self.network.account(&me);
        Ok(OwnProfile {
            jid: format!("{me}@s.whatsapp.net"),
            push_name,
            about: account.about,
            picture: picture(account.picture_id),
        })
    }

    /// Kept in the device store, where the real engine keeps it too.
    pub(super) async fn set_push_name(&self, name: &str) -> Result<(), EngineError> {
        use whatsapp_rust::wacore::store::traits::DeviceStore;
        let store =
            |e: whatsapp_rust::wacore::store::error::StoreError| EngineError::Protocol(format!("device store: {e}"));
        let mut device = self
            .device
            .load()
            .await
            .map_err(store)?
            .ok_or(EngineError::NotConnected)?;
        device.push_name = name.to_owned();
        self.device.save(&device).await.map_err(store)
    }

    pub(super) async fn set_about(&self, about: &str) -> Result<(), EngineError> {
        let (me, _) = self.me().await?;
        self.network
            .profiles()
            .with(&me, |account| account.about = Some(about.to_owned()))
            .map_err(|e| EngineError::Protocol(e.to_string()))
    }

    pub(super) async fn set_profile_photo(&self, jpeg: Option<bytes::Bytes>) -> Result<Option<String>, EngineError> {
        let (me, _) = self.me().await?;
        let profiles = self.network.profiles();
        let id = jpeg.as_ref().map(|_| profiles.new_picture_id());
        profiles
            .with(&me, |account| {
                account.picture_sha256 = jpeg.as_deref().map(|data| hex::encode(Sha256::digest(data)));
                account.picture_id = id.clone();
            })
            .map_err(|e| EngineError::Protocol(e.to_string()))?;
        Ok(id)
    }

    pub(super) async fn privacy(&self) -> Result<Vec<PrivacySetting>, EngineError> {
        let (me, _) = self.me().await?;
        let account = self.network.account(&me);
        Ok(PrivacyCategory::ALL
            .into_iter()
            .map(|category| PrivacySetting {
                category,
                value: account
                    .privacy
                    .get(category.wire())
                    .cloned()
                    .unwrap_or_else(|| default_privacy(category).to_owned()),
            })
            .collect())
    }

    pub(super) async fn set_privacy(&self, category: PrivacyCategory, value: &str) -> Result<(), EngineError> {
        let (me, _) = self.me().await?;
        self.network
            .profiles()
            .with(&me, |account| {
                account.privacy.insert(category.wire().to_owned(), value.to_owned());
            })
            .map_err(|e| EngineError::Protocol(e.to_string()))
    }
}
