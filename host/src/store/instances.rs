//! The `instances` table: one row per managed WhatsApp number.

use std::collections::BTreeMap;

use super::{Store, StoreError, on_pool};

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
}
