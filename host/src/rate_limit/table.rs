//! The buckets of the clients seen lately, in bounded memory.
//!
//! Two generations: a client's bucket is looked up in the current one, then
//! in the previous one (and moved to the current); a new client gets a full
//! bucket. The current generation becomes the previous one, and the previous
//! one is dropped whole, when it holds half the cap or when it is older than
//! the idle time (at least the time an emptied bucket takes to refill). So
//! the table never holds more than the cap, in O(1) per request; a bucket
//! dropped after an idle spell was full again anyway (nothing is lost); only
//! a flood of new clients that fills the cap may drop a bucket early, and
//! then only one not used for a whole generation. The clients in use are
//! always in the current generation and keep their state.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::bucket::{Bucket, Rate};

/// The buckets of at most `cap` clients.
#[derive(Debug)]
pub struct Table<K> {
    rate: Rate,
    cap: usize,
    idle: Duration,
    current: HashMap<K, Bucket>,
    previous: HashMap<K, Bucket>,
    started: Instant,
}

impl<K: Hash + Eq + Copy> Table<K> {
    /// A table of at most `cap` (≥ 2) buckets, which forgets a client after
    /// `idle` (raised to the refill time) without requests.
    pub fn new(rate: Rate, cap: usize, idle: Duration, now: Instant) -> Table<K> {
        Table {
            rate,
            cap: cap.max(2),
            idle: idle.max(rate.refill_time()),
            current: HashMap::new(),
            previous: HashMap::new(),
            started: now,
        }
    }

    /// Takes a token from `client`'s bucket; when there is none, how long
    /// until there is one.
    pub fn take(&mut self, client: K, now: Instant) -> Result<(), Duration> {
        self.age(now);
        let rate = self.rate;
        let bucket = match self.current.get_mut(&client) {
            Some(bucket) => bucket,
            None => {
                let bucket = self
                    .previous
                    .remove(&client)
                    .unwrap_or_else(|| Bucket::full(&rate, now));
                self.current.entry(client).or_insert(bucket)
            }
        };
        bucket.take(&rate, now)
    }

    /// The clients held now, both generations.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Starts a new generation when the current one is full or old.
    fn age(&mut self, now: Instant) {
        let full = self.current.len() >= self.cap / 2;
        let old = now.saturating_duration_since(self.started) >= self.idle;
        if full || old {
            self.previous = std::mem::take(&mut self.current);
            self.started = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_second: 1.0,
        burst: 2.0,
    };

    #[test]
    fn clients_have_buckets_of_their_own() {
        let now = Instant::now();
        let mut table = Table::new(RATE, 100, Duration::from_secs(60), now);
        assert_eq!(table.take(1, now), Ok(()));
        assert_eq!(table.take(1, now), Ok(()));
        assert_eq!(table.take(1, now), Err(Duration::from_secs(1)));
        assert_eq!(table.take(2, now), Ok(()));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn idle_clients_are_forgotten_after_two_idle_times() {
        let start = Instant::now();
        let idle = Duration::from_secs(10);
        let mut table = Table::new(RATE, 100, idle, start);
        for client in 0..5 {
            table.take(client, start).unwrap();
        }
        // Client 0 keeps coming; the others go quiet.
        table.take(0, start + idle).unwrap();
        assert_eq!(table.len(), 5);
        table.take(0, start + idle * 2).unwrap();
        assert_eq!(table.len(), 1);
        // A forgotten client starts again with a full bucket, as it would have by now.
        table.take(3, start + idle * 2).unwrap();
        table.take(3, start + idle * 2).unwrap();
        assert!(table.take(3, start + idle * 2).is_err());
    }

    #[test]
    fn the_idle_time_is_at_least_the_refill_time() {
        let start = Instant::now();
        let mut table = Table::new(RATE, 100, Duration::from_millis(1), start);
        table.take(7, start).unwrap();
        table.take(7, start).unwrap();
        // Half a second later the bucket still lacks half a token: kept, not reset to full.
        let later = start + Duration::from_millis(500);
        table.take(8, later).unwrap();
        table.take(9, later + Duration::from_millis(1)).unwrap();
        let wait = table.take(7, later + Duration::from_millis(2)).unwrap_err();
        assert!(
            wait.abs_diff(Duration::from_millis(498)) < Duration::from_micros(1),
            "{wait:?}"
        );
    }

    #[test]
    fn a_flood_of_new_clients_never_holds_more_than_the_cap_and_the_busy_one_keeps_its_state() {
        let now = Instant::now();
        let cap = 64;
        let mut table = Table::new(RATE, cap, Duration::from_secs(3600), now);
        table.take(u32::MAX, now).unwrap();
        table.take(u32::MAX, now).unwrap();
        for client in 0..10_000u32 {
            assert_eq!(table.take(client, now), Ok(()));
            assert!(table.len() <= cap, "{} buckets held", table.len());
            if client % 16 == 0 {
                // The busy client is still empty: its bucket was not dropped.
                assert!(table.take(u32::MAX, now).is_err());
            }
        }
    }
}
