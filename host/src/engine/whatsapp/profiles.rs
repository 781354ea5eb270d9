//! Contacts and the account's own profile on the real engine: a contact's
//! picture and about (usync and `w:profile:picture`), the blocklist
//! (`blocklist`), the account's push name, about and photo, and its privacy
//! settings (`privacy`), through whatsapp-rust's `contacts()`, `blocking()`,
//! `profile()` and privacy calls, each within [`REQUEST_TIMEOUT`].

use std::future::Future;

use whatsapp_rust::Jid;
use whatsapp_rust::features::{BlockingError, ContactError, ProfileError};
use whatsapp_rust::request::IqError;
use whatsapp_rust::wacore::iq::privacy::{PrivacyCategory as WireCategory, PrivacyValue};

use super::session::{REQUEST_TIMEOUT, WhatsappSession, recipient};
use crate::engine::{
    BlockedContact, ContactProfile, EngineError, OwnProfile, PrivacyCategory, PrivacySetting, ProfilePicture,
};

/// `call` within [`REQUEST_TIMEOUT`], its error made an [`EngineError`].
async fn within<T, E: Into<Failure>>(call: impl Future<Output = Result<T, E>>) -> Result<T, EngineError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Err(_) => Err(EngineError::Timeout),
        Ok(answer) => answer.map_err(|e| e.into().0),
    }
}

/// An error of one of whatsapp-rust's calls, as the seam names it.
struct Failure(EngineError);

fn iq_failure(e: IqError) -> EngineError {
    match e {
        IqError::NotConnected => EngineError::NotConnected,
        IqError::Timeout => EngineError::Timeout,
        e => EngineError::Protocol(e.to_string()),
    }
}

impl From<ContactError> for Failure {
    fn from(e: ContactError) -> Failure {
        Failure(match e {
            ContactError::Iq(e) => iq_failure(e),
            ContactError::InvalidJid(jid) => EngineError::InvalidRecipient(jid),
            e => EngineError::Protocol(e.to_string()),
        })
    }
}

impl From<BlockingError> for Failure {
    fn from(e: BlockingError) -> Failure {
        Failure(match e {
            BlockingError::Iq(e) => iq_failure(e),
            BlockingError::InvalidJid(why) => EngineError::InvalidRecipient(why),
            e => EngineError::Protocol(e.to_string()),
        })
    }
}

impl From<ProfileError> for Failure {
    fn from(e: ProfileError) -> Failure {
        Failure(match e {
            ProfileError::Iq(e) => iq_failure(e),
            e => EngineError::Protocol(e.to_string()),
        })
    }
}

impl From<IqError> for Failure {
    fn from(e: IqError) -> Failure {
        Failure(iq_failure(e))
    }
}

fn picture(picture: Option<whatsapp_rust::features::ProfilePicture>) -> Option<ProfilePicture> {
    picture.map(|p| ProfilePicture {
        id: p.id,
        url: Some(p.url),
    })
}

impl WhatsappSession {
    /// The account's phone-number JID, without device.
    fn own_jid(&self) -> Result<Jid, EngineError> {
        self.client
            .pn()
            .map(|pn| pn.to_non_ad())
            .ok_or(EngineError::NotConnected)
    }

    /// The about text and picture of `jid`, as usync and the picture query answer.
    async fn about_and_picture(
        &self,
        jid: &Jid,
    ) -> Result<(Option<String>, Option<Jid>, Option<ProfilePicture>), EngineError> {
        let info = within(self.client.contacts().get_user_info(std::slice::from_ref(jid))).await?;
        let info = info.into_values().find(|i| i.jid.user == jid.user);
        let about = info.as_ref().and_then(|i| i.status.clone()).filter(|s| !s.is_empty());
        let lid = info.and_then(|i| i.lid);
        let picture = picture(within(self.client.contacts().get_profile_picture(jid, false)).await?);
        Ok((about, lid, picture))
    }

    pub(super) async fn query_contact_profile(&self, jid: &str) -> Result<Option<ContactProfile>, EngineError> {
        self.require_logged_in()?;
        let jid = recipient(jid)?.to_non_ad();
        let known = within(self.client.contacts().is_on_whatsapp(std::slice::from_ref(&jid))).await?;
        let Some(found) = known.into_iter().find(|r| r.is_registered) else {
            return Ok(None);
        };
        let (about, lid, picture) = self.about_and_picture(&jid).await?;
        let lid = lid.or(found.lid).or_else(|| jid.is_lid().then(|| jid.clone()));
        Ok(Some(ContactProfile {
            jid: jid.to_string(),
            lid: lid.map(|l| l.to_non_ad().to_string()),
            picture,
            about,
        }))
    }

    /// Blocks or unblocks `jid`. WhatsApp wants both the LID and the phone
    /// number of whom it blocks: a usync query first teaches the client the pair.
    pub(super) async fn change_block(&self, jid: &str, blocked: bool) -> Result<(), EngineError> {
        self.require_logged_in()?;
        let jid = recipient(jid)?.to_non_ad();
        if self.client.get_lid_pn_entry(&jid).await.ok().flatten().is_none() {
            within(self.client.contacts().is_on_whatsapp(std::slice::from_ref(&jid))).await?;
        }
        if blocked {
            within(self.client.blocking().block(&jid)).await
        } else {
            within(self.client.blocking().unblock(&jid)).await
        }
    }

    pub(super) async fn query_blocklist(&self) -> Result<Vec<BlockedContact>, EngineError> {
        self.require_logged_in()?;
        let entries = within(self.client.blocking().get_blocklist()).await?;
        let mut blocked = Vec::with_capacity(entries.len());
        for entry in entries {
            let listed = entry.jid.to_non_ad();
            let pair = self.client.get_lid_pn_entry(&listed).await.ok().flatten();
            blocked.push(match (listed.is_lid(), pair) {
                (true, Some(pair)) => BlockedContact {
                    jid: Jid::pn(&*pair.phone_number).to_string(),
                    lid: Some(listed.to_string()),
                },
                (false, Some(pair)) => BlockedContact {
                    jid: listed.to_string(),
                    lid: Some(Jid::lid(&*pair.lid).to_string()),
                },
                (is_lid, None) => BlockedContact {
                    lid: is_lid.then(|| listed.to_string()),
                    jid: listed.to_string(),
                },
            });
        }
        Ok(blocked)
    }

    pub(super) async fn query_own_profile(&self) -> Result<OwnProfile, EngineError> {
        self.require_logged_in()?;
        let me = self.own_jid()?;
        let (about, _, picture) = self.about_and_picture(&me).await?;
        Ok(OwnProfile {
            jid: me.to_string(),
            push_name: self.client.push_name(),
            about,
            picture,
        })
    }

    pub(super) async fn change_push_name(&self, name: &str) -> Result<(), EngineError> {
        self.require_logged_in()?;
        within(self.client.profile().set_push_name(name)).await
    }

    pub(super) async fn change_about(&self, about: &str) -> Result<(), EngineError> {
        self.require_logged_in()?;
        within(self.client.profile().set_status_text(about)).await
    }

    pub(super) async fn change_photo(&self, jpeg: Option<bytes::Bytes>) -> Result<Option<String>, EngineError> {
        self.require_logged_in()?;
        let answer = match jpeg {
            Some(jpeg) => within(self.client.profile().set_profile_picture(jpeg.to_vec())).await?,
            None => within(self.client.profile().remove_profile_picture()).await?,
        };
        Ok(Some(answer.id).filter(|id| !id.is_empty()))
    }

    pub(super) async fn query_privacy(&self) -> Result<Vec<PrivacySetting>, EngineError> {
        self.require_logged_in()?;
        let settings = within(self.client.fetch_privacy_settings()).await?;
        Ok(settings
            .settings
            .into_iter()
            .filter_map(|s| {
                Some(PrivacySetting {
                    category: PrivacyCategory::from_wire(s.category.as_str())?,
                    value: s.value.as_str().to_owned(),
                })
            })
            .collect())
    }

    pub(super) async fn change_privacy(&self, category: PrivacyCategory, value: &str) -> Result<(), EngineError> {
        self.require_logged_in()?;
        let wire = WireCategory::from(category.wire());
        let value = PrivacyValue::from(value);
        if !wire.is_valid_value(&value) {
            return Err(EngineError::Protocol(format!(
                "{} cannot be {}",
                category.name(),
                value.as_str()
            )));
        }
        within(self.client.set_privacy_setting(wire, value)).await.map(drop)
    }
}
