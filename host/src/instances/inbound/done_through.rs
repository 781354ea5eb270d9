//! How far each instance's journal is done: the watermark below which every
//! entry has been handled, worked out from what was published and what was
//! handled since.
//!
//! The stage publishes an instance's entries in journal order, each entry
//! after every earlier one (`stage.rs`), starting at the first entry above
//! the instance's stored watermark. So an entry published is one whose
//! earlier entries were all published too, by the same run of the pipeline,
//! or are at or below the stored watermark. Of those, the ones not handled yet are "in the chain";
//! everything below the lowest of them is handled, and when none is in the
//! chain, everything up to the last one published is. The plugin host may
//! report handled events in any order (a chain switched off meanwhile hands
//! the next events on at once): the watermark waits for the lowest.
//!
//! Each run of an instance's pipeline (its start, and each restart after a
//! panic) publishes from the stored watermark on, so what a run publishes is
//! complete on its own: a newer run's first entry starts the instance's
//! record afresh, and an older run (still emptying its queue) no longer
//! counts. An entry published again is in the chain until it is handled
//! again; a report for an entry not in the chain (handled twice, or
//! published only by an older run) moves nothing. A run's record lasts until
//! the run has ended and the chain has handled what it published: one small
//! record per running instance, and a set no larger than what is in flight.

use std::collections::{BTreeSet, HashMap};

/// Published and handled entries, per instance, and the watermarks not
/// written yet.
#[derive(Debug, Default)]
pub(super) struct DoneThrough {
    instances: HashMap<String, Published>,
    /// Per instance, the watermark to write and the events it newly covers.
    to_write: HashMap<String, Unwritten>,
}

#[derive(Debug, Default)]
struct Published {
    /// The pipeline run that published these (runs are numbered in the order they start).
    run: u64,
    /// Published and not handled, by seq.
    in_chain: BTreeSet<i64>,
    /// The highest seq published.
    last: i64,
    /// The highest watermark handed out for writing.
    marked: i64,
    /// Events handled that the watermark has not reached yet.
    unmarked: u64,
    /// The run has ended: the record goes once nothing of it is in the chain.
    ended: bool,
}

/// A watermark to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unwritten {
    pub(super) through: i64,
    /// Events handled that it marks done (for the `done` counter).
    pub(super) events: u64,
}

impl DoneThrough {
    /// `seq` of `instance_id` is about to be published by pipeline `run`.
    pub(super) fn published(&mut self, instance_id: &str, run: u64, seq: i64) {
        // Looked up before `entry`, which would allocate the key every time.
        let published = match self.instances.get_mut(instance_id) {
            Some(published) => published,
            // Run 0 is never started: the first run's entry resets it below.
            None => self.instances.entry(instance_id.to_owned()).or_default(),
        };
        if run < published.run {
            return;
        }
        if run > published.run {
            *published = Published {
                run,
                ..Published::default()
            };
        }
        published.in_chain.insert(seq);
        published.last = published.last.max(seq);
    }

    /// `seqs` of `instance_id` are handled. The instance's watermark moves
    /// up if the lowest entries in the chain were among them.
    pub(super) fn handled(&mut self, instance_id: &str, seqs: &[i64]) {
        let Some(published) = self.instances.get_mut(instance_id) else {
            return;
        };
        published.unmarked += seqs.iter().filter(|seq| published.in_chain.remove(seq)).count() as u64;
        let through = match published.in_chain.first() {
            Some(lowest) => lowest - 1,
            None => published.last,
        };
        if through > published.marked {
            published.marked = through;
            let unwritten = self
                .to_write
                .entry(instance_id.to_owned())
                .or_insert(Unwritten { through, events: 0 });
            unwritten.through = unwritten.through.max(through);
            unwritten.events += std::mem::take(&mut published.unmarked);
        }
        if published.ended && published.in_chain.is_empty() {
            self.instances.remove(instance_id);
        }
    }

    /// The watermarks to write now (only those that moved), taken.
    pub(super) fn take(&mut self) -> Vec<(String, Unwritten)> {
        let mut marks: Vec<(String, Unwritten)> = self.to_write.drain().collect();
        marks.sort_by(|a, b| a.0.cmp(&b.0));
        marks
    }

    /// Pipeline `run` of `instance_id` has ended (the instance was deleted,
    /// or the server is stopping): its record goes once the chain has handled
    /// what it published, which still moves the watermark meanwhile.
    pub(super) fn ended(&mut self, instance_id: &str, run: u64) {
        let Some(published) = self.instances.get_mut(instance_id) else {
            return;
        };
        if published.run != run {
            return;
        }
        if published.in_chain.is_empty() {
            self.instances.remove(instance_id);
        } else {
            published.ended = true;
        }
    }

    /// Instances with a record (for the tests of its bound).
    #[cfg(test)]
    fn recorded(&self) -> usize {
        self.instances.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run of most tests: a pipeline's first.
    const RUN: u64 = 1;

    fn marks(done: &mut DoneThrough) -> Vec<(String, i64)> {
        done.take().into_iter().map(|(id, u)| (id, u.through)).collect()
    }

    fn publish(done: &mut DoneThrough, instance: &str, seqs: &[i64]) {
        for seq in seqs {
            done.published(instance, RUN, *seq);
        }
    }

    #[test]
    fn the_watermark_waits_for_the_lowest_entry_in_the_chain() {
        let mut done = DoneThrough::default();
        publish(&mut done, "a", &[3, 5, 8]);
        done.handled("a", &[5, 8]);
        assert_eq!(
            marks(&mut done),
            [("a".to_owned(), 2)],
            "3 is not handled: nothing above 2 is done (what is below 3 was done before)"
        );
        done.handled("a", &[3]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 8)]);
    }

    #[test]
    fn a_partly_handled_chain_marks_up_to_its_first_gap() {
        let mut done = DoneThrough::default();
        publish(&mut done, "a", &[10, 11, 12, 20]);
        publish(&mut done, "b", &[13]);
        done.handled("a", &[10, 11]);
        done.handled("b", &[13]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 11), ("b".to_owned(), 13)]);
        // Entries of other instances between 12 and 20 are not a's business.
        done.handled("a", &[12]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 19)]);
        assert_eq!(marks(&mut done), [], "taken once");
        done.handled("a", &[20]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 20)]);
    }

    #[test]
    fn an_entry_published_again_holds_the_watermark_until_handled_again() {
        let mut done = DoneThrough::default();
        publish(&mut done, "a", &[1, 2, 3]);
        done.handled("a", &[1]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 1)]);
        // Published again while still in the chain.
        publish(&mut done, "a", &[2, 3]);
        done.handled("a", &[2]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 2)]);
        done.handled("a", &[2, 3]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 3)]);
        done.handled("a", &[3]);
        assert_eq!(
            marks(&mut done),
            [],
            "a report for what is not in the chain moves nothing"
        );
    }

    #[test]
    fn the_watermark_never_moves_down() {
        let mut done = DoneThrough::default();
        publish(&mut done, "a", &[7, 9]);
        done.handled("a", &[7, 9]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 9)]);
        publish(&mut done, "a", &[9, 12]);
        done.handled("a", &[12]);
        assert_eq!(marks(&mut done), [], "9 is in the chain again; nothing new is done");
        done.handled("a", &[9]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 12)]);
    }

    #[test]
    fn a_newer_run_starts_afresh_and_an_older_one_no_longer_counts() {
        let mut done = DoneThrough::default();
        // Run 1 has 4, 5 and 6 in the chain when it panics.
        publish(&mut done, "a", &[4, 5, 6]);
        // Run 2 replays from the stored watermark (3): 4, 5, 6, then 7.
        for seq in [4, 5] {
            done.published("a", 2, seq);
        }
        // Run 1, still emptying its queue, publishes 9: not run 2's business
        // (run 2 publishes it itself, in order, after 6 and 7).
        done.published("a", RUN, 9);
        done.handled("a", &[4, 5, 6]);
        assert_eq!(
            marks(&mut done),
            [("a".to_owned(), 5)],
            "run 2 has published up to 5; 6 is handled, but run 2 has not published 6 yet"
        );
        done.handled("a", &[9]);
        assert_eq!(marks(&mut done), [], "9 was published by run 1 only");
        for seq in [6, 7] {
            done.published("a", 2, seq);
        }
        done.handled("a", &[6, 7]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 7)]);
    }

    #[test]
    fn an_ended_run_is_kept_until_the_chain_has_handled_it() {
        let mut done = DoneThrough::default();
        done.published("a", 2, 4);
        done.ended("a", RUN);
        done.handled("a", &[4]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 4)], "run 1's end is not run 2's");
        done.published("a", 2, 6);
        done.published("a", 2, 7);
        done.ended("a", 2);
        assert_eq!(done.recorded(), 1, "6 and 7 are still in the chain");
        done.handled("a", &[6]);
        assert_eq!(
            marks(&mut done),
            [("a".to_owned(), 6)],
            "what the chain handles after the end counts"
        );
        done.handled("a", &[7]);
        assert_eq!(marks(&mut done), [("a".to_owned(), 7)]);
        assert_eq!(done.recorded(), 0, "nothing of an ended run left: its record is gone");
        done.published("b", 3, 1);
        done.handled("b", &[1]);
        done.ended("b", 3);
        assert_eq!(done.recorded(), 0);
    }

    #[test]
    fn counts_the_events_each_mark_covers() {
        let mut done = DoneThrough::default();
        publish(&mut done, "a", &[1, 2, 3]);
        done.handled("a", &[2, 3]);
        done.handled("a", &[1]);
        let taken = done.take();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].1, Unwritten { through: 3, events: 3 });
    }
}
