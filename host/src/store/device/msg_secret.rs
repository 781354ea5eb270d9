//! `MsgSecretStore`: the per-message secrets that decrypt later add-ons
//! (reactions, poll votes, edits) to messages.

use async_trait::async_trait;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::{MsgSecretEntry, MsgSecretStore};

use super::{DeviceBackend, execute, execute_batch, fetch_optional};
use crate::clock::now_secs;

#[async_trait]
impl MsgSecretStore for DeviceBackend {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        let now = now_secs();
        // On conflict the merge rules of whatsapp-rust apply: an expiry of 0
        // ("never") wins, else the later deadline; the later non-zero parent
        // time wins. Written as CASE because SQLite's MAX and PostgreSQL's
        // GREATEST differ.
        execute_batch!(
            self,
            "INSERT INTO wa_msg_secrets \
                 (device_id, chat, sender, msg_id, secret, created_at, expires_at, message_ts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (device_id, chat, sender, msg_id) DO UPDATE SET \
                 secret = excluded.secret, \
                 expires_at = CASE \
                     WHEN wa_msg_secrets.expires_at = 0 OR excluded.expires_at = 0 THEN 0 \
                     WHEN excluded.expires_at > wa_msg_secrets.expires_at THEN excluded.expires_at \
                     ELSE wa_msg_secrets.expires_at END, \
                 message_ts = CASE \
                     WHEN excluded.message_ts > wa_msg_secrets.message_ts THEN excluded.message_ts \
                     ELSE wa_msg_secrets.message_ts END",
            &entries,
            |e| (
                &*e.chat,
                &*e.sender,
                &*e.msg_id,
                &e.secret[..],
                now,
                e.expires_at,
                e.message_ts
            )
        )?;
        Ok(entries.len())
    }

    async fn get_msg_secret(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .get_msg_secret_with_ts(chat, sender, msg_id)
            .await?
            .map(|(secret, _)| secret))
    }

    async fn get_msg_secret_with_ts(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<(Vec<u8>, i64)>> {
        fetch_optional!(
            self,
            (Vec<u8>, i64),
            "SELECT secret, message_ts FROM wa_msg_secrets \
             WHERE device_id = $1 AND chat = $2 AND sender = $3 AND msg_id = $4",
            chat,
            sender,
            msg_id
        )
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        // expires_at = 0 means "never".
        let deleted = execute!(
            self,
            "DELETE FROM wa_msg_secrets WHERE device_id = $1 AND expires_at <> 0 AND expires_at <= $2",
            cutoff_timestamp
        )?;
        Ok(deleted as u32)
    }
}
