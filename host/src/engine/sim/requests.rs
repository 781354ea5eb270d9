//! What wasap asks of a simulated session (the engine's `Session` trait):
//! sends and acts on messages, which the network takes (`outbox.rs`), and
//! the account's profile, checks, calls, liveness and logout.

use std::sync::atomic::Ordering;

use async_trait::async_trait;

use super::session::SimSession;
use super::{actions, sends};
use crate::engine::{BlockedContact, ContactProfile, OwnProfile, PrivacyCategory, PrivacySetting};
use crate::engine::{
    ChatState, ContactCard, EngineError, EngineEvent, GroupInfo, MessageRef, NumberCheck, OutgoingForward,
    OutgoingLocation, OutgoingMedia, OutgoingText, SentMessage, Session,
};

#[async_trait]
impl Session for SimSession {
    async fn pair_code(&self, phone: &str) -> Result<String, EngineError> {
        self.new_pair_code(phone)
    }

    async fn send_text(&self, to: &str, text: OutgoingText) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::text(to, text)).await
    }

    async fn send_media(&self, to: &str, media: OutgoingMedia) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::media(to, media)).await
    }

    async fn send_location(&self, to: &str, location: OutgoingLocation) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::location(to, location)).await
    }

    async fn send_contacts(&self, to: &str, cards: Vec<ContactCard>) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::contacts(to, cards)).await
    }

    async fn send_poll(&self, to: &str, poll: crate::engine::OutgoingPoll) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        let record = super::polls::record(to, &poll);
        // Kept before the send is told: a vote may follow at once.
        self.polls
            .sent(super::polls::stored(&record.message_id, to, poll))
            .await;
        self.accept(to, record).await
    }

    async fn forward(&self, to: &str, forward: OutgoingForward) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(to, sends::forward(to, forward)).await
    }

    async fn group_info(&self, group: &str) -> Result<Option<GroupInfo>, EngineError> {
        self.require_connected()?;
        let me = self.own_phone().await?;
        Ok(self.network.group_info(group, &me))
    }

    async fn contact_profile(&self, jid: &str) -> Result<Option<ContactProfile>, EngineError> {
        Ok(self.link()?.contact_profile(jid))
    }

    async fn set_blocked(&self, jid: &str, blocked: bool) -> Result<(), EngineError> {
        self.link()?.set_blocked(jid, blocked).await
    }

    async fn blocklist(&self) -> Result<Vec<BlockedContact>, EngineError> {
        self.link()?.blocklist().await
    }

    async fn own_profile(&self) -> Result<OwnProfile, EngineError> {
        self.link()?.own_profile().await
    }

    async fn set_push_name(&self, name: &str) -> Result<(), EngineError> {
        self.link()?.set_push_name(name).await
    }

    async fn set_about(&self, about: &str) -> Result<(), EngineError> {
        self.link()?.set_about(about).await
    }

    async fn set_profile_photo(&self, jpeg: Option<bytes::Bytes>) -> Result<Option<String>, EngineError> {
        self.link()?.set_profile_photo(jpeg).await
    }

    async fn privacy(&self) -> Result<Vec<PrivacySetting>, EngineError> {
        self.link()?.privacy().await
    }

    async fn set_privacy(&self, category: PrivacyCategory, value: &str) -> Result<(), EngineError> {
        self.link()?.set_privacy(category, value).await
    }

    async fn react(&self, target: &MessageRef, emoji: &str) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        self.accept(&target.chat, actions::reaction(target, emoji)).await
    }

    async fn edit_text(&self, target: &MessageRef, text: &str) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        let sent = self.accept(&target.chat, actions::edit(target, text)).await?;
        // An edit or a revocation keeps its message's id, as on WhatsApp;
        // the record has the id of the protocol message that carried it.
        Ok(SentMessage {
            message_id: target.id.clone(),
            ..sent
        })
    }

    async fn revoke(&self, target: &MessageRef) -> Result<SentMessage, EngineError> {
        self.require_connected()?;
        let sent = self.accept(&target.chat, actions::revoke(target)).await?;
        // As for an edit: the revoked message's id.
        Ok(SentMessage {
            message_id: target.id.clone(),
            ..sent
        })
    }

    async fn delete_for_me(&self, target: &MessageRef, _sent_at: i64) -> Result<(), EngineError> {
        self.require_connected()?;
        self.accept(&target.chat, actions::delete_for_me(target)).await?;
        Ok(())
    }

    async fn mark_read(&self, messages: &[MessageRef]) -> Result<(), EngineError> {
        self.require_connected()?;
        let Some(first) = messages.first() else { return Ok(()) };
        self.accept(&first.chat, actions::read(&first.chat, messages)).await?;
        Ok(())
    }

    async fn chat_state(&self, to: &str, state: ChatState) -> Result<(), EngineError> {
        self.require_connected()?;
        self.accept(to, actions::chat_state(to, state)).await?;
        Ok(())
    }

    async fn check_numbers(&self, phones: &[String]) -> Result<Vec<NumberCheck>, EngineError> {
        self.require_connected()?;
        Ok(self.network.check(phones))
    }

    async fn lid_pairs(
        &self,
        names: &[crate::engine::lids::AccountName],
    ) -> Result<Vec<Option<crate::engine::lids::LidPair>>, EngineError> {
        use crate::engine::lids::LidBook;
        self.require_connected()?;
        let mut pairs = Vec::with_capacity(names.len());
        for name in names {
            pairs.push(self.network.pair(name).await);
        }
        Ok(pairs)
    }

    async fn reject_call(&self, call_id: &str, from: &str) -> Result<(), EngineError> {
        self.require_connected()?;
        self.network.reject_call(&self.instance_id, call_id, from)
    }

    /// The simulated server answers every keepalive at once: the connection
    /// hears from it now, unless it went silent.
    fn last_heard_ms(&self) -> Option<i64> {
        match self.silent_since_ms.load(Ordering::Acquire) {
            0 => Some(crate::clock::now_ms()),
            since => Some(since),
        }
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.require_connected()?;
        match self.silent_since_ms.load(Ordering::Acquire) {
            0 => Ok(()),
            // A silent server never answers: the ping times out.
            _ => Err(EngineError::Timeout),
        }
    }

    async fn announce_available(&self) -> Result<(), EngineError> {
        self.require_connected()?;
        if self.panic_on_presence.swap(false, Ordering::AcqRel) {
            panic!("simulated fault in instance {}", self.instance_id);
        }
        self.presence.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn logout(&self) -> Result<(), EngineError> {
        if self.is_closed() {
            return Err(EngineError::NotConnected);
        }
        self.network.unregister(&self.instance_id, self);
        self.drop_connection(EngineEvent::LoggedOut {
            reason: "logged out".to_owned(),
        })
        .await;
        Ok(())
    }

    async fn close(&self) {
        self.network.unregister(&self.instance_id, self);
        self.mark_closed();
    }
}
