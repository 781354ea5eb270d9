//! One instance's record of what WhatsApp took, in memory: the newest
//! records in the order they came, and their message ids counted, so that
//! "was this id taken?" (asked at every send: WhatsApp takes a repeated id
//! once) is a look-up instead of a scan of up to the whole record.

use std::collections::{HashMap, VecDeque};

use super::network::SentRecord;

#[derive(Default)]
pub(super) struct SentRecords {
    records: VecDeque<SentRecord>,
    /// How many records carry each message id (a chat state, say, may
    /// share one).
    ids: HashMap<String, usize>,
}

impl SentRecords {
    /// The records, oldest first.
    pub(super) fn new(records: VecDeque<SentRecord>) -> SentRecords {
        let mut ids: HashMap<String, usize> = HashMap::with_capacity(records.len());
        for record in &records {
            *ids.entry(record.message_id.clone()).or_default() += 1;
        }
        SentRecords { records, ids }
    }

    pub(super) fn has(&self, message_id: &str) -> bool {
        self.ids.contains_key(message_id)
    }

    /// Appends `record`, dropping the oldest when `capacity` are kept; the
    /// one dropped, to be freed by the caller (outside its lock).
    pub(super) fn push(&mut self, record: SentRecord, capacity: usize) -> Option<SentRecord> {
        let dropped = if self.records.len() >= capacity {
            self.records.pop_front()
        } else {
            None
        };
        if let Some(old) = &dropped
            && let Some(count) = self.ids.get_mut(&old.message_id)
        {
            *count -= 1;
            if *count == 0 {
                self.ids.remove(&old.message_id);
            }
        }
        *self.ids.entry(record.message_id.clone()).or_default() += 1;
        self.records.push_back(record);
        dropped
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &SentRecord> {
        self.records.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> SentRecord {
        SentRecord {
            message_id: id.to_owned(),
            ..SentRecord::default()
        }
    }

    #[test]
    fn an_id_is_known_while_a_record_of_it_is_kept() {
        let mut records = SentRecords::new(VecDeque::from([record("a"), record("b")]));
        assert!(records.has("a") && records.has("b") && !records.has("c"));
        // Two records of "b": dropping one keeps the id known.
        assert!(records.push(record("b"), 3).is_none());
        assert_eq!(records.push(record("c"), 3).map(|r| r.message_id).as_deref(), Some("a"));
        assert!(!records.has("a"));
        assert_eq!(records.push(record("d"), 3).map(|r| r.message_id).as_deref(), Some("b"));
        assert!(records.has("b"), "the second record of b is still kept");
        assert_eq!(records.push(record("e"), 3).map(|r| r.message_id).as_deref(), Some("b"));
        assert!(!records.has("b"));
        let kept: Vec<&str> = records.iter().map(|r| r.message_id.as_str()).collect();
        assert_eq!(kept, ["c", "d", "e"]);
    }
}
