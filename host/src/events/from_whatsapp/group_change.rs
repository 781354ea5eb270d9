//! Group notifications other than participant changes, as [`GroupUpdate`] events: the
//! subject, description, announce, locked and approval settings and the invite link
//! (`w:gp2` notifications), and a group's photo (a `picture` notification, which
//! whatsapp-rust hands over as a picture update).

use whatsapp_rust::types::events::{GroupUpdate as WaGroupUpdate, PictureUpdate};
use whatsapp_rust::wacore::stanza::groups::GroupNotificationAction;
use whatsapp_rust::wacore_binary::JidExt;

use super::prefer_phone;
use crate::events::{EventKind, GroupUpdate, GroupUpdateKind};

/// A `w:gp2` notification of a change to a group's info or settings; `None` for the
/// others (participants are [`super::group_update`]'s; ephemeral settings, community
/// links and the rest are not in the model).
pub fn settings_update(update: &WaGroupUpdate) -> Option<EventKind> {
    let (change, text, enabled) = match &update.action {
        GroupNotificationAction::Subject { subject, .. } => (GroupUpdateKind::Subject, Some(subject.clone()), None),
        GroupNotificationAction::Description { description, .. } => {
            (GroupUpdateKind::Description, description.clone(), None)
        }
        GroupNotificationAction::Announce => (GroupUpdateKind::Announce, None, Some(true)),
        GroupNotificationAction::NotAnnounce => (GroupUpdateKind::Announce, None, Some(false)),
        GroupNotificationAction::Locked { .. } => (GroupUpdateKind::Locked, None, Some(true)),
        GroupNotificationAction::Unlocked => (GroupUpdateKind::Locked, None, Some(false)),
        GroupNotificationAction::MembershipApprovalMode { enabled } => {
            (GroupUpdateKind::Approval, None, Some(*enabled))
        }
        // The new code is an admin's to read: the event says only that the link changed.
        GroupNotificationAction::Invite { .. } | GroupNotificationAction::RevokeInvite => {
            (GroupUpdateKind::InviteLink, None, None)
        }
        _ => return None,
    };
    let author = update
        .participant
        .as_ref()
        .map(|jid| prefer_phone(jid, update.participant_pn.as_ref()));
    Some(EventKind::GroupUpdate(GroupUpdate {
        group: update.group_jid.to_non_ad().to_string(),
        change,
        text,
        enabled,
        author,
        timestamp: update.timestamp.timestamp(),
    }))
}

/// A group's photo set or removed; `None` for a user's picture.
pub fn photo_update(update: &PictureUpdate) -> Option<EventKind> {
    if !update.jid.is_group() {
        return None;
    }
    Some(EventKind::GroupUpdate(GroupUpdate {
        group: update.jid.to_non_ad().to_string(),
        change: GroupUpdateKind::Photo,
        text: if update.removed {
            None
        } else {
            update.picture_id.clone()
        },
        enabled: None,
        author: update.author.as_ref().map(|jid| jid.to_non_ad().to_string()),
        timestamp: update.timestamp.timestamp(),
    }))
}
