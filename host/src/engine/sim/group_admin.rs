//! Group management on the simulated network: a session's
//! [`GroupAdmin`] requests carried out on the network's groups (`groups.rs`,
//! which enforces WhatsApp's rules), the same changes made by a contact (the
//! `/sim/groups/...` routes, playing another member), and the news of each
//! change delivered as events to every connected instance in the group, the
//! one that made it included, as WhatsApp notifies every member's devices.

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::groups::{Notice, Noticed};
use super::network::{SimError, SimNetwork};
use super::session::SimSession;
use crate::engine::{
    EngineError, GroupAdmin, GroupChange, GroupInfo, InboundEvent, InvitePreview, JoinRequest, Joined,
    ParticipantAction, ParticipantResult, RequestAction,
};
use crate::events::{EventKind, GroupAction, GroupParticipants, GroupUpdate, GroupUpdateKind};

fn jid_of(phone: &str) -> String {
    format!("{phone}@s.whatsapp.net")
}

/// The event members get for `notice`; `None` for what the model does not carry.
fn event_of(notice: &Notice) -> Option<EventKind> {
    let timestamp = crate::clock::now_secs();
    match &notice.what {
        Noticed::Participants(action, phones) => Some(EventKind::GroupParticipants(GroupParticipants {
            group: notice.group.clone(),
            action: match action {
                ParticipantAction::Add => GroupAction::Join,
                ParticipantAction::Remove => GroupAction::Leave,
                ParticipantAction::Promote => GroupAction::Promote,
                ParticipantAction::Demote => GroupAction::Demote,
            },
            jids: phones.iter().map(|p| jid_of(p)).collect(),
            participants: Vec::new(),
            timestamp,
        })),
        Noticed::Changed(change) => {
            let (change, text, enabled) = match change {
                GroupChange::Subject(subject) => (GroupUpdateKind::Subject, Some(subject.clone()), None),
                GroupChange::Description(description) => (GroupUpdateKind::Description, description.clone(), None),
                GroupChange::Announce(on) => (GroupUpdateKind::Announce, None, Some(*on)),
                GroupChange::Locked(on) => (GroupUpdateKind::Locked, None, Some(*on)),
                GroupChange::Approval(on) => (GroupUpdateKind::Approval, None, Some(*on)),
            };
            Some(update(notice, change, text, enabled, timestamp))
        }
        Noticed::Photo(id) => Some(update(
            notice,
            GroupUpdateKind::Photo,
            Some(id.clone()),
            None,
            timestamp,
        )),
        Noticed::InviteReset => Some(update(notice, GroupUpdateKind::InviteLink, None, None, timestamp)),
    }
}

fn update(
    notice: &Notice,
    change: GroupUpdateKind,
    text: Option<String>,
    enabled: Option<bool>,
    timestamp: i64,
) -> EventKind {
    EventKind::GroupUpdate(GroupUpdate {
        group: notice.group.clone(),
        change,
        text,
        enabled,
        author: Some(jid_of(&notice.author)),
        timestamp,
    })
}

impl SimNetwork {
    /// Delivers `notice` to every connected instance in its audience.
    pub(super) async fn notify(&self, notice: Option<Notice>) {
        let Some(notice) = notice else { return };
        let Some(kind) = event_of(&notice) else { return };
        for session in self.sessions() {
            let Ok(phone) = session.own_phone().await else {
                continue;
            };
            if notice.audience.contains(&phone) {
                let event = InboundEvent {
                    kind: kind.clone(),
                    media: None,
                };
                if let Err(e) = session.deliver(event).await {
                    tracing::debug!(error = %e, "a group notice found the instance offline");
                }
            }
        }
    }

    /// Contact `phone` joins by invite code `code`, as the driver plays it.
    pub async fn member_joins(&self, phone: &str, code: &str) -> Result<Joined, SimError> {
        let (joined, notice) = self.groups().join(code, phone).map_err(invalid)?;
        self.notify(notice).await;
        Ok(joined)
    }

    /// Member `phone` of group `group` changes its subject, description or
    /// a setting, as the driver plays it.
    pub async fn member_changes(&self, group: &str, phone: &str, change: GroupChange) -> Result<(), SimError> {
        let notice = self.groups().change(group, phone, change).map_err(invalid)?;
        self.notify(Some(notice)).await;
        Ok(())
    }

    /// Admin `phone` of group `group` changes its participants, as the
    /// driver plays it.
    pub async fn member_changes_participants(
        &self,
        group: &str,
        phone: &str,
        action: ParticipantAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, SimError> {
        let (results, notice) = self
            .groups()
            .change_participants(group, phone, action, participants, &|_| true)
            .map_err(invalid)?;
        self.notify(notice).await;
        Ok(results)
    }

    /// Group `group` as the simulated servers keep it.
    pub fn group_state(&self, group: &str) -> Option<super::groups::SimGroupState> {
        self.groups().state(group)
    }

    /// Group `group`'s invite code, as its member `phone` (an admin) reads it.
    pub fn member_invite_code(&self, group: &str, phone: &str) -> Result<String, SimError> {
        self.groups()
            .invite_code(group, phone, false)
            .map(|(code, _)| code)
            .map_err(invalid)
    }
}

fn invalid(e: EngineError) -> SimError {
    SimError::Invalid(e.to_string())
}

impl SimSession {
    /// The session's own number, once it is connected.
    async fn member(&self) -> Result<String, EngineError> {
        self.require_connected()?;
        self.own_phone().await
    }

    fn on_whatsapp(&self) -> impl Fn(&str) -> bool + '_ {
        |phone: &str| self.network().contact(phone).is_none_or(|c| c.on_whatsapp)
    }
}

#[async_trait]
impl GroupAdmin for SimSession {
    async fn list_groups(&self) -> Result<Vec<GroupInfo>, EngineError> {
        let me = self.member().await?;
        Ok(self.network().groups().of_member(&me))
    }

    async fn create_group(&self, subject: &str, participants: &[String]) -> Result<GroupInfo, EngineError> {
        let me = self.member().await?;
        let on_whatsapp = self.on_whatsapp();
        let phones: Vec<String> = participants
            .iter()
            .filter_map(|jid| jid.strip_suffix("@s.whatsapp.net"))
            .filter(|phone| on_whatsapp(phone))
            .map(str::to_owned)
            .collect();
        let network = self.network();
        let jid = network.groups().create(&me, subject, &phones)?;
        network.group_info(&jid, &me).ok_or(EngineError::GroupNotFound(jid))
    }

    async fn change_participants(
        &self,
        group: &str,
        action: ParticipantAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, EngineError> {
        let me = self.member().await?;
        let network = self.network();
        let (results, notice) =
            network
                .groups()
                .change_participants(group, &me, action, participants, &self.on_whatsapp())?;
        network.notify(notice).await;
        Ok(results)
    }

    async fn invite_code(&self, group: &str, reset: bool) -> Result<String, EngineError> {
        let me = self.member().await?;
        let network = self.network();
        let (code, notice) = network.groups().invite_code(group, &me, reset)?;
        network.notify(notice).await;
        Ok(code)
    }

    async fn invite_preview(&self, code: &str) -> Result<InvitePreview, EngineError> {
        self.member().await?;
        self.network().groups().preview(code)
    }

    async fn join_group(&self, code: &str) -> Result<Joined, EngineError> {
        let me = self.member().await?;
        let network = self.network();
        let (joined, notice) = network.groups().join(code, &me)?;
        network.notify(notice).await;
        Ok(joined)
    }

    async fn leave_group(&self, group: &str) -> Result<(), EngineError> {
        let me = self.member().await?;
        let network = self.network();
        let notice = network.groups().leave(group, &me)?;
        network.notify(Some(notice)).await;
        Ok(())
    }

    async fn change_group(&self, group: &str, change: GroupChange) -> Result<(), EngineError> {
        let me = self.member().await?;
        let network = self.network();
        let notice = network.groups().change(group, &me, change)?;
        network.notify(Some(notice)).await;
        Ok(())
    }

    async fn set_group_photo(&self, group: &str, jpeg: bytes::Bytes) -> Result<String, EngineError> {
        let me = self.member().await?;
        // The photo's id is what the simulated servers make of its bytes.
        let digest = hex::encode(&Sha256::digest(&jpeg)[..8]);
        let network = self.network();
        let (id, notice) = network.groups().set_photo(group, &me, &digest)?;
        network.notify(Some(notice)).await;
        Ok(id)
    }

    async fn join_requests(&self, group: &str) -> Result<Vec<JoinRequest>, EngineError> {
        let me = self.member().await?;
        self.network().groups().requests(group, &me)
    }

    async fn answer_join_requests(
        &self,
        group: &str,
        action: RequestAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, EngineError> {
        let me = self.member().await?;
        let network = self.network();
        let (results, notice) = network.groups().answer_requests(group, &me, action, participants)?;
        network.notify(notice).await;
        Ok(results)
    }
}
