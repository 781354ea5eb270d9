//! The delivery worker's memory: one lane per receiver URL, holding the rows
//! ready to be attempted and counting the attempts in flight.
//!
//! A lane runs at most `per_url` attempts at once (the configured
//! concurrency per receiver), and all lanes together
//! at most the worker's overall cap, handed out in turn so that a receiver
//! with a long queue cannot take every slot. Every row the lanes hold (ready
//! or in flight) is in `known`, so the same row read twice, once when it was
//! queued and once from the database, is only attempted once.
//!
//! The ready rows are bounded ([`READY_PER_URL`], [`READY_MAX`]): a row that
//! does not fit stays in the database only, and the worker reads it later.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::store::deliveries::DeliveryRow;

/// Ready rows kept in memory at most per receiver URL.
pub const READY_PER_URL: usize = 512;
/// Ready rows kept in memory at most, all receivers together.
pub const READY_MAX: usize = 8192;
/// Ids of finished rows remembered, so that a row just stored that the
/// worker had already read from the database, attempted and finished before
/// the inserter's hand-over arrived is not attempted again.
const RECENT: usize = 16_384;

#[derive(Default)]
struct Lane {
    in_flight: usize,
    ready: VecDeque<DeliveryRow>,
}

pub struct Lanes {
    /// Attempts in flight at most per receiver URL.
    per_url: usize,
    by_url: HashMap<String, Lane>,
    /// Ids of every row held, ready or in flight.
    known: HashSet<String>,
    ready: usize,
    in_flight: usize,
    /// Where the next hand-out starts, so lanes take turns.
    turn: usize,
    /// The last [`RECENT`] finished ids, oldest first, and as a set.
    recent: VecDeque<String>,
    recent_ids: HashSet<String>,
}

/// How a row offered to the lanes was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Queued to be attempted.
    Queued,
    /// Already held (ready or in flight): nothing to do.
    Known,
    /// No room: the row stays in the database for a later read.
    Full,
}

impl Lanes {
    pub fn new(per_url: usize) -> Lanes {
        Lanes {
            per_url: per_url.max(1),
            by_url: HashMap::new(),
            known: HashSet::new(),
            ready: 0,
            in_flight: 0,
            turn: 0,
            recent: VecDeque::new(),
            recent_ids: HashSet::new(),
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// `(in flight, ready)` of `url`'s lane.
    pub fn load(&self, url: &str) -> (usize, usize) {
        self.by_url
            .get(url)
            .map_or((0, 0), |lane| (lane.in_flight, lane.ready.len()))
    }

    /// Ready rows `url`'s lane could still take.
    pub fn room(&self, url: &str) -> usize {
        READY_PER_URL
            .saturating_sub(self.load(url).1)
            .min(READY_MAX - self.ready)
    }

    /// Offers `row` to its lane.
    pub fn admit(&mut self, row: DeliveryRow) -> Admission {
        if self.known.contains(&row.id) {
            return Admission::Known;
        }
        if self.room(&row.url) == 0 {
            return Admission::Full;
        }
        self.known.insert(row.id.clone());
        self.ready += 1;
        self.by_url.entry(row.url.clone()).or_default().ready.push_back(row);
        Admission::Queued
    }

    /// Offers a row the inserter has just stored: like [`Lanes::admit`], but
    /// a row that was finished meanwhile (read from the database before the
    /// hand-over arrived) counts as known.
    pub fn admit_fresh(&mut self, row: DeliveryRow) -> Admission {
        if self.recent_ids.contains(&row.id) {
            return Admission::Known;
        }
        self.admit(row)
    }

    /// Takes up to `max` ready rows whose lanes have a free slot, the lanes
    /// taking turns; each counts as in flight until [`Lanes::release`].
    pub fn take(&mut self, max: usize) -> Vec<DeliveryRow> {
        let mut taken = Vec::new();
        let mut urls: Vec<&String> = self
            .by_url
            .iter()
            .filter(|(_, lane)| !lane.ready.is_empty() && lane.in_flight < self.per_url)
            .map(|(url, _)| url)
            .collect();
        if urls.is_empty() || max == 0 {
            return taken;
        }
        // HashMap order is arbitrary but stable while nothing is inserted;
        // sorting makes the turns independent of it.
        urls.sort();
        let start = self.turn % urls.len();
        urls.rotate_left(start);
        let urls: Vec<String> = urls.into_iter().cloned().collect();
        self.turn = self.turn.wrapping_add(1);
        // Round by round, one row per lane, until the slots or the rows run out.
        let mut progress = true;
        while taken.len() < max && progress {
            progress = false;
            for url in &urls {
                if taken.len() >= max {
                    break;
                }
                let Some(lane) = self.by_url.get_mut(url) else { continue };
                if lane.in_flight >= self.per_url {
                    continue;
                }
                if let Some(row) = lane.ready.pop_front() {
                    lane.in_flight += 1;
                    self.ready -= 1;
                    self.in_flight += 1;
                    taken.push(row);
                    progress = true;
                }
            }
        }
        taken
    }

    /// Puts rows taken by [`Lanes::take`] back at the front of their lanes:
    /// their attempts could not start.
    pub fn put_back(&mut self, rows: Vec<DeliveryRow>) {
        for row in rows.into_iter().rev() {
            let lane = self.by_url.entry(row.url.clone()).or_default();
            lane.in_flight = lane.in_flight.saturating_sub(1);
            self.in_flight = self.in_flight.saturating_sub(1);
            self.ready += 1;
            lane.ready.push_front(row);
        }
    }

    /// The attempt of row `id` to `url` is over (and recorded): its slot is free.
    pub fn release(&mut self, id: &str, url: &str) {
        if !self.known.remove(id) {
            return;
        }
        if self.recent.len() >= RECENT
            && let Some(oldest) = self.recent.pop_front()
        {
            self.recent_ids.remove(&oldest);
        }
        self.recent.push_back(id.to_owned());
        self.recent_ids.insert(id.to_owned());
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(lane) = self.by_url.get_mut(url) {
            lane.in_flight = lane.in_flight.saturating_sub(1);
            if lane.in_flight == 0 && lane.ready.is_empty() {
                self.by_url.remove(url);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_URL: usize = 8;

    fn row(id: &str, url: &str) -> DeliveryRow {
        DeliveryRow {
            id: id.to_owned(),
            webhook_id: "w".to_owned(),
            instance_id: None,
            event_id: id.to_owned(),
            event_kind: "message".to_owned(),
            url: url.to_owned(),
            format: wasap_events::Format::Sudevwa.to_string(),
            content_type: "application/json".to_owned(),
            headers: "[]".to_owned(),
            payload: Vec::new(),
            status: "pending".to_owned(),
            attempts: 0,
            last_error: None,
            next_attempt_ms: 0,
            created_at: 0,
        }
    }

    #[test]
    fn a_row_is_held_once() {
        let mut lanes = Lanes::new(PER_URL);
        assert_eq!(lanes.admit(row("a", "u")), Admission::Queued);
        assert_eq!(lanes.admit(row("a", "u")), Admission::Known);
        let taken = lanes.take(10);
        assert_eq!(taken.len(), 1);
        assert_eq!(lanes.admit(row("a", "u")), Admission::Known, "in flight counts as held");
        lanes.release("a", "u");
        assert_eq!(lanes.in_flight(), 0);
        assert_eq!(
            lanes.admit(row("a", "u")),
            Admission::Queued,
            "a released row may come back (a retry)"
        );
    }

    #[test]
    fn a_lane_runs_at_most_its_share_and_lanes_take_turns() {
        let mut lanes = Lanes::new(PER_URL);
        for n in 0..20 {
            lanes.admit(row(&format!("slow{n}"), "slow"));
        }
        lanes.admit(row("fast", "fast"));
        let taken = lanes.take(100);
        assert_eq!(taken.iter().filter(|r| r.url == "slow").count(), PER_URL);
        assert!(taken.iter().any(|r| r.id == "fast"), "the other receiver gets a slot");
        assert!(lanes.take(100).is_empty(), "the slow lane is full");
        lanes.release(&taken[0].id, &taken[0].url);
        assert_eq!(lanes.take(100).len(), usize::from(taken[0].url == "slow"));
    }

    #[test]
    fn the_overall_cap_is_shared_in_turns() {
        let mut lanes = Lanes::new(PER_URL);
        for url in ["a", "b", "c"] {
            for n in 0..4 {
                lanes.admit(row(&format!("{url}{n}"), url));
            }
        }
        let taken = lanes.take(3);
        let mut urls: Vec<&str> = taken.iter().map(|r| r.url.as_str()).collect();
        urls.sort();
        assert_eq!(urls, ["a", "b", "c"], "one row per lane before any lane gets a second");
    }

    #[test]
    fn ready_rows_are_bounded_per_receiver() {
        let mut lanes = Lanes::new(PER_URL);
        for n in 0..READY_PER_URL {
            assert_eq!(lanes.admit(row(&n.to_string(), "u")), Admission::Queued);
        }
        assert_eq!(lanes.admit(row("one more", "u")), Admission::Full);
        assert_eq!(lanes.admit(row("elsewhere", "v")), Admission::Queued);
    }

    #[test]
    fn a_stored_row_that_already_finished_is_not_taken_again() {
        let mut lanes = Lanes::new(PER_URL);
        lanes.admit(row("a", "u"));
        let taken = lanes.take(1);
        lanes.release(&taken[0].id, "u");
        assert_eq!(
            lanes.admit_fresh(row("a", "u")),
            Admission::Known,
            "the hand-over came late"
        );
        assert_eq!(
            lanes.admit(row("a", "u")),
            Admission::Queued,
            "a retry read from the database is taken"
        );
    }

    #[test]
    fn rows_put_back_come_first_again() {
        let mut lanes = Lanes::new(PER_URL);
        lanes.admit(row("a", "u"));
        lanes.admit(row("b", "u"));
        let taken = lanes.take(10);
        assert_eq!(lanes.in_flight(), 2);
        lanes.put_back(taken);
        assert_eq!(lanes.in_flight(), 0);
        let ids: Vec<String> = lanes.take(10).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["a", "b"]);
    }
}
