//! Many per-address Signal records (sessions, identities, sender keys) written
//! in one statement.
//!
//! whatsapp-rust flushes its Signal cache as batches: every session a window
//! of sends or receipts touched (one per contact, and per own device), each
//! an upsert of `(device_id, address) → blob`. A statement per row costs a
//! hand-off to the database driver and back per row; a multi-row upsert costs
//! one per [`ROWS_PER_STATEMENT`] rows, and the batch still lands whole.

use whatsapp_rust::wacore::store::error::Result;

use super::{DeviceBackend, db};
use crate::store::on_pool;
use crate::store::statements::{Params, execute_chunks, last_of_each_key};

/// Rows per statement: 2 parameters each, under both engines' limits.
const ROWS_PER_STATEMENT: usize = 200;

/// A table of per-address records: its name and the column of the blob.
#[derive(Clone, Copy)]
pub(super) struct AddressTable {
    pub(super) table: &'static str,
    pub(super) column: &'static str,
}

pub(super) const SESSIONS: AddressTable = AddressTable {
    table: "wa_sessions",
    column: "record",
};
pub(super) const IDENTITIES: AddressTable = AddressTable {
    table: "wa_identities",
    column: "key",
};
pub(super) const SENDER_KEYS: AddressTable = AddressTable {
    table: "wa_sender_keys",
    column: "record",
};

impl DeviceBackend {
    /// Upserts `rows` (`address`, blob) into `table`, the last of a repeated
    /// address winning (PostgreSQL refuses to update one row twice in a
    /// statement), in one transaction when they take more than one statement.
    pub(super) async fn put_address_records(&self, table: AddressTable, rows: &[(&str, &[u8])]) -> Result<()> {
        let retired = self.gate.read().await;
        if *retired || rows.is_empty() {
            return Ok(());
        }
        let rows = last_of_each_key(rows, |(address, _)| *address);
        let AddressTable { table, column } = table;
        let params = Params::of(&self.pool);
        let statements: Vec<String> = rows
            .chunks(ROWS_PER_STATEMENT)
            .map(|chunk| {
                format!(
                    "INSERT INTO {table} (device_id, address, {column}) VALUES {} \
                     ON CONFLICT (device_id, address) DO UPDATE SET {column} = excluded.{column}",
                    params.rows(chunk.len(), 3)
                )
            })
            .collect();
        on_pool!(&self.pool, |p| execute_chunks(
            p,
            &statements,
            &rows,
            ROWS_PER_STATEMENT,
            |mut query, chunk| {
                for (address, blob) in chunk.iter().copied() {
                    query = query.bind(self.device_id).bind(*address).bind(*blob);
                }
                query
            }
        )
        .await)
        .map_err(db)
    }
}
