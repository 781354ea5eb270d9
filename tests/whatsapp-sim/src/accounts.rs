//! The handles a test holds on the simulated accounts: an account's phone
//! ([`Phone`]: links, unlinks, enters pair codes) and a contact ([`Contact`]:
//! an account that sends and receives end-to-end encrypted messages).

use std::sync::Arc;
use std::time::Duration;

use wacore_binary::Jid;
use waproto::whatsapp as wa;

use crate::server::Inner;
use crate::{
    LinkedDevice, ReceiptKind, ReceivedMessage, ReceivedReceipt, Result, SimError, linked, messaging, pair_code, phone,
};

/// An account's phone: links and unlinks the account's devices.
#[derive(Clone)]
pub struct Phone {
    pub(crate) inner: Arc<Inner>,
    pub(crate) pn: String,
}

impl Phone {
    pub fn number(&self) -> &str {
        &self.pn
    }

    /// Scans a client's QR code (the `PairingQrCode` payload) and links it.
    /// Returns once the client counter-signed its identity; the client then
    /// reconnects and logs in by itself.
    pub async fn scan(&self, qr: &str) -> Result<LinkedDevice> {
        phone::scan(&self.inner, &self.pn, qr).await
    }

    /// Types the pairing code a client shows into the phone and links that
    /// client (it asked for a code for this phone number).
    pub async fn pair_code(&self, code: &str) -> Result<LinkedDevice> {
        pair_code::enter_code(&self.inner, &self.pn, code).await
    }

    /// Waits until a client asked for a pairing code for this number.
    pub async fn wait_code_request(&self, timeout: Duration) -> Result<()> {
        let pn = self.pn.clone();
        self.inner
            .wait_for(timeout, &format!("a pairing code request for {pn}"), |w| {
                w.pair_codes.iter().any(|p| p.phone == pn).then_some(())
            })
            .await
    }

    /// The account's linked devices.
    pub fn devices(&self) -> Vec<LinkedDevice> {
        let world = self.inner.world();
        world
            .accounts
            .get(&self.pn)
            .map(|a| {
                a.live_companions()
                    .map(|c| linked(&world, &self.pn, c.device))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Unlinks one of the account's devices.
    pub fn unlink(&self, device: u16) -> Result<()> {
        phone::unlink(&self.inner, &self.pn, device)
    }

    /// The account seen as a contact (the phone's own messages and inbox).
    pub fn as_contact(&self) -> Contact {
        Contact {
            inner: self.inner.clone(),
            pn: self.pn.clone(),
        }
    }
}

/// A simulated account on its phone: sends and receives real messages.
#[derive(Clone)]
pub struct Contact {
    pub(crate) inner: Arc<Inner>,
    pub(crate) pn: String,
}

impl Contact {
    pub fn number(&self) -> &str {
        &self.pn
    }

    pub fn jid(&self) -> String {
        Jid::pn(self.pn.as_str()).to_string()
    }

    /// Sets the name the contact's messages carry (`notify`).
    pub fn set_push_name(&self, name: &str) {
        if let Some(a) = self.inner.world().accounts.get_mut(&self.pn) {
            a.push_name = name.to_owned();
        }
    }

    /// Sends a text to every linked device of the account `to` (a phone
    /// number or a JID); returns the message id.
    pub async fn send_text(&self, to: &str, text: &str) -> Result<String> {
        let message = wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        self.send_message(to, &message).await
    }

    /// Sends a text that `to`'s devices cannot decrypt (its MAC broken after
    /// encryption); they answer with a retry receipt, which is recorded in
    /// [`Contact::receipts`] as of type `retry`. The simulator does not send
    /// the message again (WhatsApp's sender would): it stays undecryptable.
    pub async fn send_undecryptable(&self, to: &str, text: &str) -> Result<String> {
        let to = self.account_of(to);
        let message = wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        messaging::send_undecryptable_from_primary(&self.inner, &self.pn, &to, &message).await
    }

    /// Sends any message.
    pub async fn send_message(&self, to: &str, message: &wa::Message) -> Result<String> {
        let to = self.account_of(to);
        messaging::send_from_primary(&self.inner, &self.pn, &to, message, None).await
    }

    /// Sends a receipt for messages `ids` to every linked device of `to`.
    pub fn send_receipt(&self, to: &str, ids: &[String], kind: ReceiptKind) -> Result<()> {
        let to = self.account_of(to);
        let devices: Vec<u16> = {
            let world = self.inner.world();
            let account = world
                .accounts
                .get(&to)
                .ok_or_else(|| SimError::UnknownAccount(to.clone()))?;
            account.live_companions().map(|c| c.device).collect()
        };
        let kind = match kind {
            ReceiptKind::Delivery => None,
            ReceiptKind::Read => Some("read"),
            ReceiptKind::Played => Some("played"),
        };
        for device in devices {
            messaging::send_receipt(&self.inner, &self.pn, &(to.clone(), device), ids, kind);
        }
        Ok(())
    }

    /// The phone number of the account `to` names (a number, a PN or LID JID).
    pub(crate) fn account_of(&self, to: &str) -> String {
        let to = to.trim_start_matches('+');
        match to.parse::<Jid>() {
            Ok(jid) if to.contains('@') => self.inner.world().pn_of(&jid).unwrap_or_else(|| jid.user.to_string()),
            _ => to.to_owned(),
        }
    }

    /// What this contact's phone decrypted, in order (protocol traffic
    /// between the account's own devices excluded).
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.inner
            .world()
            .accounts
            .get(&self.pn)
            .map(|a| a.inbox.iter().filter(|m| m.category.is_none()).cloned().collect())
            .unwrap_or_default()
    }

    /// Waits for a received message `matches` accepts.
    pub async fn wait_received(
        &self,
        timeout: Duration,
        mut matches: impl FnMut(&ReceivedMessage) -> bool,
    ) -> Result<ReceivedMessage> {
        let pn = self.pn.clone();
        self.inner
            .wait_for(timeout, &format!("a message to {pn}"), |w| {
                w.accounts
                    .get(&pn)?
                    .inbox
                    .iter()
                    .filter(|m| m.category.is_none())
                    .find(|m| matches(m))
                    .cloned()
            })
            .await
    }

    /// Waits until this contact received at least `min` messages (as
    /// [`Contact::received`] lists them); returns them all.
    pub async fn wait_received_count(&self, min: usize, timeout: Duration) -> Result<Vec<ReceivedMessage>> {
        let pn = self.pn.clone();
        self.inner
            .wait_for(timeout, &format!("{min} messages to {pn}"), |w| {
                let inbox: Vec<ReceivedMessage> = w
                    .accounts
                    .get(&pn)?
                    .inbox
                    .iter()
                    .filter(|m| m.category.is_none())
                    .cloned()
                    .collect();
                (inbox.len() >= min).then_some(inbox)
            })
            .await
    }

    /// Waits until this contact received at least `min` messages that
    /// `matches` accepts; returns those.
    pub async fn wait_received_matching(
        &self,
        min: usize,
        timeout: Duration,
        matches: impl Fn(&ReceivedMessage) -> bool,
    ) -> Result<Vec<ReceivedMessage>> {
        let pn = self.pn.clone();
        self.inner
            .wait_for(timeout, &format!("{min} such messages to {pn}"), |w| {
                let found: Vec<ReceivedMessage> = w
                    .accounts
                    .get(&pn)?
                    .inbox
                    .iter()
                    .filter(|m| m.category.is_none() && matches(m))
                    .cloned()
                    .collect();
                (found.len() >= min).then_some(found)
            })
            .await
    }

    /// Waits for a received text message with exactly `text`.
    pub async fn wait_text(&self, text: &str, timeout: Duration) -> Result<ReceivedMessage> {
        self.wait_received(timeout, |m| m.text.as_deref() == Some(text)).await
    }

    /// Receipts clients sent for this contact's messages.
    pub fn receipts(&self) -> Vec<ReceivedReceipt> {
        self.inner
            .world()
            .accounts
            .get(&self.pn)
            .map(|a| a.receipts.clone())
            .unwrap_or_default()
    }

    /// Waits for a receipt `matches` accepts.
    pub async fn wait_receipt(
        &self,
        timeout: Duration,
        mut matches: impl FnMut(&ReceivedReceipt) -> bool,
    ) -> Result<ReceivedReceipt> {
        let pn = self.pn.clone();
        self.inner
            .wait_for(timeout, &format!("a receipt to {pn}"), |w| {
                w.accounts.get(&pn)?.receipts.iter().find(|r| matches(r)).cloned()
            })
            .await
    }
}
