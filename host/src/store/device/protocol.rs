//! `ProtocolStore`: WhatsApp Web protocol state beyond Signal itself — group
//! sender-key distribution, LID/phone mappings, retry base keys, device lists,
//! group metadata, trusted-contact tokens, sent messages kept for retries, and
//! the pending-inbound durability buffer.

use async_trait::async_trait;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore, TcTokenEntry,
};

use super::grouped_writes::{PENDING_INBOUND, SENT_MESSAGES};
use super::tc_token_cache::Cached;
use super::{DeviceBackend, execute, execute_batch, fetch_all, fetch_optional, serde_err};
use crate::clock::now_secs;

const PUT_LID_MAPPING: &str = "INSERT INTO wa_lid_pn_mappings \
         (device_id, lid, phone_number, created_at, updated_at, learning_source) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (device_id, lid) DO UPDATE SET phone_number = excluded.phone_number, \
         updated_at = excluded.updated_at, learning_source = excluded.learning_source";
const PUT_DEVICE_LIST: &str = "INSERT INTO wa_device_lists (device_id, user_id, record, updated_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (device_id, user_id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at";
const PUT_PENDING_INBOUND: &str = "INSERT INTO wa_pending_inbound (device_id, chat, sender, id, message, inserted_at) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (device_id, chat, sender, id) DO UPDATE SET message = excluded.message, \
         inserted_at = excluded.inserted_at";
const DELETE_PENDING_INBOUND: &str =
    "DELETE FROM wa_pending_inbound WHERE device_id = $1 AND chat = $2 AND sender = $3 AND id = $4";
const LID_MAPPING_COLUMNS: &str = "lid, phone_number, created_at, updated_at, learning_source";

type LidMappingRow = (String, String, i64, i64, String);

fn lid_mapping((lid, phone_number, created_at, updated_at, learning_source): LidMappingRow) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid,
        phone_number,
        created_at,
        updated_at,
        learning_source,
    }
}

fn device_list_json(record: &DeviceListRecord) -> Result<String> {
    serde_json::to_string(record).map_err(serde_err)
}

#[async_trait]
impl ProtocolStore for DeviceBackend {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        fetch_all!(
            self,
            (String, bool),
            "SELECT device_jid, has_key FROM wa_sender_key_devices \
             WHERE device_id = $1 AND group_jid = $2 ORDER BY device_jid",
            group_jid
        )
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        let now = now_secs();
        execute_batch!(
            self,
            "INSERT INTO wa_sender_key_devices (device_id, group_jid, device_jid, has_key, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (device_id, group_jid, device_jid) \
             DO UPDATE SET has_key = excluded.has_key, updated_at = excluded.updated_at",
            entries,
            |entry| (group_jid, entry.0, entry.1, now)
        )
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_sender_key_devices WHERE device_id = $1 AND group_jid = $2",
            group_jid
        )?;
        Ok(())
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        execute_batch!(
            self,
            "DELETE FROM wa_sender_key_devices WHERE device_id = $1 AND device_jid = $2",
            device_jids,
            |jid| (*jid)
        )
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        execute!(self, "DELETE FROM wa_sender_key_devices WHERE device_id = $1")?;
        Ok(())
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        let row = fetch_optional!(
            self,
            LidMappingRow,
            &format!("SELECT {LID_MAPPING_COLUMNS} FROM wa_lid_pn_mappings WHERE device_id = $1 AND lid = $2"),
            lid
        )?;
        Ok(row.map(lid_mapping))
    }

    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        // A phone number can have had several LIDs: the latest learned wins.
        let row = fetch_optional!(
            self,
            LidMappingRow,
            &format!(
                "SELECT {LID_MAPPING_COLUMNS} FROM wa_lid_pn_mappings \
                 WHERE device_id = $1 AND phone_number = $2 ORDER BY updated_at DESC, lid DESC LIMIT 1"
            ),
            phone
        )?;
        Ok(row.map(lid_mapping))
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        // created_at keeps the first time the mapping was learned.
        execute_batch!(self, PUT_LID_MAPPING, entries, |e| (
            &e.lid,
            &e.phone_number,
            e.created_at,
            e.updated_at,
            &e.learning_source
        ))
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let rows = fetch_all!(
            self,
            LidMappingRow,
            &format!("SELECT {LID_MAPPING_COLUMNS} FROM wa_lid_pn_mappings WHERE device_id = $1 ORDER BY lid")
        )?;
        Ok(rows.into_iter().map(lid_mapping).collect())
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        execute!(
            self,
            "INSERT INTO wa_base_keys (device_id, address, message_id, base_key, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (device_id, address, message_id) DO UPDATE SET base_key = excluded.base_key",
            address,
            message_id,
            base_key,
            now_secs()
        )?;
        Ok(())
    }

    async fn has_same_base_key(&self, address: &str, message_id: &str, current_base_key: &[u8]) -> Result<bool> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT base_key FROM wa_base_keys WHERE device_id = $1 AND address = $2 AND message_id = $3",
            address,
            message_id
        )?;
        Ok(row.is_some_and(|(stored,)| stored == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_base_keys WHERE device_id = $1 AND address = $2 AND message_id = $3",
            address,
            message_id
        )?;
        Ok(())
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        execute!(
            self,
            PUT_DEVICE_LIST,
            &record.user,
            device_list_json(&record)?,
            now_secs()
        )?;
        Ok(())
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        let now = now_secs();
        let rows = records
            .iter()
            .map(|r| Ok((r.user.as_str(), device_list_json(r)?)))
            .collect::<Result<Vec<_>>>()?;
        execute_batch!(self, PUT_DEVICE_LIST, &rows, |row| (row.0, &row.1, now))
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        let row = fetch_optional!(
            self,
            (String,),
            "SELECT record FROM wa_device_lists WHERE device_id = $1 AND user_id = $2",
            user
        )?;
        row.map(|(json,)| serde_json::from_str(&json).map_err(serde_err))
            .transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_device_lists WHERE device_id = $1 AND user_id = $2",
            user
        )?;
        Ok(())
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT info FROM wa_group_metadata WHERE device_id = $1 AND group_jid = $2",
            group_jid
        )?;
        Ok(row.map(|(info,)| info))
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        execute!(
            self,
            "INSERT INTO wa_group_metadata (device_id, group_jid, info, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (device_id, group_jid) DO UPDATE SET info = excluded.info, updated_at = excluded.updated_at",
            group_jid,
            blob,
            now_secs()
        )?;
        Ok(())
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_group_metadata WHERE device_id = $1 AND group_jid = $2",
            group_jid
        )?;
        Ok(())
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        let generation = match self.tc_tokens.get(jid) {
            // A wiped device reads what the database says: nothing.
            Cached::Known(entry) if !*self.gate.read().await => return Ok(entry),
            Cached::Known(_) => None,
            Cached::Unknown(generation) => Some(generation),
        };
        let row = fetch_optional!(
            self,
            (Vec<u8>, i64, Option<i64>),
            "SELECT token, token_timestamp, sender_timestamp FROM wa_tc_tokens WHERE device_id = $1 AND jid = $2",
            jid
        )?;
        let entry = row.map(|(token, token_timestamp, sender_timestamp)| TcTokenEntry {
            token,
            token_timestamp,
            sender_timestamp,
        });
        if let Some(generation) = generation {
            self.tc_tokens.fill(jid, generation, entry.clone());
        }
        Ok(entry)
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        let written = execute!(
            self,
            "INSERT INTO wa_tc_tokens (device_id, jid, token, token_timestamp, sender_timestamp, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (device_id, jid) DO UPDATE SET token = excluded.token, \
                 token_timestamp = excluded.token_timestamp, sender_timestamp = excluded.sender_timestamp, \
                 updated_at = excluded.updated_at",
            jid,
            &entry.token[..],
            entry.token_timestamp,
            entry.sender_timestamp,
            now_secs()
        );
        self.tc_tokens.forget(jid);
        written?;
        Ok(())
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        let written = execute!(self, "DELETE FROM wa_tc_tokens WHERE device_id = $1 AND jid = $2", jid);
        self.tc_tokens.forget(jid);
        written?;
        Ok(())
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        let rows = fetch_all!(
            self,
            (String,),
            "SELECT jid FROM wa_tc_tokens WHERE device_id = $1 ORDER BY jid"
        )?;
        Ok(rows.into_iter().map(|(jid,)| jid).collect())
    }

    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        // A row goes only when both its received token and its sender bucket are stale.
        let deleted = execute!(
            self,
            "DELETE FROM wa_tc_tokens WHERE device_id = $1 \
               AND (length(token) = 0 OR token_timestamp < $2) \
               AND (sender_timestamp IS NULL OR sender_timestamp < $3)",
            token_cutoff,
            sender_cutoff
        );
        // Whatever the outcome: a failed write may still have landed.
        self.tc_tokens.forget_all();
        Ok(deleted? as u32)
    }

    async fn touch_tc_token_sender_timestamp(&self, jid: &str, sender_timestamp: i64) -> Result<()> {
        // One atomic upsert: the sender bucket only moves forward, token bytes stay.
        let written = execute!(
            self,
            "INSERT INTO wa_tc_tokens (device_id, jid, token, token_timestamp, sender_timestamp, updated_at) \
             VALUES ($1, $2, $3, $4, $4, $5) \
             ON CONFLICT (device_id, jid) DO UPDATE SET \
                 sender_timestamp = CASE \
                     WHEN wa_tc_tokens.sender_timestamp IS NULL \
                       OR wa_tc_tokens.sender_timestamp < excluded.sender_timestamp \
                     THEN excluded.sender_timestamp ELSE wa_tc_tokens.sender_timestamp END, \
                 updated_at = excluded.updated_at",
            jid,
            &[][..] as &[u8],
            sender_timestamp,
            now_secs()
        );
        self.tc_tokens.forget(jid);
        written?;
        Ok(())
    }

    async fn store_received_tc_token(&self, jid: &str, token: &[u8], token_timestamp: i64) -> Result<()> {
        // Newer wins: a stale write never clobbers a fresher real token, a
        // placeholder never blocks the first real one, the sender bucket stays.
        let written = execute!(
            self,
            "INSERT INTO wa_tc_tokens (device_id, jid, token, token_timestamp, sender_timestamp, updated_at) \
             VALUES ($1, $2, $3, $4, NULL, $5) \
             ON CONFLICT (device_id, jid) DO UPDATE SET token = excluded.token, \
                 token_timestamp = excluded.token_timestamp, updated_at = excluded.updated_at \
             WHERE length(wa_tc_tokens.token) = 0 OR excluded.token_timestamp >= wa_tc_tokens.token_timestamp",
            jid,
            token,
            token_timestamp,
            now_secs()
        );
        self.tc_tokens.forget(jid);
        written?;
        Ok(())
    }

    // One per send, many sends at once: written together (`grouped_writes.rs`).
    async fn store_sent_message(&self, chat_jid: &str, message_id: &str, payload: &[u8]) -> Result<()> {
        let row = (vec![chat_jid.to_owned(), message_id.to_owned()], payload.to_vec());
        self.grouped.put(self, SENT_MESSAGES, vec![row]).await
    }

    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        // DELETE ... RETURNING is one statement: of two concurrent takes, one gets the row.
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "DELETE FROM wa_sent_messages WHERE device_id = $1 AND chat_jid = $2 AND message_id = $3 \
             RETURNING payload",
            chat_jid,
            message_id
        )?;
        Ok(row.map(|(payload,)| payload))
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        let deleted = execute!(
            self,
            "DELETE FROM wa_sent_messages WHERE device_id = $1 AND created_at < $2",
            cutoff_timestamp
        )?;
        Ok(deleted as u32)
    }

    async fn store_pending_inbound(&self, chat: &str, sender: &str, id: &str, message: &[u8]) -> Result<()> {
        execute!(self, PUT_PENDING_INBOUND, chat, sender, id, message, now_secs())?;
        Ok(())
    }

    async fn get_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT message FROM wa_pending_inbound WHERE device_id = $1 AND chat = $2 AND sender = $3 AND id = $4",
            chat,
            sender,
            id
        )?;
        Ok(row.map(|(message,)| message))
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        execute!(self, DELETE_PENDING_INBOUND, chat, sender, id)?;
        Ok(())
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        let deleted = execute!(
            self,
            "DELETE FROM wa_pending_inbound WHERE device_id = $1 AND inserted_at < $2",
            cutoff_timestamp
        )?;
        Ok(deleted as u32)
    }

    // The client's buffer rows of live messages come one per sender lane at
    // a time: written together with the other lanes' (`grouped_writes.rs`).
    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        let rows = rows
            .iter()
            .map(|r| {
                (
                    vec![r.chat.to_owned(), r.sender.to_owned(), r.id.to_owned()],
                    r.message.to_vec(),
                )
            })
            .collect();
        #[cfg(feature = "test-whatsapp-server")]
        super::slow_pending_rows::wait().await;
        self.grouped.put(self, PENDING_INBOUND, rows).await
    }

    // The client's removal after a committed batch: queued and batched, off
    // the sender's lane, so it lands a moment later (`grouped_writes.rs`).
    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        let keys = keys
            .iter()
            .map(|k| (k.chat.to_owned(), k.sender.to_owned(), k.id.to_owned()))
            .collect();
        self.grouped.remove(self, keys).await
    }
}
