//! The delivery worker's statements on the `webhook_deliveries` outbox, made
//! for throughput: every write takes a batch of rows in one transaction, and
//! due rows are claimed one receiver URL at a time through the
//! `(status, url, next_attempt_ms)` index.
//!
//! Batches matter most on SQLite, where every statement is a hop to the
//! connection's thread and every commit a WAL write: one transaction for a
//! hundred rows costs little more than one for a single row.
//!
//! On PostgreSQL the worker's bookkeeping (attempt counts and results) goes
//! through the store's relaxed pool, whose commits do not wait for the WAL
//! flush. Losing the last of these writes in a crash of the database server
//! costs a repeated attempt (the receiver sees the same `X-Wasap-Event-Id`
//! again, which at-least-once delivery allows) or a repeated attempt number,
//! never a delivery: the outbox rows themselves are inserted through the main
//! pool, with the server's full durability.

use std::collections::BTreeMap;

use super::deliveries::{AttemptResult, COLUMNS, DeliveryRow, DeliveryStatus, NewDelivery};
use super::statements::{Params, padded};
use super::{Store, StoreError, on_pool};
use crate::clock::{now_ms, now_secs};

/// Longest error text kept per delivery.
const MAX_ERROR_CHARS: usize = 500;
/// Rows per multi-row `INSERT` (13 parameters each, far below either
/// engine's parameter limit).
const INSERT_CHUNK: usize = 200;
/// Ids per `IN (...)` list.
const ID_CHUNK: usize = 500;

/// Runs `$query.$method` in transaction `$tx` when there is one, else
/// straight on pool `$p`: a single statement needs no transaction, and
/// leaving it out saves two round trips to PostgreSQL (BEGIN, COMMIT).
macro_rules! in_tx_or_pool {
    ($tx:ident, $p:ident, $query:ident . $method:ident) => {
        match $tx.as_mut() {
            Some(tx) => $query.$method(&mut **tx).await,
            None => $query.$method($p).await,
        }
    };
}

/// Runs the statements of [`by_number_updates`] with their parameters:
/// the attempt number, `$now`, then the ids.
macro_rules! run_by_number {
    ($tx:ident, $p:ident, $updates:expr, $now:expr) => {
        for (sql, number, ids) in &$updates {
            let mut query = sqlx::query(sql).bind(*number).bind($now);
            for id in ids {
                query = query.bind(*id);
            }
            in_tx_or_pool!($tx, $p, query.execute)?;
        }
    };
}

/// `UPDATE ... SET {set}attempts = $1, updated_at = $2 WHERE id IN (...)`
/// for each attempt number's ids, [`ID_CHUNK`] ids per statement: the
/// statements, each with its number and ids (padded with repeats of the
/// last id, `padded`).
fn by_number_updates<'a>(
    params: Params,
    set: &str,
    groups: &'a BTreeMap<i64, Vec<&'a str>>,
) -> Vec<(String, i64, Vec<&'a str>)> {
    let mut updates = Vec::new();
    for (number, ids) in groups {
        for chunk in ids.chunks(ID_CHUNK) {
            let (count, padded_ids) = padded(chunk, ID_CHUNK);
            let sql = format!(
                "UPDATE webhook_deliveries SET {set}attempts = {}, updated_at = {} WHERE id IN ({})",
                params.list(1, 1),
                params.list(2, 1),
                params.list(3, count)
            );
            updates.push((sql, *number, padded_ids.copied().collect()));
        }
    }
    updates
}

/// Commits `tx` if there is one.
async fn commit<DB: sqlx::Database>(tx: Option<sqlx::Transaction<'_, DB>>) -> Result<(), sqlx::Error> {
    match tx {
        Some(tx) => tx.commit().await,
        None => Ok(()),
    }
}

impl Store {
    /// Queues `delivery`, due now; `false` when this receiver already has
    /// this event (queued, delivered or failed).
    pub async fn enqueue_delivery(&self, delivery: &NewDelivery) -> Result<bool, StoreError> {
        Ok(!self
            .enqueue_deliveries(std::slice::from_ref(delivery))
            .await?
            .is_empty())
    }

    /// Queues every delivery of `deliveries`, due now, in one transaction;
    /// the ids of those that were new (a receiver that already has the
    /// event keeps its row, queued, delivered or failed).
    pub async fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<Vec<String>, StoreError> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_secs();
        let now_ms = now_ms();
        let headers: Vec<String> = deliveries
            .iter()
            .map(|d| serde_json::to_string(&d.headers).unwrap_or_else(|_| "[]".to_owned()))
            .collect();
        let single = deliveries.len() <= INSERT_CHUNK;
        let params = Params::of(self.pool());
        let inserted = on_pool!(self.pool(), |p| {
            let mut tx = if single { None } else { Some(p.begin().await?) };
            let mut inserted: Vec<String> = Vec::with_capacity(deliveries.len());
            for (chunk, headers) in deliveries.chunks(INSERT_CHUNK).zip(headers.chunks(INSERT_CHUNK)) {
                // Padded with repeats of the last row under ids of their own
                // (so the only constraint they meet is the conflict clause's,
                // which skips them): `padded`.
                let (rows, padded_deliveries) = padded(chunk, INSERT_CHUNK);
                let (_, padded_headers) = padded(headers, INSERT_CHUNK);
                let padding_ids: Vec<String> = (chunk.len()..rows)
                    .map(|n| format!("{}:padding-{n}", chunk[chunk.len() - 1].id))
                    .collect();
                let ids = chunk.iter().map(|d| &d.id).chain(&padding_ids);
                let values: Vec<String> = (0..rows)
                    .map(|i| format!("({}, 'pending', 0)", params.list(i * 13 + 1, 13)))
                    .collect();
                let sql = format!(
                    "INSERT INTO webhook_deliveries (id, webhook_id, instance_id, event_id, event_kind, url, format, \
                     content_type, headers, payload, next_attempt_ms, created_at, updated_at, status, attempts) \
                     VALUES {} ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id",
                    values.join(", ")
                );
                let mut query = sqlx::query_as::<_, (String,)>(&sql);
                for (id, (delivery, headers)) in ids.zip(padded_deliveries.zip(padded_headers)) {
                    query = query
                        .bind(id)
                        .bind(&delivery.webhook_id)
                        .bind(delivery.instance_id.as_deref())
                        .bind(&delivery.event_id)
                        .bind(&delivery.event_kind)
                        .bind(&delivery.url)
                        .bind(&delivery.format)
                        .bind(&delivery.content_type)
                        .bind(headers)
                        .bind(&delivery.payload)
                        .bind(now_ms)
                        .bind(now)
                        .bind(now);
                }
                let rows = in_tx_or_pool!(tx, p, query.fetch_all)?;
                inserted.extend(rows.into_iter().map(|(id,)| id));
            }
            commit(tx).await?;
            Ok::<_, sqlx::Error>(inserted)
        })?;
        Ok(inserted)
    }

    /// Up to `limit` receiver URLs (after `after`, in order) that have
    /// pending deliveries due at `now_ms`.
    pub async fn due_delivery_urls(
        &self,
        now_ms: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT DISTINCT url FROM webhook_deliveries \
             WHERE status = 'pending' AND next_attempt_ms <= $1 AND ($2 IS NULL OR url > $2) \
             ORDER BY url LIMIT $3"
        )
        .bind(now_ms)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(url,)| url).collect())
    }

    /// Up to `limit` pending deliveries to `url` due at `now_ms`, the
    /// longest-waiting first.
    pub async fn due_deliveries_to(&self, url: &str, now_ms: i64, limit: u32) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = on_pool!(self.pool(), |p| sqlx::query_as::<_, DeliveryRow>(&format!(
            "SELECT {COLUMNS} FROM webhook_deliveries \
             WHERE status = 'pending' AND url = $1 AND next_attempt_ms <= $2 \
             ORDER BY next_attempt_ms, id LIMIT $3"
        ))
        .bind(url)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        Ok(rows)
    }

    /// When the first pending delivery not yet due at `now_ms` is due, if any.
    pub async fn next_delivery_due_after(&self, now_ms: i64) -> Result<Option<i64>, StoreError> {
        let (due,): (Option<i64>,) = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT MIN(next_attempt_ms) FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_ms > $1"
        )
        .bind(now_ms)
        .fetch_one(p)
        .await)?;
        Ok(due)
    }

    /// Counts attempt number `number` of each delivery before it is made, so
    /// an attempt cut short by a crash still counts: a delivery cannot be
    /// retried without bound, and the next attempt carries the next number.
    pub async fn start_attempts(&self, attempts: &[(String, i64)]) -> Result<(), StoreError> {
        let mut by_number: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for (id, number) in attempts {
            by_number.entry(*number).or_default().push(id);
        }
        if attempts.is_empty() {
            return Ok(());
        }
        let now = now_secs();
        let updates = by_number_updates(Params::of(self.relaxed_pool()), "", &by_number);
        let single = updates.len() == 1;
        on_pool!(self.relaxed_pool(), |p| {
            let mut tx = if single { None } else { Some(p.begin().await?) };
            run_by_number!(tx, p, updates, now);
            commit(tx).await
        })?;
        Ok(())
    }

    /// Records the result of attempt number `attempts` of delivery `id`.
    pub async fn record_attempt(&self, id: &str, attempts: i64, result: &AttemptResult) -> Result<(), StoreError> {
        self.record_attempts(&[(id.to_owned(), attempts, result.clone())]).await
    }

    /// Records the results of attempts, each `(delivery id, attempt number,
    /// result)`, in one transaction: the deliveries that succeeded (the
    /// usual case) in one statement per attempt number, the others one by one.
    pub async fn record_attempts(&self, results: &[(String, i64, AttemptResult)]) -> Result<(), StoreError> {
        let mut delivered: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        let mut others = Vec::new();
        for (id, number, result) in results {
            match result {
                AttemptResult::Delivered => delivered.entry(*number).or_default().push(id),
                AttemptResult::Retry { error, next_attempt_ms } => others.push((
                    id,
                    *number,
                    DeliveryStatus::Pending,
                    bounded(error),
                    Some(*next_attempt_ms),
                )),
                AttemptResult::Failed { error } => {
                    others.push((id, *number, DeliveryStatus::Failed, bounded(error), None))
                }
            }
        }
        let now = now_secs();
        let updates = by_number_updates(Params::of(self.relaxed_pool()), "status = 'delivered', ", &delivered);
        let statements = updates.len() + others.len();
        if statements == 0 {
            return Ok(());
        }
        on_pool!(self.relaxed_pool(), |p| {
            let mut tx = if statements == 1 { None } else { Some(p.begin().await?) };
            run_by_number!(tx, p, updates, now);
            for (id, number, status, error, next) in &others {
                let query = sqlx::query(
                    "UPDATE webhook_deliveries SET status = $2, attempts = $3, last_error = $4, \
                     next_attempt_ms = COALESCE($5, next_attempt_ms), updated_at = $6 WHERE id = $1",
                )
                .bind(*id)
                .bind(status.as_str())
                .bind(*number)
                .bind(error)
                .bind(*next)
                .bind(now);
                in_tx_or_pool!(tx, p, query.execute)?;
            }
            commit(tx).await
        })?;
        Ok(())
    }
}

fn bounded(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}
