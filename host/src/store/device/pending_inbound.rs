//! The sim engine's use of the pending-inbound table: what its simulated
//! WhatsApp server holds for a device and has not had acknowledged yet
//! (`engine/sim/offline.rs`), in one partition (`chat`) of the table.
//! whatsapp-rust reads and writes its own rows one key at a time; the
//! simulated server lists its partition, and holds and releases many rows
//! per statement (deliveries arrive by the thousand a second in benchmarks),
//! through the relaxed pool: the simulated server's queue must survive a
//! crash of wasap, which a commit that has not reached the disk yet does.
//! Writes pass the device's gate like every other (`retire.rs`).

use whatsapp_rust::wacore::store::error::Result;

use super::{DeviceBackend, db, fetch_all};
use crate::clock::now_secs;
use crate::store::on_pool;
use crate::store::statements::{Params, padded};

/// Rows per statement (at most 4 parameters each).
const CHUNK: usize = 200;

impl DeviceBackend {
    /// Every pending-inbound row of this device under `chat`, as
    /// `(sender, id, message)`, ordered by `sender` then `id`.
    pub async fn pending_inbound_of_chat(&self, chat: &str) -> Result<Vec<(String, String, Vec<u8>)>> {
        fetch_all!(
            self,
            (String, String, Vec<u8>),
            "SELECT sender, id, message FROM wa_pending_inbound \
             WHERE device_id = $1 AND chat = $2 ORDER BY sender, id",
            chat
        )
    }

    /// Keeps `rows` (`sender`, `id`, `message`) under `chat`, a statement per
    /// [`CHUNK`] rows (a batch of rows lands whole or not at all).
    pub async fn pending_inbound_put_many(&self, chat: &str, rows: &[(&str, &str, &[u8])]) -> Result<()> {
        let retired = self.gate.read().await;
        if *retired || rows.is_empty() {
            return Ok(());
        }
        let now = now_secs();
        let params = Params::of(&self.relaxed);
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO wa_pending_inbound (device_id, chat, sender, id, message, inserted_at) VALUES {} \
                 ON CONFLICT (device_id, chat, sender, id) DO UPDATE SET message = excluded.message, \
                 inserted_at = excluded.inserted_at",
                params.rows(chunk.len(), 6)
            );
            on_pool!(&self.relaxed, |p| {
                let mut query = sqlx::query(&sql);
                for (sender, id, message) in chunk {
                    query = query
                        .bind(self.device_id)
                        .bind(chat)
                        .bind(*sender)
                        .bind(*id)
                        .bind(*message)
                        .bind(now);
                }
                query.execute(p).await.map(|_| ())
            })
            .map_err(db)?;
        }
        Ok(())
    }

    /// Forgets the rows `ids` under `chat`, a statement per [`CHUNK`] ids.
    pub async fn pending_inbound_delete_many(&self, chat: &str, ids: &[&str]) -> Result<()> {
        let retired = self.gate.read().await;
        if *retired || ids.is_empty() {
            return Ok(());
        }
        let params = Params::of(&self.relaxed);
        for chunk in ids.chunks(CHUNK) {
            // Padded with repeats of the last id (`padded`).
            let (count, padded_ids) = padded(chunk, CHUNK);
            let sql = format!(
                "DELETE FROM wa_pending_inbound WHERE device_id = {} AND chat = {} AND id IN ({})",
                params.list(1, 1),
                params.list(2, 1),
                params.list(3, count)
            );
            on_pool!(&self.relaxed, |p| {
                let mut query = sqlx::query(&sql).bind(self.device_id).bind(chat);
                for id in padded_ids {
                    query = query.bind(*id);
                }
                query.execute(p).await.map(|_| ())
            })
            .map_err(db)?;
        }
        Ok(())
    }
}
