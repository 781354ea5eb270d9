//! `SignalStore`: identities, sessions, pre-keys, signed pre-keys and sender keys.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use whatsapp_rust::wacore::store::error::{Result, StoreError as WaStoreError};
use whatsapp_rust::wacore::store::traits::SignalStore;

use super::address_records::{IDENTITIES, SENDER_KEYS, SESSIONS};
use super::{DeviceBackend, execute, execute_batch, fetch_all, fetch_each, fetch_optional, like_escape};

const PUT_IDENTITY: &str = "INSERT INTO wa_identities (device_id, address, key) VALUES ($1, $2, $3) \
     ON CONFLICT (device_id, address) DO UPDATE SET key = excluded.key";
const PUT_SESSION: &str = "INSERT INTO wa_sessions (device_id, address, record) VALUES ($1, $2, $3) \
     ON CONFLICT (device_id, address) DO UPDATE SET record = excluded.record";
// `uploaded` follows the caller on re-store, as whatsapp-rust's stores do.
const STORE_PREKEY: &str = "INSERT INTO wa_prekeys (device_id, id, record, uploaded) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (device_id, id) DO UPDATE SET record = excluded.record, uploaded = excluded.uploaded";
const PUT_SENDER_KEY: &str = "INSERT INTO wa_sender_keys (device_id, address, record) VALUES ($1, $2, $3) \
     ON CONFLICT (device_id, address) DO UPDATE SET record = excluded.record";

#[async_trait]
impl SignalStore for DeviceBackend {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        execute!(self, PUT_IDENTITY, address, &key[..])?;
        Ok(())
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        let rows: Vec<(&str, &[u8])> = identities.iter().map(|(address, key)| (&**address, &key[..])).collect();
        self.put_address_records(IDENTITIES, &rows).await
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT key FROM wa_identities WHERE device_id = $1 AND address = $2",
            address
        )?;
        row.map(|(key,)| {
            let len = key.len();
            key.try_into()
                .map_err(|_| WaStoreError::Validation(format!("identity key of {address} has {len} bytes, not 32")))
        })
        .transpose()
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_identities WHERE device_id = $1 AND address = $2",
            address
        )?;
        Ok(())
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT record FROM wa_sessions WHERE device_id = $1 AND address = $2",
            address
        )?;
        Ok(row.map(|(record,)| Bytes::from(record)))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        execute!(self, PUT_SESSION, address, session)?;
        Ok(())
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows: Vec<(&str, &[u8])> = sessions
            .iter()
            .map(|(address, record)| (&**address, &record[..]))
            .collect();
        self.put_address_records(SESSIONS, &rows).await
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_sessions WHERE device_id = $1 AND address = $2",
            address
        )?;
        Ok(())
    }

    async fn has_session(&self, address: &str) -> Result<bool> {
        let row = fetch_optional!(
            self,
            (i32,),
            "SELECT 1 FROM wa_sessions WHERE device_id = $1 AND address = $2",
            address
        )?;
        Ok(row.is_some())
    }

    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        // Addresses are `user@server` (device 0) or `user:device@server`.
        let user = like_escape(user);
        let (at, colon) = (format!("{user}@%"), format!("{user}:%"));
        let row = fetch_optional!(
            self,
            (i32,),
            "SELECT 1 FROM wa_sessions WHERE device_id = $1 \
               AND (address LIKE $2 ESCAPE '\\' OR address LIKE $3 ESCAPE '\\') \
             UNION ALL \
             SELECT 1 FROM wa_identities WHERE device_id = $1 \
               AND (address LIKE $2 ESCAPE '\\' OR address LIKE $3 ESCAPE '\\') \
             LIMIT 1",
            &at,
            &colon
        )?;
        Ok(row.is_some())
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        execute!(self, STORE_PREKEY, i64::from(id), record, uploaded)?;
        Ok(())
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        execute_batch!(self, STORE_PREKEY, keys, |(id, record)| (
            i64::from(*id),
            &record[..],
            uploaded
        ))
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT record FROM wa_prekeys WHERE device_id = $1 AND id = $2",
            i64::from(id)
        )?;
        Ok(row.map(|(record,)| Bytes::from(record)))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> Result<Vec<(u32, Bytes)>> {
        fetch_each!(
            self,
            (Vec<u8>,),
            "SELECT record FROM wa_prekeys WHERE device_id = $1 AND id = $2",
            ids,
            |id| (i64::from(*id)) => |id: &u32, (record,): (Vec<u8>,)| (*id, Bytes::from(record))
        )
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        // UPDATE only: a key consumed since the upload snapshot stays deleted.
        execute_batch!(
            self,
            "UPDATE wa_prekeys SET uploaded = TRUE WHERE device_id = $1 AND id = $2",
            ids,
            |id| (i64::from(*id))
        )
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_prekeys WHERE device_id = $1 AND id = $2",
            i64::from(id)
        )?;
        Ok(())
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        let row = fetch_optional!(
            self,
            (Option<i64>,),
            "SELECT MAX(id) FROM wa_prekeys WHERE device_id = $1"
        )?;
        Ok(row.and_then(|(max,)| max).unwrap_or(0) as u32)
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        execute!(
            self,
            "INSERT INTO wa_signed_prekeys (device_id, id, record) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id, id) DO UPDATE SET record = excluded.record",
            i64::from(id),
            record
        )?;
        Ok(())
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT record FROM wa_signed_prekeys WHERE device_id = $1 AND id = $2",
            i64::from(id)
        )?;
        Ok(row.map(|(record,)| record))
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows = fetch_all!(
            self,
            (i64, Vec<u8>),
            "SELECT id, record FROM wa_signed_prekeys WHERE device_id = $1 ORDER BY id"
        )?;
        Ok(rows.into_iter().map(|(id, record)| (id as u32, record)).collect())
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_signed_prekeys WHERE device_id = $1 AND id = $2",
            i64::from(id)
        )?;
        Ok(())
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        execute!(self, PUT_SENDER_KEY, address, record)?;
        Ok(())
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows: Vec<(&str, &[u8])> = sender_keys
            .iter()
            .map(|(address, record)| (&**address, &record[..]))
            .collect();
        self.put_address_records(SENDER_KEYS, &rows).await
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT record FROM wa_sender_keys WHERE device_id = $1 AND address = $2",
            address
        )?;
        Ok(row.map(|(record,)| record))
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_sender_keys WHERE device_id = $1 AND address = $2",
            address
        )?;
        Ok(())
    }
}
