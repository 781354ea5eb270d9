//! The moderation actions plugins ask for (since `wasap:plugin@0.3.0`, capability
//! `moderate`): changing a group's participants, blocking or unblocking a contact,
//! and declining a ringing call. The chain checks them ([`check`]); the instance's
//! send lane carries them out ([`Moderation::carry_out`]) in order with its
//! messages, through the very Messenger functions the routes
//! `POST /api/groups/{id}/{group}/participants`, `/api/contacts/{id}/{contact}/block`
//! (and `/unblock`) and `/api/calls/{id}/reject` call, so a plugin gets what an API
//! client gets.

use super::bindings::types;
use crate::engine::ParticipantAction;
use crate::events::Event;
use crate::messaging::calls::valid_call_id;
use crate::messaging::contacts::ContactsError;
use crate::messaging::groups::{GroupError, MAX_PARTICIPANTS};
use crate::messaging::{Messenger, SendError};

/// Why a plugin's moderation action was refused or failed (logged: the plugin has
/// answered by then).
#[derive(Debug, thiserror::Error)]
pub(super) enum ModerationError {
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error(transparent)]
    Contacts(#[from] ContactsError),
    #[error(transparent)]
    Call(#[from] SendError),
}

/// A moderation action, on its way through an instance's send lane.
pub(super) enum Moderation {
    Participants(types::ChangeParticipants),
    Block(types::BlockContact),
    RejectCall(types::RejectCall),
}

impl Moderation {
    /// The action's name in the WIT, for the log.
    pub(super) fn action(&self) -> &'static str {
        match self {
            Moderation::Participants(_) => "group-participants",
            Moderation::Block(_) => "block-contact",
            Moderation::RejectCall(_) => "reject-call",
        }
    }

    /// Carries the action out for instance `instance_id`. A group change WhatsApp
    /// refuses for some participants only is done for the others, and those are
    /// logged (with `plugin`), as the route answers them one by one.
    pub(super) async fn carry_out(
        self,
        messenger: &Messenger,
        instance_id: &str,
        plugin: &str,
    ) -> Result<(), ModerationError> {
        match self {
            Moderation::Participants(change) => {
                let group = group_jid(&change.group);
                let action = participant_action(change.change);
                let results = messenger
                    .change_participants(instance_id, &group, action, &change.participants)
                    .await?;
                for refused in results.iter().filter(|r| r.error.is_some()) {
                    tracing::warn!(
                        %plugin,
                        %group,
                        participant = %refused.jid,
                        code = ?refused.error,
                        ?action,
                        "WhatsApp refused a plugin's change to a group participant"
                    );
                }
            }
            Moderation::Block(block) => {
                messenger
                    .set_blocked(instance_id, &block.contact, block.blocked)
                    .await?;
            }
            Moderation::RejectCall(call) => {
                messenger.reject_call(instance_id, &call.call_id, &call.caller).await?;
            }
        }
        Ok(())
    }
}

/// Checks a moderation action against the manifest's grant and the event, as the
/// routes check their input: `Ok(false)` when `action` is not one.
pub(super) fn check(moderate: bool, event: &Event, action: &types::Action) -> Result<bool, String> {
    if !matches!(
        action,
        types::Action::GroupParticipants(_) | types::Action::BlockContact(_) | types::Action::RejectCall(_)
    ) {
        return Ok(false);
    }
    if !moderate {
        return Err("moderation actions are not granted (capabilities.moderate)".to_owned());
    }
    if event.instance_id.is_empty() {
        return Err("a server-wide event has no instance to moderate for".to_owned());
    }
    match action {
        types::Action::GroupParticipants(change) if !(1..=MAX_PARTICIPANTS).contains(&change.participants.len()) => {
            Err(format!(
                "group-participants names {} participants (1 to {MAX_PARTICIPANTS})",
                change.participants.len()
            ))
        }
        types::Action::RejectCall(call) if !valid_call_id(&call.call_id) => Err(format!(
            "reject-call names {:?}, not a call id (1 to 128 of A-Z, a-z, 0-9, -, _ and .)",
            call.call_id
        )),
        _ => Ok(true),
    }
}

/// A group named by its JID, or by the part before `@g.us`.
fn group_jid(group: &str) -> String {
    let group = group.trim();
    if group.contains('@') {
        group.to_owned()
    } else {
        format!("{group}@g.us")
    }
}

fn participant_action(change: types::ParticipantChange) -> ParticipantAction {
    match change {
        types::ParticipantChange::Add => ParticipantAction::Add,
        types::ParticipantChange::Remove => ParticipantAction::Remove,
        types::ParticipantChange::Promote => ParticipantAction::Promote,
        types::ParticipantChange::Demote => ParticipantAction::Demote,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_named_by_its_jid_or_its_id() {
        assert_eq!(group_jid("120363402106000703@g.us"), "120363402106000703@g.us");
        assert_eq!(group_jid(" 120363402106000703 "), "120363402106000703@g.us");
    }
}
