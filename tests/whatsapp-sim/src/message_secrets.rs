//! Message secrets and the edits they key. A phone attaches a random
//! `messageContextInfo.messageSecret` to what it sends; a later edit
//! of that message travels encrypted under it (`secretEncryptedMessage` of
//! type `MESSAGE_EDIT`, wacore's `encrypt_message_edit`), which is how
//! WhatsApp sends edits since 2026. The simulator gives each text a contact
//! sends a secret and remembers it, so [`Contact::edit_message`] can do that.

use std::borrow::Cow;

use wacore::message_edit::{MessageEditContext, encrypt_message_edit};
use wacore_binary::Jid;
use waproto::whatsapp as wa;
use waproto::whatsapp::message::protocol_message::Type as ProtocolType;
use waproto::whatsapp::message::secret_encrypted_message::SecretEncType;

use crate::Contact;
use crate::error::{Result, SimError};

/// `message` as a phone sends it: a text gets a fresh message secret (what
/// an edit of it is encrypted under); returns that secret. Phones put one on
/// other content too; the simulator keeps to what it can edit.
pub fn with_secret(message: &wa::Message) -> (Cow<'_, wa::Message>, Option<Vec<u8>>) {
    let text = message.conversation.is_some() || message.extended_text_message.is_set();
    let has_secret = message
        .message_context_info
        .as_option()
        .is_some_and(|c| c.message_secret.is_some());
    if !text || has_secret {
        return (Cow::Borrowed(message), None);
    }
    let secret: [u8; 32] = rand::random();
    let mut with = message.clone();
    let mut context = with.message_context_info.as_option().cloned().unwrap_or_default();
    context.message_secret = Some(secret.to_vec());
    with.message_context_info = buffa::MessageField::some(context);
    (Cow::Owned(with), Some(secret.to_vec()))
}

impl Contact {
    /// Edits this contact's message `target_id` (sent to `to`: a phone number,
    /// or a group's `…@g.us`) to `text`, as WhatsApp sends an edit: encrypted
    /// under the message's secret. Returns the edit's id.
    pub async fn edit_message(&self, to: &str, target_id: &str, text: &str) -> Result<String> {
        let secret = self
            .inner
            .world()
            .message_secrets
            .get(&(self.pn.clone(), target_id.to_owned()))
            .cloned()
            .ok_or_else(|| SimError::Protocol(format!("{} sent no message {target_id}", self.pn)))?;
        let group = to.ends_with("@g.us");
        // The chat as the editor names it: the group, or the recipient.
        let chat = if group {
            to.to_owned()
        } else {
            Jid::pn(self.account_of(to)).to_string()
        };
        let key = wa::MessageKey {
            remote_jid: Some(chat),
            from_me: Some(true),
            id: Some(target_id.to_owned()),
            participant: None,
        };
        let edit = wa::Message {
            protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
                key: buffa::MessageField::some(key.clone()),
                r#type: Some(ProtocolType::MESSAGE_EDIT),
                edited_message: buffa::MessageField::some(wa::Message {
                    conversation: Some(text.to_owned()),
                    ..Default::default()
                }),
                timestamp_ms: Some(wacore::time::now_millis()),
                ..Default::default()
            }),
            ..Default::default()
        };
        // The message's author is its editor: only an author edits.
        let me = Jid::pn(self.pn.as_str()).to_string();
        let context = MessageEditContext {
            original_msg_id: target_id,
            original_sender_jid: &me,
            editor_jid: &me,
        };
        let (payload, iv) = encrypt_message_edit(&edit, &secret, &context)
            .map_err(|e| SimError::Protocol(format!("encrypting an edit: {e}")))?;
        let envelope = wa::Message {
            secret_encrypted_message: buffa::MessageField::some(wa::message::SecretEncryptedMessage {
                target_message_key: buffa::MessageField::some(key),
                enc_payload: Some(payload),
                enc_iv: Some(iv.to_vec()),
                secret_enc_type: Some(SecretEncType::MESSAGE_EDIT),
                ..Default::default()
            }),
            ..Default::default()
        };
        if group {
            self.send_group_message(to, &envelope).await
        } else {
            self.send_message(to, &envelope).await
        }
    }
}
