//! The one conversion from whatsapp-rust events to the canonical model.
//!
//! This module owns turning whatsapp-rust's `Event::Messages` items, `Event::Receipt`,
//! `Event::GroupUpdate` and `Event::DeleteMessageForMeUpdate` into [`EventKind`]s. It is
//! pure: no client, no I/O. What a media message still needs (its download) is returned as
//! [`WaMedia`], the unwrapped waproto media message, for the engine to fetch with its client.
//!
//! Files: `mod.rs` (envelopes: ids, JIDs, timestamps, receipts, groups, delete-for-me),
//! `call.rs` (call offers, and how a call stopped), `content.rs` (unwrapping a `wa::Message` and mapping what it carries to [`Content`]),
//! `undecryptable.rs` (messages whose content could not be read), `poll_update.rs` (poll
//! votes, still encrypted).
//!
//! JIDs are reported the way users address them: a contact's phone-number JID where
//! WhatsApp also gave one (LID-addressed chats carry it as the `alt`), without the sending
//! device's suffix.

mod call;
mod chat_state;
mod content;
mod group_change;
mod poll_update;
#[cfg(test)]
mod tests;
mod undecryptable;

use whatsapp_rust::Jid;
use whatsapp_rust::types::events::{DeleteMessageForMeUpdate, GroupUpdate, InboundMessage, Receipt as WaReceipt};
use whatsapp_rust::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::wacore::stanza::groups::GroupNotificationAction;
use whatsapp_rust::wacore::types::presence::ReceiptType as WaReceiptType;
use whatsapp_rust::wacore_binary::JidExt;
use whatsapp_rust::waproto::whatsapp as wa;

pub use self::call::{call_offer, missed_offline, stopped, terminated};
pub use self::chat_state::chat_state;
pub use self::content::WaMedia;
pub use self::group_change::{photo_update, settings_update};
pub use self::poll_update::{PollUpdate, poll_update};
pub use self::undecryptable::undecryptable;
use super::{
    ChatState, ChatStateChange, Content, EventKind, GroupAction, GroupParticipants, Message, ParticipantIds, Receipt,
    ReceiptType,
};

/// A converted message: the canonical kind and, for media, what is still to download.
#[derive(Debug, Clone)]
pub struct Converted {
    /// Always `EventKind::Message`.
    pub kind: EventKind,
    /// The media message whose file the engine should fetch; `None` for other content.
    pub media: Option<WaMedia>,
}

/// An item of an `Event::Messages` batch; `None` for messages the model does not carry
/// (key shares, history sync notices, polls, ...).
pub fn message(inbound: &InboundMessage) -> Option<Converted> {
    message_parts(&inbound.message, &inbound.info)
}

/// A message and its envelope, as whatsapp-rust hands them over.
pub fn message_parts(message: &wa::Message, info: &MessageInfo) -> Option<Converted> {
    let body = content::convert(message, info)?;
    let source = &info.source;
    let chat = chat_jid(source);
    let content = match body.content {
        // A revoke always concerns the chat it arrives in; the key's `remoteJid` is written
        // from the revoker's side (in a direct chat it names *our* JID), so it is not used.
        content::Body::Revoke { target_id, key_from_me } => Content::Revoked {
            target_id,
            target_chat: chat.clone(),
            // The key says "from me" from the revoker's side: the target is ours only when
            // we revoked our own message (from another device). An admin revoking our
            // message in a group names us as `participant`, which a pure conversion cannot
            // recognise without our JID; it reports `false` then.
            target_from_me: key_from_me && source.is_from_me,
        },
        content::Body::Content(content) => content,
    };
    let (sender_lid, sender_phone) = sender_names(source);
    let (chat_lid, chat_phone) = chat_names(source);
    let kind = EventKind::Message(Message {
        id: info.id.to_string(),
        chat,
        sender: sender_jid(source),
        sender_lid,
        sender_phone,
        chat_lid,
        chat_phone,
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        from_me: source.is_from_me,
        is_group: source.is_group,
        timestamp: info.timestamp.timestamp(),
        content,
        quoted: body.quoted,
        forwarded: body.forwarded,
        view_once: body.view_once,
        ephemeral: body.ephemeral,
    });
    Some(Converted {
        kind,
        media: body.media,
    })
}

/// A delivery, read or played receipt for messages this account sent; `None` for the
/// other receipt types (our own devices' read marks, retries, server errors, ...).
pub fn receipt(receipt: &WaReceipt) -> Option<EventKind> {
    let receipt_type = match receipt.r#type {
        WaReceiptType::Delivered => ReceiptType::Delivered,
        WaReceiptType::Read => ReceiptType::Read,
        WaReceiptType::Played => ReceiptType::Played,
        _ => return None,
    };
    let mut ids: Vec<String> = receipt.message_ids.iter().map(|id| id.to_string()).collect();
    if ids.is_empty() {
        return None;
    }
    // A phone acknowledging several messages at once names the first as the receipt's `id`
    // and lists the others after it (`<list><item id/>`); whatsapp-rust hands them over in
    // WA Web's parser order, the listed ones first and the receipt's own id last. Reported
    // in the phone's order, as the sim engine does.
    ids.rotate_right(1);
    let source = &receipt.source;
    let (sender_lid, sender_phone) = sender_names(source);
    Some(EventKind::Receipt(Receipt {
        chat: chat_jid(source),
        sender: sender_jid(source),
        sender_lid,
        sender_phone,
        ids,
        receipt_type,
        timestamp: receipt.timestamp.timestamp(),
    }))
}

/// Participants joining, leaving, promoted or demoted in a group; the subject,
/// description, settings and invite link changing ([`settings_update`]); `None` for the
/// other group notifications, which the model does not carry.
pub fn group_update(update: &GroupUpdate) -> Option<EventKind> {
    let (action, participants) = match &update.action {
        GroupNotificationAction::Add { participants, .. } => (GroupAction::Join, participants),
        GroupNotificationAction::Remove { participants, .. } => (GroupAction::Leave, participants),
        GroupNotificationAction::Promote { participants } => (GroupAction::Promote, participants),
        GroupNotificationAction::Demote { participants } => (GroupAction::Demote, participants),
        _ => return settings_update(update),
    };
    // A LID-addressed group names each participant by LID, with the phone number beside it.
    let participants: Vec<ParticipantIds> = participants
        .iter()
        .map(|p| {
            let (mut lid, phone) = names(&p.jid, p.phone_number.as_ref());
            // A phone-addressed group may name the participant's LID beside it.
            if lid.is_none() {
                lid = p.lid.as_ref().filter(|j| j.is_lid()).map(|j| j.to_non_ad().to_string());
            }
            ParticipantIds {
                jid: prefer_phone(&p.jid, p.phone_number.as_ref()),
                lid,
                phone,
            }
        })
        .collect();
    Some(EventKind::GroupParticipants(GroupParticipants {
        group: update.group_jid.to_non_ad().to_string(),
        action,
        jids: participants.iter().map(|p| p.jid.clone()).collect(),
        participants,
        timestamp: update.timestamp.timestamp(),
    }))
}

/// A message deleted on this account only, synced from another device. `own_jid` is this
/// account's JID (the deletion's author); `None` for actions replayed by a full app-state
/// sync, which are history rather than news.
///
/// The deletion has no message id of its own, so the envelope's `id` is the target's.
pub fn deleted_for_me(update: &DeleteMessageForMeUpdate, own_jid: &str) -> Option<EventKind> {
    if update.from_full_sync {
        return None;
    }
    let chat = update.chat_jid.to_non_ad().to_string();
    Some(EventKind::Message(Message {
        id: update.message_id.clone(),
        is_group: update.chat_jid.is_group(),
        chat,
        sender: own_jid.to_owned(),
        // Filled from the JIDs by the engine (`engine::lids`).
        sender_lid: None,
        sender_phone: None,
        chat_lid: None,
        chat_phone: None,
        push_name: None,
        from_me: true,
        // When the deletion happened; the action's `messageTimestamp` is the target's.
        timestamp: update.timestamp.timestamp(),
        content: Content::DeletedForMe {
            target_id: update.message_id.clone(),
            target_from_me: update.from_me,
        },
        quoted: None,
        forwarded: false,
        view_once: false,
        ephemeral: None,
    }))
}

/// The sender as users address it: the phone-number JID when WhatsApp gave one alongside
/// a LID, without the device suffix.
fn sender_jid(source: &MessageSource) -> String {
    prefer_phone(&source.sender, source.sender_alt.as_ref())
}

/// The chat; for a one-to-one chat with a LID-addressed contact, the contact's
/// phone-number JID when known (the sender's alt when they wrote, the recipient's alt when
/// we did).
fn chat_jid(source: &MessageSource) -> String {
    if !source.is_group && source.chat.is_lid() {
        let alt = if source.is_from_me {
            source.recipient_alt.as_ref()
        } else {
            source.sender_alt.as_ref()
        };
        return prefer_phone(&source.chat, alt);
    }
    source.chat.to_non_ad().to_string()
}

/// Both names of the sender, as far as the stanza gives them: `(LID, phone number)`.
fn sender_names(source: &MessageSource) -> (Option<String>, Option<String>) {
    names(&source.sender, source.sender_alt.as_ref())
}

/// Both names of a one-to-one chat's contact, as far as the stanza gives them; none in
/// a group.
fn chat_names(source: &MessageSource) -> (Option<String>, Option<String>) {
    if source.is_group {
        return (None, None);
    }
    let alt = if source.is_from_me {
        source.recipient_alt.as_ref()
    } else {
        source.sender_alt.as_ref()
    };
    names(&source.chat, alt)
}

/// The LID (`…@lid`) and the phone number (digits) among a JID and its alternate.
fn names(jid: &Jid, alt: Option<&Jid>) -> (Option<String>, Option<String>) {
    let both = [Some(jid), alt];
    let lid = both
        .iter()
        .flatten()
        .find(|j| j.is_lid())
        .map(|j| j.to_non_ad().to_string());
    let phone = both.iter().flatten().find(|j| j.is_pn()).map(|j| j.user.to_string());
    (lid, phone)
}

fn prefer_phone(jid: &Jid, alt: Option<&Jid>) -> String {
    match alt {
        Some(alt) if jid.is_lid() && alt.is_pn() => alt.to_non_ad().to_string(),
        _ => jid.to_non_ad().to_string(),
    }
}
