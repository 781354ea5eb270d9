//! Group management on the real engine: the [`GroupAdmin`] requests carried
//! out with whatsapp-rust's `client.groups()`, WhatsApp's group metadata
//! turned into [`GroupInfo`], and its refusals into the typed
//! [`EngineError`]s: a group that is not there or not the account's
//! (`404`, `403`) is [`EngineError::GroupNotFound`], a change only an admin
//! may make (`401 not-authorized`) is [`EngineError::NotGroupAdmin`], an
//! invite code that leads nowhere (`404`, `406`, `410`) is
//! [`EngineError::InvalidInvite`].

use std::future::Future;

use async_trait::async_trait;
use whatsapp_rust::Jid;
use whatsapp_rust::features::{
    GroupCreateOptions, GroupDescription, GroupError, GroupMetadata, GroupParticipantOptions, GroupSubject,
    JoinGroupResult, MembershipApprovalMode, ParticipantChangeResponse, PreviousDescription,
};
use whatsapp_rust::request::IqError;
use whatsapp_rust::wacore_binary::JidExt;

use super::session::{REQUEST_TIMEOUT, WhatsappSession, recipient};
use crate::engine::{
    EngineError, GroupAdmin, GroupChange, GroupInfo, GroupParticipant, GroupSettings, InvitePreview, JoinRequest,
    Joined, ParticipantAction, ParticipantResult, RequestAction,
};

/// Which answer a refusal is, by what was asked.
#[derive(Clone, Copy)]
enum Asked<'a> {
    /// Something about group `.0`.
    Group(&'a str),
    /// Something about invite code `.0`.
    Invite(&'a str),
}

/// `error` as the engine's error, for a request about `asked`.
fn refusal(error: GroupError, asked: Asked<'_>) -> EngineError {
    let code = match &error {
        GroupError::Iq(IqError::ServerError { code, .. }) => Some(*code),
        _ => None,
    };
    match (asked, code) {
        (Asked::Group(group), Some(403 | 404)) => EngineError::GroupNotFound(group.to_owned()),
        (Asked::Group(group), Some(401)) => EngineError::NotGroupAdmin(group.to_owned()),
        (Asked::Invite(code), Some(404 | 406 | 410)) => EngineError::InvalidInvite(code.to_owned()),
        (Asked::Invite(code), _) if matches!(error, GroupError::InvalidRequest(_)) => {
            EngineError::InvalidInvite(code.to_owned())
        }
        _ => EngineError::Protocol(format!("group request failed: {error}")),
    }
}

/// `jid` as a group JID, or refused as an invalid recipient.
fn group_jid(group: &str) -> Result<Jid, EngineError> {
    let jid = recipient(group)?;
    if !jid.is_group() {
        return Err(EngineError::InvalidRecipient(group.to_owned()));
    }
    Ok(jid)
}

fn user_jids(participants: &[String]) -> Result<Vec<Jid>, EngineError> {
    participants.iter().map(|p| recipient(p)).collect()
}

/// WhatsApp's per-participant answers.
fn results(answers: Vec<ParticipantChangeResponse>) -> Vec<ParticipantResult> {
    answers
        .into_iter()
        .map(|answer| {
            let jid = answer
                .phone_number
                .as_ref()
                .unwrap_or(&answer.jid)
                .to_non_ad()
                .to_string();
            match answer.error.as_deref() {
                None => ParticipantResult::ok(jid),
                Some(code) => ParticipantResult::failed(jid, code.parse().unwrap_or(500)),
            }
        })
        .collect()
}

impl WhatsappSession {
    /// Runs a group request with the request timeout, mapping its refusal.
    async fn group_call<T>(
        &self,
        asked: Asked<'_>,
        call: impl Future<Output = Result<T, GroupError>>,
    ) -> Result<T, EngineError> {
        self.require_logged_in()?;
        tokio::time::timeout(REQUEST_TIMEOUT, call)
            .await
            .map_err(|_| EngineError::Timeout)?
            .map_err(|e| refusal(e, asked))
    }

    /// `metadata` as the account sees it.
    pub(super) fn group_info_of(&self, metadata: GroupMetadata) -> GroupInfo {
        let me: Vec<Jid> = [self.client.pn(), self.client.lid()].into_iter().flatten().collect();
        let is_me = |jid: &Jid| me.iter().any(|mine| mine.user == jid.user && mine.server == jid.server);
        GroupInfo {
            jid: metadata.id.to_string(),
            subject: metadata.subject,
            description: metadata.description,
            owner: metadata
                .creator_pn
                .or(metadata.creator)
                .map(|jid| jid.to_non_ad().to_string()),
            created: metadata.creation_time.map(|t| t as i64),
            settings: GroupSettings {
                announce: metadata.is_announcement,
                locked: metadata.is_locked,
                approval: metadata.membership_approval,
            },
            participants: metadata
                .participants
                .into_iter()
                .map(|p| GroupParticipant {
                    is_me: is_me(&p.jid) || p.phone_number.as_ref().is_some_and(is_me),
                    admin: p.is_admin(),
                    super_admin: p.is_super_admin(),
                    lid: p
                        .lid
                        .as_ref()
                        .or(p.jid.is_lid().then_some(&p.jid))
                        .map(|lid| lid.to_non_ad().to_string()),
                    jid: p.jid.to_non_ad().to_string(),
                    phone_jid: p.phone_number.map(|pn| pn.to_non_ad().to_string()),
                })
                .collect(),
        }
    }
}

#[async_trait]
impl GroupAdmin for WhatsappSession {
    async fn list_groups(&self) -> Result<Vec<GroupInfo>, EngineError> {
        let all = self
            .group_call(Asked::Group("*"), self.client.groups().get_participating())
            .await?;
        let mut groups: Vec<GroupInfo> = all.into_values().map(|m| self.group_info_of(m)).collect();
        groups.sort_by(|a, b| a.jid.cmp(&b.jid));
        Ok(groups)
    }

    async fn create_group(&self, subject: &str, participants: &[String]) -> Result<GroupInfo, EngineError> {
        let mut options = GroupCreateOptions::new(subject);
        for jid in user_jids(participants)? {
            options = options.with_participant(GroupParticipantOptions::new(jid));
        }
        let created = self
            .group_call(Asked::Group("new"), self.client.groups().create_group(options))
            .await?;
        Ok(self.group_info_of(created.metadata))
    }

    async fn change_participants(
        &self,
        group: &str,
        action: ParticipantAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, EngineError> {
        let jid = group_jid(group)?;
        let jids = user_jids(participants)?;
        let groups = self.client.groups();
        let asked = Asked::Group(group);
        let answers = match action {
            ParticipantAction::Add => self.group_call(asked, groups.add_participants(jid, &jids)).await?,
            ParticipantAction::Remove => self.group_call(asked, groups.remove_participants(jid, &jids)).await?,
            ParticipantAction::Promote => self.group_call(asked, groups.promote_participants(jid, &jids)).await?,
            ParticipantAction::Demote => self.group_call(asked, groups.demote_participants(jid, &jids)).await?,
        };
        Ok(results(answers))
    }

    async fn invite_code(&self, group: &str, reset: bool) -> Result<String, EngineError> {
        let jid = group_jid(group)?;
        let link = self
            .group_call(Asked::Group(group), self.client.groups().get_invite_link(jid, reset))
            .await?;
        // whatsapp-rust answers the whole link; the code is its last part.
        Ok(link.rsplit('/').next().unwrap_or(&link).to_owned())
    }

    async fn invite_preview(&self, code: &str) -> Result<InvitePreview, EngineError> {
        let metadata = self
            .group_call(Asked::Invite(code), self.client.groups().get_invite_info(code))
            .await?;
        Ok(InvitePreview {
            jid: metadata.id.to_string(),
            size: metadata.size.unwrap_or(metadata.participants.len() as u32),
            subject: metadata.subject,
            description: metadata.description,
            owner: metadata
                .creator_pn
                .or(metadata.creator)
                .map(|jid| jid.to_non_ad().to_string()),
            created: metadata.creation_time.map(|t| t as i64),
        })
    }

    async fn join_group(&self, code: &str) -> Result<Joined, EngineError> {
        let joined = self
            .group_call(Asked::Invite(code), self.client.groups().join_with_invite_code(code))
            .await?;
        Ok(match joined {
            JoinGroupResult::Joined(jid) => Joined::Member(jid.to_string()),
            JoinGroupResult::PendingApproval(jid) => Joined::Requested(jid.to_string()),
        })
    }

    async fn leave_group(&self, group: &str) -> Result<(), EngineError> {
        let jid = group_jid(group)?;
        self.group_call(Asked::Group(group), self.client.groups().leave(jid))
            .await
    }

    async fn change_group(&self, group: &str, change: GroupChange) -> Result<(), EngineError> {
        let jid = group_jid(group)?;
        let groups = self.client.groups();
        let asked = Asked::Group(group);
        let invalid = |e: anyhow::Error| EngineError::Protocol(e.to_string());
        match change {
            GroupChange::Subject(subject) => {
                let subject = GroupSubject::new(subject).map_err(invalid)?;
                self.group_call(asked, groups.set_subject(jid, subject)).await
            }
            GroupChange::Description(description) => {
                let description = description.map(GroupDescription::new).transpose().map_err(invalid)?;
                self.group_call(
                    asked,
                    groups.set_description(jid, description, PreviousDescription::Resolve),
                )
                .await
            }
            GroupChange::Announce(on) => self.group_call(asked, groups.set_announce(jid, on)).await,
            GroupChange::Locked(on) => self.group_call(asked, groups.set_locked(jid, on)).await,
            GroupChange::Approval(on) => {
                let mode = if on {
                    MembershipApprovalMode::On
                } else {
                    MembershipApprovalMode::Off
                };
                self.group_call(asked, groups.set_membership_approval(jid, mode)).await
            }
        }
    }

    async fn set_group_photo(&self, group: &str, jpeg: bytes::Bytes) -> Result<String, EngineError> {
        let jid = group_jid(group)?;
        let set = self
            .group_call(
                Asked::Group(group),
                self.client.groups().set_profile_picture(jid, jpeg.to_vec()),
            )
            .await?;
        Ok(set.id)
    }

    async fn join_requests(&self, group: &str) -> Result<Vec<JoinRequest>, EngineError> {
        let jid = group_jid(group)?;
        let requests = self
            .group_call(Asked::Group(group), self.client.groups().get_membership_requests(jid))
            .await?;
        Ok(requests
            .into_iter()
            .map(|r| JoinRequest {
                jid: r.jid.to_non_ad().to_string(),
                requested_at: r.request_time.map(|t| t as i64),
            })
            .collect())
    }

    async fn answer_join_requests(
        &self,
        group: &str,
        action: RequestAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantResult>, EngineError> {
        let jid = group_jid(group)?;
        let jids = user_jids(participants)?;
        let groups = self.client.groups();
        let asked = Asked::Group(group);
        let answers = match action {
            RequestAction::Approve => {
                self.group_call(asked, groups.approve_membership_requests(jid, &jids))
                    .await?
            }
            RequestAction::Reject => {
                self.group_call(asked, groups.reject_membership_requests(jid, &jids))
                    .await?
            }
        };
        Ok(results(answers))
    }
}
