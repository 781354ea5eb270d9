//! `AppSyncStore`: app-state sync keys, collection versions and mutation MACs.

use std::collections::HashMap;

use async_trait::async_trait;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::{AppStateSyncKey, AppSyncStore};

use super::{DeviceBackend, execute, execute_batch, fetch_each, fetch_optional, serde_err};

#[async_trait]
impl AppSyncStore for DeviceBackend {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        let row = fetch_optional!(
            self,
            (String,),
            "SELECT key_data FROM wa_app_state_keys WHERE device_id = $1 AND key_id = $2",
            key_id
        )?;
        row.map(|(json,)| serde_json::from_str(&json).map_err(serde_err))
            .transpose()
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        let json = serde_json::to_string(&key).map_err(serde_err)?;
        // `seq` records the order of storing: the latest stored key is current.
        execute!(
            self,
            "INSERT INTO wa_app_state_keys (device_id, key_id, key_data, seq) \
             VALUES ($1, $2, $3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM wa_app_state_keys WHERE device_id = $1)) \
             ON CONFLICT (device_id, key_id) DO UPDATE SET key_data = excluded.key_data, seq = excluded.seq",
            key_id,
            &json
        )?;
        Ok(())
    }

    async fn get_version(&self, name: &str) -> Result<HashState> {
        let row = fetch_optional!(
            self,
            (String,),
            "SELECT state_data FROM wa_app_state_versions WHERE device_id = $1 AND name = $2",
            name
        )?;
        match row {
            Some((json,)) => serde_json::from_str(&json).map_err(serde_err),
            None => Ok(HashState::default()),
        }
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        let json = serde_json::to_string(&state).map_err(serde_err)?;
        execute!(
            self,
            "INSERT INTO wa_app_state_versions (device_id, name, state_data) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id, name) DO UPDATE SET state_data = excluded.state_data",
            name,
            &json
        )?;
        Ok(())
    }

    async fn put_mutation_macs(&self, name: &str, version: u64, mutations: &[AppStateMutationMAC]) -> Result<()> {
        execute_batch!(
            self,
            "INSERT INTO wa_app_state_mutation_macs (device_id, name, index_mac, version, value_mac) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (device_id, name, index_mac) \
             DO UPDATE SET version = excluded.version, value_mac = excluded.value_mac",
            mutations,
            |m| (name, &m.index_mac[..], version as i64, &m.value_mac[..])
        )
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT value_mac FROM wa_app_state_mutation_macs \
             WHERE device_id = $1 AND name = $2 AND index_mac = $3",
            name,
            index_mac
        )?;
        Ok(row.map(|(mac,)| mac))
    }

    async fn get_mutation_macs(&self, name: &str, index_macs: &[[u8; 32]]) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        let found = fetch_each!(
            self,
            (Vec<u8>,),
            "SELECT value_mac FROM wa_app_state_mutation_macs \
             WHERE device_id = $1 AND name = $2 AND index_mac = $3",
            index_macs,
            |index_mac| (name, &index_mac[..]) => |index_mac: &[u8; 32], (mac,): (Vec<u8>,)| (*index_mac, mac)
        )?;
        Ok(found.into_iter().collect())
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        execute_batch!(
            self,
            "DELETE FROM wa_app_state_mutation_macs WHERE device_id = $1 AND name = $2 AND index_mac = $3",
            index_macs,
            |index_mac| (name, &index_mac[..])
        )
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM wa_app_state_mutation_macs WHERE device_id = $1 AND name = $2",
            name
        )?;
        Ok(())
    }

    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        let row = fetch_optional!(
            self,
            (Vec<u8>,),
            "SELECT key_id FROM wa_app_state_keys WHERE device_id = $1 ORDER BY seq DESC LIMIT 1"
        )?;
        Ok(row.map(|(key_id,)| key_id))
    }
}
