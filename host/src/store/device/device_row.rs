//! `DeviceStore`: the device's own keys and settings, one row per device.
//!
//! The row holds wacore's `Device` as JSON: its serde form is the crate's own
//! persistence contract (fields added later carry serde defaults), so the row
//! survives crate upgrades without a column per field. The phone number, LID
//! and push name are copied into columns for lookups.

use async_trait::async_trait;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::{DeviceBackend, execute, fetch_optional, serde_err};
use crate::clock::now_secs;

const UPSERT_DEVICE: &str = "INSERT INTO wa_devices (id, data, pn, lid, push_name, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, pn = excluded.pn, lid = excluded.lid, \
         push_name = excluded.push_name, updated_at = excluded.updated_at";

impl DeviceBackend {
    async fn write_device(&self, sql: &'static str, device: &Device) -> Result<()> {
        let json = serde_json::to_string(device).map_err(serde_err)?;
        execute!(
            self,
            sql,
            &json,
            device.pn.as_ref().map(|jid| jid.to_string()),
            device.lid.as_ref().map(|jid| jid.to_string()),
            &device.push_name,
            now_secs()
        )?;
        Ok(())
    }
}

#[async_trait]
impl DeviceStore for DeviceBackend {
    async fn save(&self, device: &Device) -> Result<()> {
        self.write_device(UPSERT_DEVICE, device).await
    }

    async fn load(&self) -> Result<Option<Device>> {
        let row = fetch_optional!(self, (String,), "SELECT data FROM wa_devices WHERE id = $1")?;
        row.map(|(json,)| serde_json::from_str(&json).map_err(serde_err))
            .transpose()
    }

    async fn exists(&self) -> Result<bool> {
        let row = fetch_optional!(self, (i32,), "SELECT 1 FROM wa_devices WHERE id = $1")?;
        Ok(row.is_some())
    }

    async fn create(&self) -> Result<i32> {
        // A plain INSERT: creating over an existing device must fail loudly
        // rather than replace its keys.
        self.write_device(
            "INSERT INTO wa_devices (id, data, pn, lid, push_name, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &Device::new(),
        )
        .await?;
        Ok(self.device_id)
    }

    async fn resource_report(&self) -> whatsapp_rust::wacore::stats::StorageResourceReport {
        // The data lives in the database server or file, not in this process.
        whatsapp_rust::wacore::stats::StorageResourceReport {
            memory_bytes: Some(0),
            ..Default::default()
        }
    }
}
