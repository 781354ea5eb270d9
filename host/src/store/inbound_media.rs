//! The `inbound_media` table: for each journalled media message whose file is
//! not downloaded yet, the engine's ticket to fetch it (`MediaFetch::ticket`),
//! so a download cut short by a restart resumes from the journal. Written
//! with the journal entry, removed once the download is over (stored or
//! failed); deleting an instance deletes its rows.

use super::{Store, StoreError, on_pool};

impl Store {
    /// Keeps the tickets `(instance_id, event_id, ticket)`, replacing any of
    /// the same event (a redelivery), in one transaction.
    pub async fn inbound_media_put(&self, tickets: &[(&str, &str, &[u8])]) -> Result<(), StoreError> {
        if tickets.is_empty() {
            return Ok(());
        }
        on_pool!(self.pool(), |p| {
            let mut tx = p.begin().await?;
            for (instance_id, event_id, ticket) in tickets {
                sqlx::query(
                    "INSERT INTO inbound_media (instance_id, event_id, ticket) VALUES ($1, $2, $3) \
                     ON CONFLICT (instance_id, event_id) DO UPDATE SET ticket = excluded.ticket",
                )
                .bind(*instance_id)
                .bind(*event_id)
                .bind(*ticket)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })
        .map_err(StoreError::of_instance_write)
    }

    /// The ticket of `event_id`'s media, if it is still to be downloaded.
    pub async fn inbound_media_get(&self, instance_id: &str, event_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT ticket FROM inbound_media WHERE instance_id = $1 AND event_id = $2"
        )
        .bind(instance_id)
        .bind(event_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(ticket,)| ticket))
    }

    /// The download of `event_id`'s media is over.
    pub async fn inbound_media_remove(&self, instance_id: &str, event_id: &str) -> Result<(), StoreError> {
        on_pool!(self.relaxed_pool(), |p| sqlx::query(
            "DELETE FROM inbound_media WHERE instance_id = $1 AND event_id = $2"
        )
        .bind(instance_id)
        .bind(event_id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
