//! The records of sent messages (`sent_messages`), group-committed.
//!
//! Every message WhatsApp takes from this server is recorded before its send
//! answers, so that an action sent right after (react, edit, revoke, forward)
//! finds it by id. Sends come from many requests at once; written one by one,
//! that is a statement and a commit per send, and on the real engine it was
//! one of the few statements a send still cost (BENCHMARKS.md, "Fewer
//! statements per message").
//!
//! So the records go through one queue per store, drained by one task a round
//! at a time: the round's rows are one statement per [`ROWS_PER_STATEMENT`]
//! (one transaction when more), and each caller hears back once its row has
//! landed, as before.
//!
//! A record of an id already recorded keeps the first record's chat, kind
//! and time, and takes the newer content when it brings some: what the two
//! single-row statements did (`DO NOTHING`, and `DO UPDATE SET content`).
//! Repeats within one round are merged the same way first, because
//! PostgreSQL refuses to update one row twice in a statement.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::statements::{Params, execute_chunks};
use super::{Pool, Store, StoreError, on_pool};

/// Rows per statement: 6 parameters each, well under both engines' limits.
const ROWS_PER_STATEMENT: usize = 100;
/// Records waiting before a caller has to wait.
const QUEUE: usize = 4096;
/// Records taken from the queue at once.
const ROWS_PER_ROUND: usize = 256;

/// One record of a sent message.
struct SentRow {
    instance_id: String,
    message_id: String,
    chat: String,
    kind: String,
    sent_at: i64,
    /// What it said, when it is kept for forwarding.
    content: Option<String>,
}

type Landed = oneshot::Sender<Result<(), String>>;

/// Where records are queued; the task behind it starts with the first one
/// (in the caller's runtime) and ends when every clone of the store is gone.
#[derive(Clone, Debug, Default)]
pub(super) struct SentRecords {
    queue: Arc<OnceLock<mpsc::Sender<(SentRow, Landed)>>>,
}

impl Store {
    /// Records sent message `message_id` (see the module doc): what
    /// [`Store::record_sent`] and [`Store::record_sent_with_content`] write.
    pub(super) async fn put_sent_record(
        &self,
        instance_id: &str,
        message_id: &str,
        chat: &str,
        kind: &str,
        sent_at: i64,
        content: Option<&str>,
    ) -> Result<(), StoreError> {
        let row = SentRow {
            instance_id: instance_id.to_owned(),
            message_id: message_id.to_owned(),
            chat: chat.to_owned(),
            kind: kind.to_owned(),
            sent_at,
            content: content.map(str::to_owned),
        };
        self.sent_records.put(self.pool(), row).await
    }
}

impl SentRecords {
    /// Writes `row` with the records of other sends waiting beside it;
    /// returns once it has landed.
    async fn put(&self, pool: &Pool, row: SentRow) -> Result<(), StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(pool.clone(), rx));
            tx
        });
        let (done, landed) = oneshot::channel();
        queue.send((row, done)).await.map_err(|_| stopped())?;
        landed.await.map_err(|_| stopped())?.map_err(StoreError::Grouped)
    }
}

fn stopped() -> StoreError {
    StoreError::Grouped("the writer of sent messages' records has stopped".into())
}

async fn run(pool: Pool, mut queue: mpsc::Receiver<(SentRow, Landed)>) {
    let mut round = Vec::with_capacity(ROWS_PER_ROUND);
    while queue.recv_many(&mut round, ROWS_PER_ROUND).await > 0 {
        let (rows, waiting): (Vec<SentRow>, Vec<Landed>) = round.drain(..).unzip();
        let keys: Vec<Key> = rows.iter().map(SentRow::key).collect();
        let rows = merged(rows);
        let results: HashMap<Key, Result<(), String>> = match write(&pool, &rows).await {
            Ok(()) => rows.iter().map(|row| (row.key(), Ok(()))).collect(),
            // One row can fail the statement for all (its instance deleted
            // meanwhile): each is written alone, and fails alone.
            Err(_) if rows.len() > 1 => {
                let mut results = HashMap::with_capacity(rows.len());
                for row in &rows {
                    let written = write(&pool, std::slice::from_ref(row)).await;
                    results.insert(row.key(), written.map_err(|e| e.to_string()));
                }
                results
            }
            Err(e) => rows.iter().map(|row| (row.key(), Err(e.to_string()))).collect(),
        };
        for (key, done) in keys.iter().zip(waiting) {
            let result = results[key].clone();
            if let Err(e) = &result {
                tracing::warn!(instance = %key.0, message_id = %key.1, error = %e, "could not record a sent message");
            }
            let _ = done.send(result);
        }
    }
}

/// A record's key: `(instance_id, message_id)`.
type Key = (String, String);

impl SentRow {
    fn key(&self) -> Key {
        (self.instance_id.clone(), self.message_id.clone())
    }
}

/// One row per id: the first record's columns, the last content given.
fn merged(rows: Vec<SentRow>) -> Vec<SentRow> {
    let mut at: HashMap<Key, usize> = HashMap::with_capacity(rows.len());
    let mut out: Vec<SentRow> = Vec::with_capacity(rows.len());
    for row in rows {
        let key = row.key();
        match at.get(&key) {
            Some(&i) => {
                if row.content.is_some() {
                    out[i].content = row.content;
                }
            }
            None => {
                at.insert(key, out.len());
                out.push(row);
            }
        }
    }
    out
}

async fn write(pool: &Pool, rows: &[SentRow]) -> Result<(), sqlx::Error> {
    let params = Params::of(pool);
    let statements: Vec<String> = rows
        .chunks(ROWS_PER_STATEMENT)
        .map(|chunk| {
            format!(
                "INSERT INTO sent_messages (instance_id, message_id, chat, kind, sent_at, content) VALUES {} \
                 ON CONFLICT (instance_id, message_id) DO UPDATE SET content = excluded.content \
                 WHERE excluded.content IS NOT NULL",
                params.rows(chunk.len(), 6)
            )
        })
        .collect();
    on_pool!(pool, |p| execute_chunks(
        p,
        &statements,
        rows,
        ROWS_PER_STATEMENT,
        |mut query, chunk| {
            for row in chunk {
                query = query
                    .bind(&row.instance_id)
                    .bind(&row.message_id)
                    .bind(&row.chat)
                    .bind(&row.kind)
                    .bind(row.sent_at)
                    .bind(&row.content);
            }
            query
        }
    )
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, chat: &str, content: Option<&str>) -> SentRow {
        SentRow {
            instance_id: "i".into(),
            message_id: id.into(),
            chat: chat.into(),
            kind: "text".into(),
            sent_at: 1,
            content: content.map(str::to_owned),
        }
    }

    #[test]
    fn repeats_keep_the_first_record_and_the_last_content() {
        let rows = merged(vec![
            row("a", "first", None),
            row("b", "b", Some("b1")),
            row("a", "second", Some("a1")),
            row("a", "third", None),
            row("b", "b", Some("b2")),
        ]);
        let seen: Vec<(&str, &str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.message_id.as_str(), r.chat.as_str(), r.content.as_deref()))
            .collect();
        assert_eq!(seen, vec![("a", "first", Some("a1")), ("b", "b", Some("b2"))]);
    }
}
