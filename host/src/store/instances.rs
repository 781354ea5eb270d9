//! The `instances` table: one row per managed WhatsApp number.

use std::collections::BTreeMap;

use super::{Store, StoreError, on_pool};
use crate::clock::now_secs;

/// One stored instance.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstanceRow {
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the instance token.
    pub token_hash: String,
    pub status: String,
    /// The linked whatsapp-rust device, while there is one.
    pub device_id: Option<i32>,
    pub jid: Option<String>,
    pub phone_number: Option<String>,
    pub push_name: Option<String>,
    pub created_at: i64,
    pub connected_at: Option<i64>,
    pub last_seen: Option<i64>,
}

const COLUMNS: &str =
    "id, name, token_hash, status, device_id, jid, phone_number, push_name, created_at, connected_at, last_seen";

impl Store {
    /// How many instances are in each status (statuses with none are absent).
    pub async fn count_instances_by_status(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT status, COUNT(*) FROM instances GROUP BY status"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().collect())
    }

    /// Inserts a new instance; `false` when the id is taken.
    pub async fn insert_instance(&self, row: &InstanceRow) -> Result<bool, StoreError> {
        let inserted = on_pool!(self.pool(), |p| sqlx::query(
            "INSERT INTO instances (id, name, token_hash, status, device_id, jid, phone_number, push_name, \
                 created_at, connected_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING"
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.token_hash)
        .bind(&row.status)
        .bind(row.device_id)
        .bind(&row.jid)
        .bind(&row.phone_number)
        .bind(&row.push_name)
        .bind(row.created_at)
        .bind(row.connected_at)
        .bind(row.last_seen)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(inserted == 1)
    }

    pub async fn get_instance(&self, id: &str) -> Result<Option<InstanceRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE id = $1");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Every instance, oldest first.
    pub async fn list_instances(&self) -> Result<Vec<InstanceRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM instances ORDER BY created_at, id");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql).fetch_all(p).await)?)
    }

    /// Instances linked to `phone_number`, oldest first.
    pub async fn instance_ids_by_phone(&self, phone_number: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT id FROM instances WHERE phone_number = $1 ORDER BY created_at, id"
        )
        .bind(phone_number)
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Removes an instance (its webhooks go with it); `false` if there was none.
    pub async fn delete_instance(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = on_pool!(self.pool(), |p| sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(id)
            .execute(p)
            .await
            .map(|done| done.rows_affected()))?;
        // Its webhooks went with it (a cascade).
        self.webhooks_changed();
        Ok(deleted == 1)
    }

    /// Replaces the instance's token hash; `false` if there is no such instance.
    pub async fn set_instance_token_hash(&self, id: &str, token_hash: &str) -> Result<bool, StoreError> {
        let updated = on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE instances SET token_hash = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(token_hash)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Records a status change; `last_seen` moves to now.
    pub async fn set_instance_status(&self, id: &str, status: &str) -> Result<(), StoreError> {
        self.update_instance(
            "UPDATE instances SET status = $2, last_seen = $3 WHERE id = $1",
            id,
            status,
            now_secs(),
        )
        .await
    }

    /// Records that the instance is online as `jid`, now.
    pub async fn set_instance_online(
        &self,
        id: &str,
        jid: &str,
        phone_number: &str,
        push_name: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write_link(
            "UPDATE instances SET status = 'online', jid = $2, phone_number = $3, \
                 push_name = COALESCE($4, push_name), connected_at = $5, last_seen = $5 WHERE id = $1",
            id,
            jid,
            phone_number,
            push_name,
        )
        .await
    }

    /// Records the link to a phone, now (before the connection is up).
    pub async fn set_instance_linked(
        &self,
        id: &str,
        jid: &str,
        phone_number: &str,
        push_name: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write_link(
            "UPDATE instances SET jid = $2, phone_number = $3, \
                 push_name = COALESCE($4, push_name), last_seen = $5 WHERE id = $1",
            id,
            jid,
            phone_number,
            push_name,
        )
        .await
    }

    /// Runs `sql` with the link's values: `$1` id, `$2` JID, `$3` phone, `$4` push name, `$5` now.
    async fn write_link(
        &self,
        sql: &'static str,
        id: &str,
        jid: &str,
        phone_number: &str,
        push_name: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self.pool(), |p| sqlx::query(sql)
            .bind(id)
            .bind(jid)
            .bind(phone_number)
            .bind(push_name)
            .bind(now_secs())
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Attaches a device to the instance.
    pub async fn set_instance_device(&self, id: &str, device_id: i32) -> Result<(), StoreError> {
        on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE instances SET device_id = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(device_id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Forgets the link: no device, no JID, the given status. The device's
    /// own rows are wiped separately (`wipe_device`).
    pub async fn unlink_instance(&self, id: &str, status: &str) -> Result<(), StoreError> {
        self.update_instance(
            "UPDATE instances SET status = $2, device_id = NULL, jid = NULL, phone_number = NULL, \
                 connected_at = NULL, last_seen = $3 WHERE id = $1",
            id,
            status,
            now_secs(),
        )
        .await
    }

    /// The ids of the instances with auto-read on.
    pub async fn instances_with_auto_read(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT id FROM instances WHERE auto_read"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Turns the instance's auto-read on or off; `false` if there is no such instance.
    pub async fn set_instance_auto_read(&self, id: &str, on: bool) -> Result<bool, StoreError> {
        let updated = on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE instances SET auto_read = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(on)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(updated == 1)
    }

    /// The instances that reject calls automatically, with the text each
    /// sends the caller (`reject_calls`, `reject_calls_message`).
    pub async fn instances_rejecting_calls(&self) -> Result<Vec<(String, Option<String>)>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT id, reject_calls_message FROM instances WHERE reject_calls"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Sets whether the instance rejects calls automatically and the text it
    /// sends the caller; `false` if there is no such instance.
    pub async fn set_instance_reject_calls(
        &self,
        id: &str,
        on: bool,
        message: Option<&str>,
    ) -> Result<bool, StoreError> {
        let updated = on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE instances SET reject_calls = $2, reject_calls_message = $3 WHERE id = $1"
        )
        .bind(id)
        .bind(on)
        .bind(message)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Moves `last_seen` to now.
    pub async fn touch_instance(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self.pool(), |p| sqlx::query(
            "UPDATE instances SET last_seen = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(now_secs())
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    async fn update_instance(&self, sql: &'static str, id: &str, status: &str, now: i64) -> Result<(), StoreError> {
        on_pool!(self.pool(), |p| sqlx::query(sql)
            .bind(id)
            .bind(status)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
