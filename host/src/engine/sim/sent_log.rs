//! The simulated network's record of what WhatsApp took, kept in the database
//! so it outlives the server's process.
//!
//! WhatsApp lives outside a client: what it took stays taken when the client
//! crashes, and a message sent again with an id it already took (the send
//! queue's resend after a crash) is taken once. The simulated network lives
//! in wasap's process, so it writes each record to `sim_sent_messages` and
//! a send is answered only once its record is committed; at start the
//! network reads the records back. Writes are gathered, many per
//! transaction, by one task that ends with the last clone of the log.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::network::{SentRecord, SimError};
use crate::store::{Store, StoreError};

/// Records written at most per transaction.
const BATCH: usize = 256;
/// An instance's old records are pruned after this many new ones.
const PRUNE_EVERY: u64 = 1000;

/// One record to write, and who waits to hear it is committed.
struct Write {
    instance_id: String,
    message_id: String,
    json: String,
    done: Option<oneshot::Sender<Result<(), SimError>>>,
}

/// The durable side of the network's record. Cheap to clone.
#[derive(Clone)]
pub(super) struct SentLog {
    /// Unbounded, yet bounded by the sends in flight: a send waits for its
    /// record ([`Written::durable`]) before it is answered.
    writes: mpsc::UnboundedSender<Write>,
}

/// A record handed to the log: await [`Written::durable`] to know it is committed.
#[must_use = "a send is taken once its record is committed"]
pub(super) struct Written(Option<oneshot::Receiver<Result<(), SimError>>>);

impl Written {
    /// Nothing to wait for (a network without a database, a repeat).
    pub(super) fn nothing() -> Written {
        Written(None)
    }

    /// Waits until the record is committed.
    pub(super) async fn durable(self) -> Result<(), SimError> {
        match self.0 {
            None => Ok(()),
            Some(done) => done
                .await
                .unwrap_or_else(|_| Err(SimError::Store("the record of sent messages is closed".to_owned()))),
        }
    }
}

impl SentLog {
    /// Opens the log on `store`: the newest `capacity` records of every
    /// instance, oldest first (older ones are deleted), and the log that
    /// writes the new ones.
    pub(super) async fn open(
        store: Store,
        capacity: usize,
    ) -> Result<(SentLog, HashMap<String, VecDeque<SentRecord>>), StoreError> {
        let mut logs: HashMap<String, VecDeque<SentRecord>> = HashMap::new();
        for (instance_id, json) in store.sim_sent_all(capacity as i64).await? {
            // Through an owned value: a record's `&'static str` fields are
            // not borrowed from the row.
            let decoded = serde_json::from_str::<serde_json::Value>(&json).and_then(SentRecord::deserialize);
            match decoded {
                Ok(record) => logs.entry(instance_id).or_default().push_back(record),
                Err(e) => {
                    tracing::warn!(instance = %instance_id, error = %e, "a simulated sent record does not decode")
                }
            }
        }
        let (writes, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_all(store, rx, capacity as i64));
        Ok((SentLog { writes }, logs))
    }

    /// Hands `record` of `instance_id` to the writer.
    pub(super) fn write(&self, instance_id: &str, record: &SentRecord) -> Written {
        let json = match serde_json::to_string(record) {
            Ok(json) => json,
            Err(e) => {
                tracing::warn!(error = %e, "a simulated sent record does not encode");
                return Written::nothing();
            }
        };
        let (done, committed) = oneshot::channel();
        let write = Write {
            instance_id: instance_id.to_owned(),
            message_id: record.message_id.clone(),
            json,
            done: Some(done),
        };
        match self.writes.send(write) {
            Ok(()) => Written(Some(committed)),
            Err(_) => Written::nothing(),
        }
    }
}

/// The writer: commits what arrives, many records per transaction, and
/// prunes each instance's oldest records now and then.
async fn write_all(store: Store, mut rx: mpsc::UnboundedReceiver<Write>, keep: i64) {
    let mut since_prune: HashMap<String, u64> = HashMap::new();
    let mut batch: Vec<Write> = Vec::new();
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let rows: Vec<(&str, &str, &str)> = batch
            .iter()
            .map(|w| (w.instance_id.as_str(), w.message_id.as_str(), w.json.as_str()))
            .collect();
        let written = store.sim_sent_put(&rows).await;
        drop(rows);
        match written {
            Ok(()) => {
                for write in &mut batch {
                    finish(write, Ok(()));
                }
            }
            // An instance deleted meanwhile: the others' records go one by one.
            Err(StoreError::InstanceGone) => {
                for write in &mut batch {
                    let row = [(
                        write.instance_id.as_str(),
                        write.message_id.as_str(),
                        write.json.as_str(),
                    )];
                    let one = store.sim_sent_put(&row).await;
                    finish(write, one.map_err(|e| SimError::Store(e.to_string())));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the simulated network could not record sent messages");
                for write in &mut batch {
                    finish(write, Err(SimError::Store(e.to_string())));
                }
            }
        }
        for write in batch.drain(..) {
            let count = since_prune.entry(write.instance_id.clone()).or_default();
            *count += 1;
            if *count >= PRUNE_EVERY {
                *count = 0;
                if let Err(e) = store.sim_sent_prune(&write.instance_id, keep).await {
                    tracing::warn!(instance = %write.instance_id, error = %e, "old simulated sent records stay");
                }
            }
        }
        // An instance's counter goes with its last record: bounded by the
        // instances that still send.
        if since_prune.len() > 100_000 {
            since_prune.clear();
        }
    }
}

fn finish(write: &mut Write, result: Result<(), SimError>) {
    if let Some(done) = write.done.take() {
        let _ = done.send(result);
    }
}

/// Reads a `&'static str` field (a record's `kind`, a chat state): the few
/// values the engine writes, each kept once for the life of the process.
pub(super) fn static_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    Ok(intern(String::deserialize(d)?))
}

/// [`static_str`] for an optional field.
pub(super) fn static_str_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(intern))
}

/// Values of `&'static str` fields read back, at most (a corrupt table
/// cannot make the process keep more).
const MAX_INTERNED: usize = 256;

fn intern(text: String) -> &'static str {
    static KNOWN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut known = KNOWN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let known = known.get_or_insert_with(HashSet::new);
    if let Some(kept) = known.get(text.as_str()) {
        return kept;
    }
    if known.len() >= MAX_INTERNED {
        return "unknown";
    }
    let kept: &'static str = Box::leak(text.into_boxed_str());
    known.insert(kept);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_it_was_written() {
        let record = SentRecord {
            to: "6281234567890@s.whatsapp.net".to_owned(),
            at_ms: 1_700_000_000_123,
            message_id: "3EB0ABCDEF".to_owned(),
            kind: "chat_state",
            state: Some("typing"),
            mentions: Some(vec!["6289876543210@s.whatsapp.net".to_owned()]),
            ..SentRecord::default()
        };
        let json = serde_json::to_string(&record).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let back = SentRecord::deserialize(value).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert_eq!(back.kind, "chat_state");
        assert_eq!(back.state, Some("typing"));
    }
}
