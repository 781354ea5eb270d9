//! One live whatsapp-rust client behind the [`Session`] trait: requests in,
//! whatsapp-rust calls out, its errors as [`EngineError`]s.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use whatsapp_rust::features::{ChatStateType, message_key};
use whatsapp_rust::pair_code::{PairCodeError, PairCodeOptions, PairError};
use whatsapp_rust::wacore::proto_helpers::MessageBuilderExt;
use whatsapp_rust::wacore_binary::JidExt;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, ClientError, Jid, SendError, SendResult};

use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::bridge::{Queue, Shared};
use super::deletions;
use super::outgoing::{contacts_message, location_message, text_message};
use super::recipient_lid::with_lid;
use crate::engine::{BlockedContact, ContactProfile, OwnProfile, PrivacyCategory, PrivacySetting};
use crate::engine::{
    ChatState, ContactCard, EngineError, GroupInfo, MessageRef, NumberCheck, OutgoingForward, OutgoingLocation,
    OutgoingMedia, OutgoingText, SentMessage, Session,
};
use crate::store::DeviceBackend;

/// How long a send, a number check, a presence or a pair-code request may take.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an upload plus send of media may take.
pub(super) const MEDIA_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `pair_code` waits for a session that is still connecting.
const SOCKET_WAIT: Duration = Duration::from_secs(20);
/// How long `close` lets a logged-in client's run loop wind down after the
/// flush before stopping it outright.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A session of the real engine: one whatsapp-rust client.
pub(super) struct WhatsappSession {
    pub(super) shared: Arc<Shared>,
    pub(super) client: Arc<Client>,
    /// The task that runs the client; awaited by `close`.
    pub(super) driver: Mutex<Option<JoinHandle<()>>>,
    /// The bridge's queue, ended by `close` so the forwarder lets go of the
    /// supervisor's channel.
    pub(super) queue: Queue,
    /// The client's device store, for the last save of `close`.
    pub(super) device: DeviceBackend,
    /// The instance's polls: those this session sends, with their secrets.
    pub(super) polls: crate::polls::PollBook,
}

impl WhatsappSession {
    fn take_driver(&self) -> Option<JoinHandle<()>> {
        self.driver.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Waits for the client's run loop to end after a disconnect (which has
    /// flushed its state), stopping it outright if it does not. `was_connected`
    /// is whether the socket was up before the disconnect.
    async fn stop_driver(&self, was_connected: bool) {
        let Some(mut driver) = self.take_driver() else { return };
        // A connect still in its handshake does not watch the shutdown signal
        // and would wait out its own timeout: stop it at once. Dropping it
        // drops the transport, which closes the socket.
        let wait = if was_connected { CLOSE_WAIT } else { Duration::ZERO };
        if tokio::time::timeout(wait, &mut driver).await.is_err() {
            if !wait.is_zero() {
                warn!(instance = %self.shared.instance_id, "client did not stop in time; stopping it");
            }
            driver.abort();
            let _ = driver.await;
        }
    }

    /// Writes the device as the stopped client holds it, after every save
    /// still under way.
    ///
    /// The client saves its device snapshot from a background saver and from
    /// `disconnect()`'s flush, which do not wait for each other: the flush
    /// skips its save when the saver has just taken the dirty flag, and two
    /// saves in flight can commit in either order (SQLite lets whichever gets
    /// the write lock first go first). Found on the real engine against the
    /// simulator: a restart right after pairing lost the push name, and the
    /// next login waited 10 s for an app-state sync. So once the client has
    /// stopped, its latest state is written last, on purpose.
    async fn save_last_snapshot(&self) {
        self.device.settle().await;
        let device = self
            .client
            .persistence_manager()
            .get_device_snapshot()
            .to_serializable();
        if let Err(e) = self.device.save(&device).await {
            warn!(instance = %self.shared.instance_id, error = %e, "cannot save the device state");
        }
    }

    /// Requests need a logged-in connection.
    pub(super) fn require_logged_in(&self) -> Result<(), EngineError> {
        if self.shared.is_closed() || self.shared.has_ended() || !self.client.is_logged_in() {
            return Err(EngineError::NotConnected);
        }
        Ok(())
    }

    pub(super) async fn send(
        &self,
        to: Jid,
        message: wa::Message,
        limit: Duration,
    ) -> Result<SentMessage, EngineError> {
        // An id the send queue chose goes as the stanza id, so a resend
        // after a crash is the same message to WhatsApp; such a message is
        // sent once WhatsApp acknowledged it (`server_ack.rs`).
        let deadline = tokio::time::Instant::now() + limit;
        let chosen = crate::engine::chosen_id::chosen();
        let acked = chosen.as_deref().map(|id| super::server_ack::expect(&self.client, id));
        let options = match chosen {
            Some(id) => whatsapp_rust::SendOptions::default().with_message_id(id),
            None => whatsapp_rust::SendOptions::default(),
        };
        let sent = sent_within(limit, self.client.send_message_with_options(to, message, options)).await?;
        if let Some(acked) = acked {
            super::server_ack::by(deadline, acked).await?;
        }
        Ok(with_lid(&self.client, sent).await)
    }
}

impl Drop for WhatsappSession {
    fn drop(&mut self) {
        // Dropped without `close()`: stop the client rather than leave it
        // running unowned. Flag-only (no flush): Drop cannot await.
        if self.shared.mark_closed() {
            debug!(instance = %self.shared.instance_id, "session dropped without close");
            self.client.signal_shutdown_sync();
            // A connect in progress does not watch the shutdown signal.
            if !self.client.is_connected()
                && let Some(driver) = self.take_driver()
            {
                driver.abort();
            }
            self.queue.end();
        }
    }
}

#[async_trait]
impl Session for WhatsappSession {
    async fn pair_code(&self, phone: &str) -> Result<String, EngineError> {
        let phone = valid_phone(phone)?;
        if self.shared.is_closed() || self.shared.has_ended() {
            return Err(EngineError::NotConnected);
        }
        if self.client.pn().is_some() {
            return Err(EngineError::Protocol("the device is already paired".to_owned()));
        }
        // A session opened a moment ago may still be opening its socket.
        self.client
            .wait_for_socket(SOCKET_WAIT)
            .await
            .map_err(|_| EngineError::NotConnected)?;
        let options = PairCodeOptions {
            phone_number: phone.to_owned(),
            ..Default::default()
        };
        let code = tokio::time::timeout(REQUEST_TIMEOUT, self.client.pair_with_code(options))
            .await
            .map_err(|_| EngineError::Timeout)?
            .map_err(|e| pair_error(phone, e))?;
        Ok(dashed_code(&code))
    }

    async fn send_text(&self, to: &str, text: OutgoingText) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let jid = recipient(to)?;
        self.send(jid, text_message(text), REQUEST_TIMEOUT).await
    }

    async fn send_media(&self, to: &str, media: OutgoingMedia) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let jid = recipient(to)?;
        let (message, left) = self.uploaded(media).await?;
        self.send(jid, message, left).await
    }

    async fn send_location(&self, to: &str, location: OutgoingLocation) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let jid = recipient(to)?;
        self.send(jid, location_message(location), REQUEST_TIMEOUT).await
    }

    async fn send_contacts(&self, to: &str, cards: Vec<ContactCard>) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let jid = recipient(to)?;
        self.send(jid, contacts_message(cards), REQUEST_TIMEOUT).await
    }

    async fn send_poll(&self, to: &str, poll: crate::engine::OutgoingPoll) -> Result<SentMessage, EngineError> {
        self.create_poll(to, poll).await
    }

    async fn forward(&self, to: &str, forward: OutgoingForward) -> Result<SentMessage, EngineError> {
        self.send_forward(to, forward).await
    }

    async fn group_info(&self, group: &str) -> Result<Option<GroupInfo>, EngineError> {
        self.query_group(group).await
    }

    async fn contact_profile(&self, jid: &str) -> Result<Option<ContactProfile>, EngineError> {
        self.query_contact_profile(jid).await
    }

    async fn set_blocked(&self, jid: &str, blocked: bool) -> Result<(), EngineError> {
        self.change_block(jid, blocked).await
    }

    async fn blocklist(&self) -> Result<Vec<BlockedContact>, EngineError> {
        self.query_blocklist().await
    }

    async fn own_profile(&self) -> Result<OwnProfile, EngineError> {
        self.query_own_profile().await
    }

    async fn set_push_name(&self, name: &str) -> Result<(), EngineError> {
        self.change_push_name(name).await
    }

    async fn set_about(&self, about: &str) -> Result<(), EngineError> {
        self.change_about(about).await
    }

    async fn set_profile_photo(&self, jpeg: Option<bytes::Bytes>) -> Result<Option<String>, EngineError> {
        self.change_photo(jpeg).await
    }

    async fn privacy(&self) -> Result<Vec<PrivacySetting>, EngineError> {
        self.query_privacy().await
    }

    async fn set_privacy(&self, category: PrivacyCategory, value: &str) -> Result<(), EngineError> {
        self.change_privacy(category, value).await
    }

    async fn react(&self, target: &MessageRef, emoji: &str) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let chat = recipient(&target.chat)?;
        let key = target_key(target, &chat)?;
        let sent = sent_within(REQUEST_TIMEOUT, self.client.send_reaction(chat, key, emoji)).await?;
        Ok(with_lid(&self.client, sent).await)
    }

    async fn edit_text(&self, target: &MessageRef, text: &str) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let chat = recipient(&target.chat)?;
        let to = chat.to_string();
        // The edit keeps its message's id: whatsapp-rust answers with it.
        let message_id = tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.client
                .edit_message(chat, target.id.clone(), wa::Message::text(text)),
        )
        .await
        .map_err(|_| EngineError::Timeout)?
        .map_err(send_error)?;
        Ok(with_lid(&self.client, SentMessage::now(message_id, to)).await)
    }

    async fn revoke(&self, target: &MessageRef) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let sent = deletions::revoke(&self.client, target).await?;
        Ok(with_lid(&self.client, sent).await)
    }

    async fn delete_for_me(&self, target: &MessageRef, sent_at: i64) -> Result<(), EngineError> {
        self.require_logged_in()?;
        deletions::delete_for_me(&self.client, target, sent_at).await
    }

    async fn mark_read(&self, messages: &[MessageRef]) -> Result<(), EngineError> {
        self.require_logged_in()?;
        // One receipt per chat and, in a group, per author: WhatsApp routes
        // a group's read receipt to the participant who wrote the messages.
        let mut receipts: Vec<(Jid, Option<Jid>, Vec<&str>)> = Vec::new();
        for message in messages {
            let chat = recipient(&message.chat)?;
            let sender = match (&message.sender, chat.is_group()) {
                (Some(sender), true) => Some(recipient(sender)?),
                _ => None,
            };
            match receipts.iter_mut().find(|(c, s, _)| *c == chat && *s == sender) {
                Some((_, _, ids)) => ids.push(&message.id),
                None => receipts.push((chat, sender, vec![&message.id])),
            }
        }
        for (chat, sender, ids) in receipts {
            tokio::time::timeout(REQUEST_TIMEOUT, self.client.mark_as_read(&chat, sender.as_ref(), &ids))
                .await
                .map_err(|_| EngineError::Timeout)?
                .map_err(|e| EngineError::Protocol(format!("read receipt failed: {e:#}")))?;
        }
        Ok(())
    }

    async fn chat_state(&self, to: &str, state: ChatState) -> Result<(), EngineError> {
        self.require_logged_in()?;
        let jid = recipient(to)?;
        let state = match state {
            ChatState::Typing => ChatStateType::Composing,
            ChatState::Recording => ChatStateType::Recording,
            ChatState::Paused => ChatStateType::Paused,
        };
        tokio::time::timeout(REQUEST_TIMEOUT, self.client.chatstate().send(&jid, state))
            .await
            .map_err(|_| EngineError::Timeout)?
            .map_err(|e| EngineError::Protocol(format!("chat state failed: {e}")))
    }

    async fn lid_pairs(
        &self,
        names: &[crate::engine::lids::AccountName],
    ) -> Result<Vec<Option<crate::engine::lids::LidPair>>, EngineError> {
        self.require_logged_in()?;
        Ok(super::lid_book::pairs(&self.client, names).await)
    }

    async fn check_numbers(&self, phones: &[String]) -> Result<Vec<NumberCheck>, EngineError> {
        self.require_logged_in()?;
        let jids = phones
            .iter()
            .map(|phone| valid_phone(phone).map(Jid::pn))
            .collect::<Result<Vec<_>, _>>()?;
        let results = tokio::time::timeout(REQUEST_TIMEOUT, self.client.contacts().is_on_whatsapp(&jids))
            .await
            .map_err(|_| EngineError::Timeout)?
            .map_err(|e| EngineError::Protocol(format!("number check failed: {e}")))?;
        Ok(phones
            .iter()
            .map(|phone| {
                // The answer names the number as a phone JID, or as a LID with
                // the phone JID beside it.
                let found = results.iter().find(|r| {
                    let pn = r.pn_jid.as_ref().unwrap_or(&r.jid);
                    pn.is_pn() && pn.user == phone.as_str()
                });
                match found {
                    Some(r) if r.is_registered => NumberCheck {
                        phone: phone.clone(),
                        on_whatsapp: true,
                        jid: Some(Jid::pn(phone.as_str()).to_string()),
                    },
                    _ => NumberCheck {
                        phone: phone.clone(),
                        on_whatsapp: false,
                        jid: None,
                    },
                }
            })
            .collect())
    }

    async fn reject_call(&self, call_id: &str, from: &str) -> Result<(), EngineError> {
        super::calls::reject(self, call_id, from).await
    }

    /// whatsapp-rust stamps every frame that arrives (its keepalive pings
    /// draw an answer every 15 to 30 s on an idle connection).
    fn last_heard_ms(&self) -> Option<i64> {
        Some(self.client.stats().last_data_received_ms as i64).filter(|ms| *ms > 0)
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.require_logged_in()?;
        let ping = whatsapp_rust::wacore::iq::keepalive::KeepaliveSpec::with_timeout(REQUEST_TIMEOUT);
        tokio::time::timeout(REQUEST_TIMEOUT, self.client.execute(ping))
            .await
            .map_err(|_| EngineError::Timeout)?
            .map_err(|e| EngineError::Protocol(format!("ping failed: {e}")))
    }

    async fn announce_available(&self) -> Result<(), EngineError> {
        self.require_logged_in()?;
        tokio::time::timeout(REQUEST_TIMEOUT, self.client.presence().set_available())
            .await
            .map_err(|_| EngineError::Timeout)?
            .map_err(|e| EngineError::Protocol(format!("presence failed: {e}")))
    }

    async fn logout(&self) -> Result<(), EngineError> {
        // Unlinking is a request to WhatsApp; without a logged-in connection
        // there is nobody to ask, and the caller decides what to do locally.
        self.require_logged_in()?;
        info!(instance = %self.shared.instance_id, "logging out");
        // Sends the unlink request, reports `LoggedOut` through the event bus
        // (the bridge forwards it) and disconnects after flushing.
        self.client.logout().await;
        // Let the client finish with the device store before anyone wipes it.
        self.stop_driver(true).await;
        Ok(())
    }

    async fn close(&self) {
        self.shared.mark_closed();
        let was_connected = self.client.is_connected();
        // Flushes the device state, buffered receipts and message secrets,
        // closes the socket and stops the run loop.
        self.client.disconnect().await;
        self.stop_driver(was_connected).await;
        self.save_last_snapshot().await;
        self.queue.end();
    }
}

/// The message a send of whatsapp-rust's took, if it took it within `limit`.
async fn sent_within(
    limit: Duration,
    send: impl Future<Output = Result<SendResult, SendError>>,
) -> Result<SentMessage, EngineError> {
    let sent = tokio::time::timeout(limit, send)
        .await
        .map_err(|_| EngineError::Timeout)?
        .map_err(send_error)?;
    Ok(SentMessage::now(sent.message_id, sent.to.to_string()))
}

/// A recipient: a JID, or a bare phone number (digits) for a contact.
pub(super) fn recipient(to: &str) -> Result<Jid, EngineError> {
    let to = to.trim();
    if to.contains('@') {
        return to
            .parse::<Jid>()
            .map_err(|_| EngineError::InvalidRecipient(to.to_owned()));
    }
    valid_phone(to)
        .map(Jid::pn)
        .map_err(|_| EngineError::InvalidRecipient(to.to_owned()))
}

/// A phone number in international form: digits only, without `+` or a leading 0.
fn valid_phone(phone: &str) -> Result<&str, EngineError> {
    let ok = (7..=15).contains(&phone.len()) && phone.bytes().all(|b| b.is_ascii_digit()) && !phone.starts_with('0');
    if ok {
        Ok(phone)
    } else {
        Err(EngineError::InvalidPhone(phone.to_owned()))
    }
}

/// The key WhatsApp knows `target` by: its chat, its id, whether this
/// account sent it, and in a group its author.
fn target_key(target: &MessageRef, chat: &Jid) -> Result<wa::MessageKey, EngineError> {
    let participant = match (&target.sender, chat.is_group() && !target.from_me) {
        (Some(sender), true) => Some(recipient(sender)?),
        _ => None,
    };
    Ok(message_key(
        target.id.clone(),
        chat,
        target.from_me,
        participant.as_ref(),
    ))
}

/// `ABCD1234` as `ABCD-1234`, the way the phone shows it.
fn dashed_code(code: &str) -> String {
    if code.len() == 8 && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_owned()
    }
}

pub(super) fn send_error(error: SendError) -> EngineError {
    match error {
        SendError::NotLoggedIn | SendError::Client(ClientError::NotConnected | ClientError::NotLoggedIn) => {
            EngineError::NotConnected
        }
        SendError::InvalidRequest(why) => EngineError::InvalidRecipient(why),
        other => EngineError::Protocol(format!("send failed: {other}")),
    }
}

fn pair_error(phone: &str, error: PairError) -> EngineError {
    match error {
        PairError::PairCode(
            PairCodeError::PhoneNumberRequired
            | PairCodeError::PhoneNumberTooShort
            | PairCodeError::PhoneNumberNotInternational,
        ) => EngineError::InvalidPhone(phone.to_owned()),
        other => EngineError::Protocol(format!("pair code request failed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_jids_or_phone_numbers() {
        assert_eq!(
            recipient("6281234567890").unwrap().to_string(),
            "6281234567890@s.whatsapp.net"
        );
        assert_eq!(
            recipient("120363402106000000@g.us").unwrap().to_string(),
            "120363402106000000@g.us"
        );
        assert!(matches!(
            recipient("not a number"),
            Err(EngineError::InvalidRecipient(_))
        ));
        assert!(matches!(recipient("0812345678"), Err(EngineError::InvalidRecipient(_))));
    }

    #[test]
    fn phones_are_international_digits() {
        assert!(valid_phone("6281234567890").is_ok());
        for bad in ["", "123", "+6281234567", "0812345678", "62812abc", "1234567890123456"] {
            assert!(matches!(valid_phone(bad), Err(EngineError::InvalidPhone(_))), "{bad}");
        }
    }

    #[test]
    fn pair_codes_get_their_dash() {
        assert_eq!(dashed_code("ABCD1234"), "ABCD-1234");
        assert_eq!(dashed_code("ABCD-1234"), "ABCD-1234");
    }
}
