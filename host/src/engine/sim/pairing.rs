//! Linking a simulated session to a phone: the rotating QR codes, the pair
//! code, and the phone's confirmation, which saves the pairing in the device
//! store exactly where the real engine keeps it.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::network::SimError;
use super::session::{SimSession, State};
use crate::engine::{EngineError, EngineEvent};

impl SimSession {
    /// Shows a new QR code every `interval` until the session is paired or closed.
    pub(super) fn start_qr_rotation(self: &Arc<Self>, interval: Duration) {
        let session = Arc::downgrade(self);
        let events = self.events.clone();
        let task = tokio::spawn(async move {
            loop {
                let Some(this) = session.upgrade() else { return };
                if this.is_closed() || this.state() != State::AwaitingScan {
                    return;
                }
                drop(this);
                let event = EngineEvent::Qr {
                    code: new_qr_code(),
                    valid_for: interval,
                };
                if events.send(event).await.is_err() {
                    return;
                }
                tokio::time::sleep(interval).await;
            }
        });
        *self.qr_task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// A pairing code for `phone` to type; the simulated phone accepts any,
    /// and `/sim/.../scan` completes the link.
    pub(super) fn new_pair_code(&self, phone: &str) -> Result<String, EngineError> {
        if self.is_closed() || self.state() != State::AwaitingScan {
            return Err(EngineError::Protocol("the instance is not pairing".to_owned()));
        }
        if phone.is_empty() || !phone.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EngineError::InvalidPhone(phone.to_owned()));
        }
        const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTVWXYZ123456789";
        let mut rng = rand::rng();
        let code: String = (0..8)
            .map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char)
            .collect();
        Ok(format!("{}-{}", &code[..4], &code[4..]))
    }

    /// The phone confirms the link: the pairing is saved in the device store
    /// (as the real engine saves it), then the session reports paired and connected.
    pub(super) async fn complete_pairing(&self, phone: &str, push_name: Option<String>) -> Result<String, SimError> {
        if self.is_closed() || self.state() != State::AwaitingScan {
            return Err(SimError::NotPairing(self.instance_id.clone()));
        }
        let jid = format!("{phone}:1@s.whatsapp.net");
        let mut device = self
            .device
            .load()
            .await
            .map_err(|e| SimError::Store(e.to_string()))?
            .ok_or_else(|| SimError::Store("the device row is missing".to_owned()))?;
        device.pn = Some(
            jid.parse()
                .map_err(|e| SimError::Store(format!("bad phone {phone}: {e}")))?,
        );
        device.push_name = push_name.clone().unwrap_or_default();
        self.device
            .save(&device)
            .await
            .map_err(|e| SimError::Store(e.to_string()))?;

        self.set_state(State::Connected);
        if let Some(task) = self.qr_task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        self.emit(EngineEvent::Paired {
            jid: jid.clone(),
            push_name: push_name.clone(),
        })
        .await;
        self.emit(EngineEvent::Connected {
            jid: jid.clone(),
            push_name,
        })
        .await;
        Ok(jid)
    }
}

/// A QR payload shaped like WhatsApp's (`ref,noise key,identity key,adv secret`).
fn new_qr_code() -> String {
    use crate::random::hex;
    format!("2@{},{},{},{}", hex(24), hex(32), hex(32), hex(32))
}
