//! `MsgSecretStore`: the per-message secrets that decrypt later add-ons
//! (reactions, poll votes, edits) to messages.
//! A batch (whatsapp-rust buffers them) is written many rows per statement.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::{MsgSecretEntry, MsgSecretStore};

use super::{DeviceBackend, db, execute, fetch_optional};
use crate::clock::now_secs;
use crate::store::on_pool;
use crate::store::statements::{Params, execute_chunks};

/// Rows per statement: 6 parameters each, under both engines' limits.
const ROWS_PER_STATEMENT: usize = 200;

#[async_trait]
impl MsgSecretStore for DeviceBackend {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        let count = entries.len();
        let retired = self.gate.read().await;
        if *retired || entries.is_empty() {
            return Ok(count);
        }
        // One row per key (PostgreSQL refuses to update a row twice in one
        // statement): repeated keys merged first by the rules below, which
        // give what writing them one after the other would.
        let mut merged: Vec<MsgSecretEntry> = Vec::with_capacity(entries.len());
        let mut at: HashMap<(Arc<str>, Arc<str>, Arc<str>), usize> = HashMap::with_capacity(entries.len());
        for entry in entries {
            let key = (entry.chat.clone(), entry.sender.clone(), entry.msg_id.clone());
            match at.get(&key) {
                Some(&i) => {
                    let kept = &mut merged[i];
                    kept.secret = entry.secret;
                    kept.expires_at = if kept.expires_at == 0 || entry.expires_at == 0 {
                        0
                    } else {
                        kept.expires_at.max(entry.expires_at)
                    };
                    kept.message_ts = kept.message_ts.max(entry.message_ts);
                }
                None => {
                    at.insert(key, merged.len());
                    merged.push(entry);
                }
            }
        }
        let now = now_secs();
        let params = Params::of(&self.pool);
        let statements: Vec<String> = merged
            .chunks(ROWS_PER_STATEMENT)
            .map(|chunk| {
                // Per row, in the columns' order: the device, chat,
                // sender, id, secret, the time, expiry and message time.
                // On conflict the merge rules of whatsapp-rust apply: an
                // expiry of 0 ("never") wins, else the later deadline; the
                // later non-zero parent time wins. Written as CASE because
                // SQLite's MAX and PostgreSQL's GREATEST differ.
                format!(
                    "INSERT INTO wa_msg_secrets \
                         (device_id, chat, sender, msg_id, secret, created_at, expires_at, message_ts) \
                     VALUES {} \
                     ON CONFLICT (device_id, chat, sender, msg_id) DO UPDATE SET \
                         secret = excluded.secret, \
                         expires_at = CASE \
                             WHEN wa_msg_secrets.expires_at = 0 OR excluded.expires_at = 0 THEN 0 \
                             WHEN excluded.expires_at > wa_msg_secrets.expires_at THEN excluded.expires_at \
                             ELSE wa_msg_secrets.expires_at END, \
                         message_ts = CASE \
                             WHEN excluded.message_ts > wa_msg_secrets.message_ts THEN excluded.message_ts \
                             ELSE wa_msg_secrets.message_ts END",
                    params.rows(chunk.len(), 8)
                )
            })
            .collect();
        on_pool!(&self.pool, |p| execute_chunks(
            p,
            &statements,
            &merged,
            ROWS_PER_STATEMENT,
            |mut query, chunk| {
                for e in chunk {
                    query = query
                        .bind(self.device_id)
                        .bind(&*e.chat)
                        .bind(&*e.sender)
                        .bind(&*e.msg_id)
                        .bind(&e.secret[..])
                        .bind(now)
                        .bind(e.expires_at)
                        .bind(e.message_ts);
                }
                query
            }
        )
        .await)
        .map_err(db)?;
        Ok(count)
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
