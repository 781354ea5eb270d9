//! The whatsapp-rust device store over our database.
//!
//! whatsapp-rust keeps a linked device's keys and protocol state behind its
//! `Backend` traits. [`DeviceBackend`] implements them over sqlx for both
//! engines, one row set per device id, so many instances share one database.
//! Each trait lives in its own file; this one holds the handle, the queries'
//! plumbing, and device-id allocation and wiping.
//!
//! Semantics follow whatsapp-rust's own stores (its in-memory and SQLite
//! backends): batch methods run in one transaction, `take_sent_message` is an
//! atomic take, token upserts are "newer wins", and pre-keys are marked
//! uploaded only by an update.

mod address_records;
mod app_sync;
mod device_row;
mod grouped_writes;
mod msg_secret;
mod pending_inbound;
mod protocol;
mod retire;
mod signal;
#[cfg(feature = "test-whatsapp-server")]
pub mod slow_pending_rows;
mod tc_token_cache;

use whatsapp_rust::wacore::store::error::StoreError as WaStoreError;

pub use self::retire::Gates;
use super::{Pool, Store, StoreError, on_pool};
use crate::clock::now_secs;

/// Every table that holds per-device rows, keyed by `device_id`.
/// `wipe_device` empties each of them; the conformance suite checks that this
/// list covers every `wa_` table in the schema.
pub const DEVICE_TABLES: &[&str] = &[
    "wa_identities",
    "wa_sessions",
    "wa_prekeys",
    "wa_signed_prekeys",
    "wa_sender_keys",
    "wa_app_state_keys",
    "wa_app_state_versions",
    "wa_app_state_mutation_macs",
    "wa_sender_key_devices",
    "wa_lid_pn_mappings",
    "wa_base_keys",
    "wa_device_lists",
    "wa_group_metadata",
    "wa_tc_tokens",
    "wa_sent_messages",
    "wa_pending_inbound",
    "wa_msg_secrets",
];

/// One linked device's view of the database: every query it runs is scoped to
/// its device id. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DeviceBackend {
    pool: Pool,
    /// The pool whose commits do not wait for the disk (PostgreSQL; on
    /// SQLite the same pool): for the sim engine's simulated server queue
    /// (`pending_inbound.rs`), which must outlive wasap, not the database server.
    relaxed: Pool,
    device_id: i32,
    /// Closed once the device is wiped: later writes do nothing (`retire.rs`).
    gate: retire::Gate,
    /// The client's pending-inbound rows and sent messages, group-committed (`grouped_writes.rs`).
    grouped: grouped_writes::GroupedWrites,
    /// Trusted-contact tokens read before (`tc_token_cache.rs`), shared by the clones.
    tc_tokens: std::sync::Arc<tc_token_cache::TcTokenCache>,
}

impl DeviceBackend {
    /// The device id every row of this backend is stored under.
    pub fn device_id(&self) -> i32 {
        self.device_id
    }

    /// Waits until every write of this device under way has landed, the
    /// queued writes of pending-inbound rows included (writes that start
    /// later are not waited for).
    pub async fn settle(&self) {
        self.grouped.flush().await;
        drop(self.gate.write().await);
    }
}

impl Store {
    /// The device store of device `device_id`, for whatsapp-rust's client.
    pub fn device(&self, device_id: i32) -> DeviceBackend {
        DeviceBackend {
            pool: self.pool().clone(),
            relaxed: self.relaxed_pool().clone(),
            device_id,
            gate: self.device_gates.of(device_id),
            grouped: Default::default(),
            tc_tokens: Default::default(),
        }
    }

    /// Hands out a device id that has never been used in this database.
    pub async fn allocate_device_id(&self) -> Result<i32, StoreError> {
        let (id,): (i32,) = on_pool!(self.pool(), |p| sqlx::query_as(
            "INSERT INTO wa_device_ids (allocated_at) VALUES ($1) RETURNING id"
        )
        .bind(now_secs())
        .fetch_one(p)
        .await)?;
        Ok(id)
    }

    /// Deletes everything stored for device `device_id`, in one transaction:
    /// its keys, sessions and protocol state, and the device row itself.
    /// Writes of the device still under way finish first; later ones do
    /// nothing (`retire.rs`).
    pub async fn wipe_device(&self, device_id: i32) -> Result<(), StoreError> {
        let gate = self.device_gates.of(device_id);
        let mut retired = gate.write().await;
        *retired = true;
        on_pool!(self.pool(), |p| async {
            let mut tx = p.begin().await?;
            for table in DEVICE_TABLES {
                sqlx::query(&format!("DELETE FROM {table} WHERE device_id = $1"))
                    .bind(device_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM wa_devices WHERE id = $1")
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        .await)?;
        Ok(())
    }
}

impl Store {
    /// Rows held for devices across every device table (the device rows
    /// included): zero once every device has been wiped.
    pub async fn device_row_count(&self) -> Result<i64, StoreError> {
        self.count_device_rows(None).await
    }

    /// Rows held for device `device_id` across every device table (its
    /// device row included): zero once it has been wiped.
    pub async fn device_row_count_of(&self, device_id: i32) -> Result<i64, StoreError> {
        self.count_device_rows(Some(device_id)).await
    }

    async fn count_device_rows(&self, device_id: Option<i32>) -> Result<i64, StoreError> {
        let mut total = 0;
        for (table, key) in DEVICE_TABLES
            .iter()
            .map(|t| (*t, "device_id"))
            .chain([("wa_devices", "id")])
        {
            // `$1 IS NULL` counts every device's rows with one statement shape.
            let (count,): (i64,) = on_pool!(self.pool(), |p| sqlx::query_as(&format!(
                "SELECT COUNT(*) FROM {table} WHERE $1 IS NULL OR {key} = $1"
            ))
            .bind(device_id)
            .fetch_one(p)
            .await)?;
            total += count;
        }
        Ok(total)
    }
}

/// Maps a driver error to whatsapp-rust's store error.
pub(super) fn db(e: sqlx::Error) -> WaStoreError {
    WaStoreError::Database(Box::new(e))
}

/// Maps a JSON (de)serialisation error to whatsapp-rust's store error.
pub(super) fn serde_err(e: serde_json::Error) -> WaStoreError {
    WaStoreError::Serialization(Box::new(e))
}

/// Escapes `%`, `_` and `\` so `s` matches itself in a `LIKE ... ESCAPE '\'`.
pub(super) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Runs one statement for this device: `$1` is always the device id, the
/// remaining arguments bind to `$2`, `$3`, ... Returns rows affected.
/// A write: it passes the device's gate, and does nothing (0 rows) once the
/// device is retired.
macro_rules! execute {
    ($this:expr, $sql:expr $(, $arg:expr)* $(,)?) => {{
        let retired = $this.gate.read().await;
        if *retired {
            Ok(0)
        } else {
            $crate::store::on_pool!(&$this.pool, |p| sqlx::query($sql)
                .bind($this.device_id)
                $(.bind($arg))*
                .execute(p)
                .await
                .map(|done| done.rows_affected()))
            .map_err($crate::store::device::db)
        }
    }};
}

/// Fetches at most one row of type `$ty` (a tuple) for this device; binds as in `execute!`.
macro_rules! fetch_optional {
    ($this:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::store::on_pool!(&$this.pool, |p| sqlx::query_as::<_, $ty>($sql)
            .bind($this.device_id)
            $(.bind($arg))*
            .fetch_optional(p)
            .await)
        .map_err($crate::store::device::db)
    };
}

/// Fetches every row of type `$ty` (a tuple) for this device; binds as in `execute!`.
macro_rules! fetch_all {
    ($this:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::store::on_pool!(&$this.pool, |p| sqlx::query_as::<_, $ty>($sql)
            .bind($this.device_id)
            $(.bind($arg))*
            .fetch_all(p)
            .await)
        .map_err($crate::store::device::db)
    };
}

/// Runs `$sql` once per item of `$items` in one transaction, binding the
/// device id as `$1` and `$bind(item)`'s values after it: a batch lands whole
/// or not at all. Gated like `execute!`.
macro_rules! execute_batch {
    ($this:expr, $sql:expr, $items:expr, |$item:pat_param| ($($arg:expr),* $(,)?)) => {{
        let device_id = $this.device_id;
        let retired = $this.gate.read().await;
        if *retired {
            Ok(())
        } else {
            $crate::store::on_pool!(&$this.pool, |p| async {
                let items = $items;
                // One row (the client's live messages come one at a
                // time) is one statement, atomic without a transaction:
                // SQLite's write lock is then held for that statement
                // alone, not across the round trips of BEGIN and COMMIT,
                // during which every other writer waits in its busy handler.
                if items.len() == 1 {
                    for $item in items {
                        sqlx::query($sql)
                            .bind(device_id)
                            $(.bind($arg))*
                            .execute(p)
                            .await?;
                    }
                    return Ok(());
                }
                let mut tx = p.begin().await?;
                for $item in items {
                    sqlx::query($sql)
                        .bind(device_id)
                        $(.bind($arg))*
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
            .await)
            .map_err($crate::store::device::db)
        }
    }};
}

/// Runs a lookup once per key on one connection and collects `$found(key, row)`
/// for the keys that have a row: the batch getters' shape, one connection for
/// the whole batch instead of one per key.
macro_rules! fetch_each {
    ($this:expr, $ty:ty, $sql:expr, $keys:expr, |$key:ident| ($($arg:expr),* $(,)?) => $found:expr) => {{
        let device_id = $this.device_id;
        $crate::store::on_pool!(&$this.pool, |p| async {
            let mut conn = p.acquire().await?;
            let mut out = Vec::new();
            for $key in $keys {
                let row: Option<$ty> = sqlx::query_as($sql)
                    .bind(device_id)
                    $(.bind($arg))*
                    .fetch_optional(&mut *conn)
                    .await?;
                if let Some(row) = row {
                    out.push(($found)($key, row));
                }
            }
            Ok::<_, sqlx::Error>(out)
        }
        .await)
        .map_err($crate::store::device::db)
    }};
}

pub(super) use {execute, execute_batch, fetch_all, fetch_each, fetch_optional};
