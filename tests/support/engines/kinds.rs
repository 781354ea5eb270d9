//! The driver's side of every non-media message kind, receipts and groups:
//! one method per thing WhatsApp does to an instance, each a `/sim/` route
//! on the sim engine and, on the real engine, the protobuf a phone sends
//! (built the way whatsapp-rust builds its own: `wacore::send`'s edit and
//! revoke shapes, `contextInfo` for replies, forwards and disappearing
//! chats) through the loopback simulator.
//!
//! Every message carries the sender's push name on both engines, so the
//! events match field for field.

use serde_json::{Value, json};
use wasap_whatsapp_sim::{GroupChange, ReceiptKind};
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::waproto::whatsapp::message::protocol_message::Type as ProtocolType;

use super::Driver;
use crate::WAIT;

/// Who sends a message, and where: a contact in its chat with the
/// instance, or a participant of a group.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub phone: &'a str,
    pub push_name: &'a str,
    /// `…@g.us` for a group message.
    pub group: Option<&'a str>,
}

impl<'a> Sender<'a> {
    /// A contact writing to the instance.
    pub fn contact(phone: &'a str, push_name: &'a str) -> Sender<'a> {
        Sender {
            phone,
            push_name,
            group: None,
        }
    }

    /// A participant writing to group `group`.
    pub fn in_group(self, group: &'a str) -> Sender<'a> {
        Sender {
            group: Some(group),
            ..self
        }
    }
}

/// How a message is wrapped and what its `contextInfo` says.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wrapping<'a> {
    /// The message it answers: `(id, text)`.
    pub reply_to: Option<(&'a str, &'a str)>,
    pub forwarded: bool,
    /// In a `viewOnceMessageV2`.
    pub view_once: bool,
    /// In a chat with disappearing messages: `(expiration s, when set)`, in
    /// an `ephemeralMessage`.
    pub ephemeral: Option<(u32, i64)>,
}

/// What a message carries.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'a> {
    Text(&'a str),
    Contact {
        display_name: &'a str,
        vcard: &'a str,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<&'a str>,
        address: Option<&'a str>,
    },
    /// A reaction to the instance's message `target_id`.
    Reaction {
        emoji: &'a str,
        target_id: &'a str,
    },
    /// The sender edits its own message `target_id`.
    Edit {
        target_id: &'a str,
        text: &'a str,
    },
    /// The sender revokes its own message `target_id` for everyone.
    Revoke {
        target_id: &'a str,
    },
}

impl Driver {
    /// `from` sends a text; its id.
    pub async fn text_message_from(&self, from: Sender<'_>, text: &str) -> String {
        self.message_from(from, Kind::Text(text), Wrapping::default()).await
    }

    /// `from` sends a contact card; its id.
    pub async fn contact_card_from(&self, from: Sender<'_>, display_name: &str, vcard: &str) -> String {
        let kind = Kind::Contact { display_name, vcard };
        self.message_from(from, kind, Wrapping::default()).await
    }

    /// `from` shares a location; its id.
    pub async fn location_from(
        &self,
        from: Sender<'_>,
        (latitude, longitude): (f64, f64),
        name: Option<&str>,
        address: Option<&str>,
    ) -> String {
        let kind = Kind::Location {
            latitude,
            longitude,
            name,
            address,
        };
        self.message_from(from, kind, Wrapping::default()).await
    }

    /// `from` reacts with `emoji` to the instance's message `target_id`; the reaction's id.
    pub async fn reaction_from(&self, from: Sender<'_>, emoji: &str, target_id: &str) -> String {
        let kind = Kind::Reaction { emoji, target_id };
        self.message_from(from, kind, Wrapping::default()).await
    }

    /// `from` edits its message `target_id` to `text` as WhatsApp does since
    /// 2026: encrypted under the message's secret (the message must be one
    /// `from` sent through this driver); the edit's id.
    pub async fn encrypted_edit_from(&self, from: Sender<'_>, target_id: &str, text: &str) -> String {
        match &self.simulator {
            None => {
                self.message_from(from, Kind::Edit { target_id, text }, Wrapping::default())
                    .await
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(from.phone);
                contact.set_push_name(from.push_name);
                contact
                    .edit_message(from.group.unwrap_or(&user), target_id, text)
                    .await
                    .unwrap_or_else(|e| panic!("{} edits {target_id}: {e}", from.phone))
            }
        }
    }

    /// `from` edits its message `target_id` to `text` the older way, in the
    /// clear (`protocolMessage.editedMessage`); the edit's id.
    pub async fn edit_from(&self, from: Sender<'_>, target_id: &str, text: &str) -> String {
        self.message_from(from, Kind::Edit { target_id, text }, Wrapping::default())
            .await
    }

    /// `from` deletes its message `target_id` for everyone; the revocation's id.
    pub async fn revoke_from(&self, from: Sender<'_>, target_id: &str) -> String {
        self.message_from(from, Kind::Revoke { target_id }, Wrapping::default())
            .await
    }

    /// Contact `from` sends a message the instance cannot decrypt; its id.
    /// On the sim engine, `"kind": "undecryptable"`; on the real engine, a
    /// text whose ciphertext the simulator breaks, after which the client
    /// asks for a retry (`<receipt type="retry">`), waited for here.
    pub async fn undecryptable_from(&self, from: Sender<'_>) -> String {
        assert!(from.group.is_none(), "undecryptable group messages are not simulated");
        match &self.simulator {
            None => {
                let body = json!({ "from": from.phone, "push_name": from.push_name, "kind": "undecryptable" });
                self.sim_incoming(body).await
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(from.phone);
                contact.set_push_name(from.push_name);
                let id = contact
                    .send_undecryptable(&user, "you will not read this")
                    .await
                    .unwrap_or_else(|e| panic!("{} sends an undecryptable message: {e}", from.phone));
                contact
                    .wait_receipt(WAIT, |r| r.kind == "retry" && r.ids.contains(&id))
                    .await
                    .expect("the client asks for the message again");
                id
            }
        }
    }

    /// `from` sends `kind` wrapped and annotated as `wrapping` says; its id.
    pub async fn message_from(&self, from: Sender<'_>, kind: Kind<'_>, wrapping: Wrapping<'_>) -> String {
        match &self.simulator {
            None => self.sim_incoming(sim_body(from, kind, wrapping)).await,
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(from.phone);
                contact.set_push_name(from.push_name);
                // The chat as the sender sees it: the group, or the instance.
                let chat = from
                    .group
                    .map_or_else(|| format!("{user}@s.whatsapp.net"), str::to_owned);
                let message = phone_message(&chat, kind, wrapping);
                let sent = match from.group {
                    Some(group) => contact.send_group_message(group, &message).await,
                    None => contact.send_message(&user, &message).await,
                };
                sent.unwrap_or_else(|e| panic!("{} sends {kind:?}: {e}", from.phone))
            }
        }
    }

    /// The instance's own phone deletes message `target_id` of its chat with
    /// `chat_with` for this account only (`target_from_me`: the message was
    /// the instance's). Returns the deleted message's id, which the event
    /// carries.
    pub async fn delete_for_me(&self, chat_with: &str, target_id: &str, target_from_me: bool) -> String {
        match &self.simulator {
            None => {
                let body = json!({ "from": chat_with, "kind": "delete_for_me", "target_id": target_id,
                                   "from_me": target_from_me });
                self.sim_incoming(body).await
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                // The phone names a chat as WhatsApp names the contact.
                let contact = simulator.contact(chat_with);
                let chat = match contact.is_addressed_by_lid() {
                    true => contact.lid_jid(),
                    false => contact.jid(),
                };
                simulator
                    .phone(&user)
                    .delete_for_me(&chat, target_id, target_from_me, None, WAIT)
                    .await
                    .expect("the phone deletes the message for itself");
                target_id.to_owned()
            }
        }
    }

    /// Contact `from` sends a receipt of `kind` (`delivered`, `read` or
    /// `played`) for the instance's messages `ids`.
    pub async fn receipt_from(&self, from: &str, ids: &[&str], kind: &str) {
        match &self.simulator {
            None => {
                let body = json!({ "from": from, "ids": ids, "type": kind });
                let (status, answer) = self.api.post(&self.route("receipt"), body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let kind = match kind {
                    "delivered" => ReceiptKind::Delivery,
                    "read" => ReceiptKind::Read,
                    "played" => ReceiptKind::Played,
                    other => panic!("no receipt type {other:?}"),
                };
                let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
                simulator
                    .contact(from)
                    .send_receipt(&user, &ids, kind)
                    .expect("the contact sends the receipt");
            }
        }
    }

    /// Group `group` (`…@g.us`) exists, named `subject`, created by `creator`,
    /// with `members` and the instance's account in it. On the sim engine,
    /// whose inbound messages name any group they like, the group is what
    /// the instance's group queries answer (`/sim/groups`).
    pub async fn group(&self, group: &str, subject: &str, creator: &str, members: &[&str]) {
        if self.simulator.is_none() {
            let (user, _) = self.linked_device().await;
            let mut everyone: Vec<&str> = members.to_vec();
            everyone.push(&user);
            let body = json!({ "jid": group, "subject": subject, "members": everyone, "admins": [creator] });
            let (status, answer) = self.api.post("/sim/groups", body.clone()).await;
            assert_eq!(status, 200, "{body} → {answer}");
        }
        if let Some(simulator) = &self.simulator {
            let (user, _) = self.linked_device().await;
            let mut everyone: Vec<&str> = members.to_vec();
            everyone.push(&user);
            simulator
                .create_group(group, subject, creator, &everyone)
                .expect("the group is created");
        }
    }

    /// WhatsApp names contact `phone` by its LID from now on, as it does most
    /// accounts today (the sim engine has no LIDs: nothing to do there).
    pub fn address_by_lid(&self, phone: &str) {
        if let Some(simulator) = &self.simulator {
            simulator.contact(phone).address_by_lid();
        }
    }

    /// Group `group` names its participants by LID from now on, as most
    /// groups do today (nothing to do on the sim engine).
    pub fn address_group_by_lid(&self, group: &str) {
        if let Some(simulator) = &self.simulator {
            simulator.address_group_by_lid(group).expect("the group exists");
        }
    }

    /// `jids` (phone numbers) `join`, `leave`, are promoted (`promote`) or
    /// demoted (`demote`) in `group`; `author` is who did it (an admin, or
    /// the participant itself for a join or a leave).
    pub async fn group_participants(&self, group: &str, author: &str, action: &str, jids: &[&str]) {
        match &self.simulator {
            None => {
                let body = json!({ "group": group, "type": action, "jids": jids });
                let (status, answer) = self.api.post(&self.route("group-participants"), body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
            }
            Some(simulator) => {
                let change = match action {
                    "join" => GroupChange::Add,
                    "leave" => GroupChange::Remove,
                    "promote" => GroupChange::Promote,
                    "demote" => GroupChange::Demote,
                    other => panic!("no group action {other:?}"),
                };
                simulator
                    .change_group_participants(group, author, change, jids)
                    .expect("the group changes");
            }
        }
    }

    async fn sim_incoming(&self, body: Value) -> String {
        let (status, answer) = self.api.post(&self.route("incoming"), body.clone()).await;
        assert_eq!(status, 200, "{body} → {answer}");
        answer["message_id"].as_str().expect("the message id").to_owned()
    }
}

/// The sim engine's `/sim/.../incoming` body for a message (docs/API.md).
fn sim_body(from: Sender<'_>, kind: Kind<'_>, wrapping: Wrapping<'_>) -> Value {
    let mut body = json!({ "from": from.phone, "push_name": from.push_name });
    let fields = match kind {
        Kind::Text(text) => json!({ "text": text }),
        Kind::Contact { display_name, vcard } => {
            json!({ "kind": "contact", "contact": { "display_name": display_name, "vcard": vcard } })
        }
        Kind::Location {
            latitude,
            longitude,
            name,
            address,
        } => json!({ "kind": "location", "location": {
            "latitude": latitude, "longitude": longitude, "name": name, "address": address } }),
        Kind::Reaction { emoji, target_id } => {
            json!({ "kind": "reaction", "reaction": { "emoji": emoji, "target_id": target_id } })
        }
        Kind::Edit { target_id, text } => json!({ "kind": "edit", "target_id": target_id, "text": text }),
        Kind::Revoke { target_id } => json!({ "kind": "revoke", "target_id": target_id }),
    };
    let map = body.as_object_mut().expect("an object");
    map.extend(fields.as_object().expect("an object").clone());
    if let Some(group) = from.group {
        map.insert("group".into(), json!(group));
    }
    if let Some((id, text)) = wrapping.reply_to {
        map.insert("reply_to".into(), json!({ "id": id, "text": text }));
    }
    if wrapping.forwarded {
        map.insert("forwarded".into(), json!(true));
    }
    if wrapping.view_once {
        map.insert("view_once".into(), json!(true));
    }
    if let Some((expiration, set_at)) = wrapping.ephemeral {
        map.insert(
            "ephemeral".into(),
            json!({ "expiration": expiration, "setting_timestamp": set_at }),
        );
    }
    // The location's absent name or address is absent, not null.
    if let Some(location) = map.get_mut("location").and_then(Value::as_object_mut) {
        location.retain(|_, v| !v.is_null());
    }
    body
}

/// The message a phone sends for `kind` in `chat` (the chat as the sender
/// names it: the recipient's JID, or the group's).
fn phone_message(chat: &str, kind: Kind<'_>, wrapping: Wrapping<'_>) -> wa::Message {
    let context = context_info(wrapping);
    let mut message = match kind {
        Kind::Text(text) => match context {
            // A bare text is a `conversation`; one with context is extended.
            None => wa::Message {
                conversation: Some(text.to_owned()),
                ..Default::default()
            },
            Some(context) => wa::Message {
                extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                    text: Some(text.to_owned()),
                    context_info: MessageField::some(context),
                    ..Default::default()
                }),
                ..Default::default()
            },
        },
        Kind::Contact { display_name, vcard } => wa::Message {
            contact_message: MessageField::some(wa::message::ContactMessage {
                display_name: Some(display_name.to_owned()),
                vcard: Some(vcard.to_owned()),
                context_info: field(context),
                ..Default::default()
            }),
            ..Default::default()
        },
        Kind::Location {
            latitude,
            longitude,
            name,
            address,
        } => wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(latitude),
                degrees_longitude: Some(longitude),
                name: name.map(str::to_owned),
                address: address.map(str::to_owned),
                context_info: field(context),
                ..Default::default()
            }),
            ..Default::default()
        },
        // The reacted-to message is the instance's: not the reactor's own.
        Kind::Reaction { emoji, target_id } => wa::Message {
            reaction_message: MessageField::some(wa::message::ReactionMessage {
                key: MessageField::some(key(chat, false, target_id)),
                text: Some(emoji.to_owned()),
                sender_timestamp_ms: Some(now_ms()),
                ..Default::default()
            }),
            ..Default::default()
        },
        // whatsapp-rust's `build_edit_message`: a top-level protocolMessage.
        Kind::Edit { target_id, text } => wa::Message {
            protocol_message: MessageField::some(wa::message::ProtocolMessage {
                key: MessageField::some(key(chat, true, target_id)),
                r#type: Some(ProtocolType::MESSAGE_EDIT),
                edited_message: MessageField::some(wa::Message {
                    conversation: Some(text.to_owned()),
                    ..Default::default()
                }),
                timestamp_ms: Some(now_ms()),
                ..Default::default()
            }),
            ..Default::default()
        },
        // ... and its `build_revoke_message` for a sender's own message.
        Kind::Revoke { target_id } => wa::Message {
            protocol_message: MessageField::some(wa::message::ProtocolMessage {
                key: MessageField::some(key(chat, true, target_id)),
                r#type: Some(ProtocolType::REVOKE),
                ..Default::default()
            }),
            ..Default::default()
        },
    };
    if wrapping.view_once {
        message = wa::Message {
            view_once_message_v2: MessageField::some(future_proof(message)),
            ..Default::default()
        };
    }
    if wrapping.ephemeral.is_some() {
        message = wa::Message {
            ephemeral_message: MessageField::some(future_proof(message)),
            ..Default::default()
        };
    }
    message
}

/// The `contextInfo` `wrapping` calls for, if any.
fn context_info(wrapping: Wrapping<'_>) -> Option<wa::ContextInfo> {
    let mut context = wa::ContextInfo::default();
    let mut any = false;
    if let Some((id, text)) = wrapping.reply_to {
        // How a phone quotes: the quoted message's id and content.
        context.stanza_id = Some(id.to_owned());
        context.quoted_message = MessageField::some(wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        });
        any = true;
    }
    if wrapping.forwarded {
        context.is_forwarded = Some(true);
        context.forwarding_score = Some(1);
        any = true;
    }
    if let Some((expiration, set_at)) = wrapping.ephemeral {
        context.expiration = Some(expiration);
        context.ephemeral_setting_timestamp = Some(set_at);
        any = true;
    }
    any.then_some(context)
}

fn field<T: Default>(value: Option<T>) -> MessageField<T> {
    value.map_or_else(MessageField::default, MessageField::some)
}

fn key(chat: &str, from_me: bool, id: &str) -> wa::MessageKey {
    wa::MessageKey {
        remote_jid: Some(chat.to_owned()),
        from_me: Some(from_me),
        id: Some(id.to_owned()),
        participant: None,
    }
}

fn future_proof(message: wa::Message) -> wa::message::FutureProofMessage {
    wa::message::FutureProofMessage {
        message: MessageField::some(message),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
