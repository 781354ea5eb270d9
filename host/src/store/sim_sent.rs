//! The `sim_sent_messages` table: the simulated network's record of what
//! WhatsApp took from each instance (`--engine sim`), as JSON, so it outlives
//! the server's process. This module only reads and writes rows; what a
//! record holds and how many are kept is the simulated engine's business
//! (`engine/sim/sent_log.rs`).

use super::{Store, StoreError, on_pool};

impl Store {
    /// Appends the records `(instance_id, message_id, record)`, in order, in
    /// one transaction. [`StoreError::InstanceGone`] when one names an
    /// instance that was deleted meanwhile (nothing is written then).
    ///
    /// Through the relaxed pool on PostgreSQL: the record stands for
    /// WhatsApp's side, which outlives a crash of wasap (the commit is
    /// visible and kept by the database server at once), and nothing tests a
    /// crash of the database server under it; waiting for its WAL flush
    /// would only slow the simulated network down.
    pub async fn sim_sent_put(&self, rows: &[(&str, &str, &str)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        on_pool!(self.relaxed_pool(), |p| {
            let mut tx = p.begin().await?;
            for (instance_id, message_id, record) in rows {
                sqlx::query("INSERT INTO sim_sent_messages (instance_id, message_id, record) VALUES ($1, $2, $3)")
                    .bind(*instance_id)
                    .bind(*message_id)
                    .bind(*record)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
        .map_err(StoreError::of_instance_write)
    }

    /// Every instance's records, `(instance_id, record)`, oldest first, after
    /// deleting all but the newest `keep` of each instance.
    pub async fn sim_sent_all(&self, keep: i64) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(self.pool(), |p| sqlx::query(
            "DELETE FROM sim_sent_messages WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
             (PARTITION BY instance_id ORDER BY id DESC) AS newer FROM sim_sent_messages) ranked WHERE newer > $1)"
        )
        .bind(keep)
        .execute(p)
        .await
        .map(|_| ()))?;
        let rows: Vec<(String, String)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT instance_id, record FROM sim_sent_messages ORDER BY id"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows)
    }

    /// Deletes all but the newest `keep` records of the instance; how many.
    pub async fn sim_sent_prune(&self, instance_id: &str, keep: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query(
            "DELETE FROM sim_sent_messages WHERE instance_id = $1 AND id <= (SELECT id FROM sim_sent_messages \
             WHERE instance_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)"
        )
        .bind(instance_id)
        .bind(keep)
        .execute(p)
        .await
        .map(|d| d.rows_affected()))?)
    }
}
