//! Group messages a client sends, as WhatsApp's server fans them out: the
//! sender hands its sender key (a distribution message, SKDM) to each member
//! device over their pairwise session (`<participants><to><enc pkmsg|msg>`),
//! and encrypts the content once with it (the top-level `<enc
//! type="skmsg">`). A simulated member's phone keeps the SKDM it decrypted
//! ([`take_sender_key`]) and with it decrypts the `skmsg`
//! ([`receive_group_message`]), which lands in its inbox with the group as
//! its chat, as any message it received.

use std::sync::Arc;

use tracing::info;
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::{
    SenderKeyDistributionMessage, SenderKeyName, group_decrypt, process_sender_key_distribution_message,
};
use waproto::whatsapp as wa;

use crate::ReceivedMessage;
use crate::messaging::{address, text_of};
use crate::nodes::bytes;
use crate::server::Inner;
use crate::signal::SignalDevice;
use crate::state::DeviceKey;

/// The name a member keeps `sender`'s key for `group` under.
fn key_name(group: &str, sender: &DeviceKey) -> SenderKeyName {
    SenderKeyName::new(group.to_owned(), address(&sender.0, sender.1).to_string())
}

/// Keeps the sender key `message` distributes, if it carries one; whether
/// the message carried nothing else (then it is protocol traffic, not a
/// message for the inbox).
pub(crate) async fn take_sender_key(signal: &mut SignalDevice, sender: &DeviceKey, message: &wa::Message) -> bool {
    let Some(skdm) = message.sender_key_distribution_message.as_option() else {
        return false;
    };
    if let (Some(group), Some(serialized)) = (&skdm.group_id, &skdm.axolotl_sender_key_distribution_message)
        && let Ok(distribution) = SenderKeyDistributionMessage::try_from(serialized.as_slice())
    {
        let name = key_name(group, sender);
        if let Err(e) = process_sender_key_distribution_message(&name, &distribution, &mut signal.sender_keys).await {
            tracing::warn!(target: "whatsapp_sim", %group, error = %e, "cannot keep a sender key");
        }
    }
    let only_key = wa::Message {
        sender_key_distribution_message: message.sender_key_distribution_message.clone(),
        message_context_info: message.message_context_info.clone(),
        ..Default::default()
    };
    *message == only_key
}

/// The `skmsg` of a client's message to `group`: every simulated member but
/// the sender decrypts it with the sender's key and keeps it.
pub(crate) async fn receive_group_message(inner: &Arc<Inner>, sender: &DeviceKey, group: &Jid, id: &str, enc: &Node) {
    let Some(ciphertext) = bytes(enc) else {
        inner.unhandled(format!("group message {id} without a ciphertext"));
        return;
    };
    let members: Option<Vec<(String, Arc<tokio::sync::Mutex<SignalDevice>>)>> = {
        let world = inner.world();
        world.groups.get(group.user.as_str()).map(|state| {
            state
                .participants
                .keys()
                .filter(|pn| **pn != sender.0)
                .filter_map(|pn| world.accounts.get(pn).map(|a| (pn.clone(), a.primary.clone())))
                .collect()
        })
    };
    let Some(members) = members else {
        inner.unhandled(format!("message to a group we do not know: {group}"));
        return;
    };
    let name = key_name(&group.to_string(), sender);
    for (member, primary) in members {
        let decrypted = {
            let mut signal = primary.lock().await;
            group_decrypt(ciphertext, &mut signal.sender_keys, &name).await
        };
        let message = match decrypted
            .map_err(|e| e.to_string())
            .and_then(|p| wacore::messages::decode_plaintext(&p, 2).map_err(|e| e.to_string()))
        {
            Ok(message) => message,
            Err(e) => {
                inner.unhandled(format!("{member} could not decrypt group message {id} in {group}: {e}"));
                continue;
            }
        };
        let received = ReceivedMessage {
            id: id.to_owned(),
            from: Jid::pn_device(sender.0.as_str(), sender.1).to_string(),
            to: member.clone(),
            chat: group.to_string(),
            text: text_of(&message),
            category: None,
            message,
        };
        info!(target: "whatsapp_sim", %member, %id, %group, "simulated member received a group message");
        if let Some(account) = inner.world().accounts.get_mut(&member) {
            account.inbox.push(received);
        }
    }
}
