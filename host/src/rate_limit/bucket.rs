//! One client's token bucket: the arithmetic of the API rate limit.
//!
//! A bucket holds at most `burst` tokens and gains `per_second` of them each
//! second; a request takes one. Time comes in as an argument, so the
//! arithmetic is tested with made-up instants rather than sleeps.

use std::time::{Duration, Instant};

/// How fast buckets refill and how much they hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens gained per second (> 0).
    pub per_second: f64,
    /// Tokens held at most (≥ 1): the requests a rested client may make at once.
    pub burst: f64,
}

impl Rate {
    /// How long an emptied bucket takes to fill up again: a bucket left alone
    /// that long is full, the same as a new one, so forgetting it loses nothing.
    pub fn refill_time(&self) -> Duration {
        Duration::from_secs_f64(self.burst / self.per_second)
    }
}

/// One client's tokens, as of `at`.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A bucket of a client not seen before: full.
    pub fn full(rate: &Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.burst,
            at: now,
        }
    }

    /// Takes one token for a request at `now`; when there is none, how long
    /// until there is one.
    pub fn take(&mut self, rate: &Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate.per_second))
        }
    }

    /// Adds what the time since the last look earned, up to the burst. An
    /// instant before the last look (instants from two threads) earns nothing.
    fn refill(&mut self, rate: &Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = self.at.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_second: 2.0,
        burst: 3.0,
    };

    #[test]
    fn a_full_bucket_allows_the_burst_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::full(&RATE, start);
        for _ in 0..3 {
            assert_eq!(bucket.take(&RATE, start), Ok(()));
        }
        // Empty: one token comes back after 1 / 2 s.
        assert_eq!(bucket.take(&RATE, start), Err(Duration::from_millis(500)));
        // A refused request takes nothing: 0.2 s later 0.4 tokens are there.
        let later = start + Duration::from_millis(200);
        let wait = bucket.take(&RATE, later).unwrap_err();
        assert!(
            wait.abs_diff(Duration::from_millis(300)) < Duration::from_micros(1),
            "{wait:?}"
        );
        let refilled = start + Duration::from_millis(500);
        assert_eq!(bucket.take(&RATE, refilled), Ok(()));
        assert!(bucket.take(&RATE, refilled).is_err());
    }

    #[test]
    fn a_bucket_never_holds_more_than_the_burst() {
        let start = Instant::now();
        let mut bucket = Bucket::full(&RATE, start);
        let much_later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(bucket.take(&RATE, much_later), Ok(()));
        }
        assert!(bucket.take(&RATE, much_later).is_err());
        assert_eq!(RATE.refill_time(), Duration::from_millis(1500));
    }

    #[test]
    fn an_instant_before_the_last_look_earns_nothing() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut bucket = Bucket::full(&RATE, start);
        for _ in 0..3 {
            bucket.take(&RATE, start).unwrap();
        }
        let earlier = start - Duration::from_secs(5);
        assert_eq!(bucket.take(&RATE, earlier), Err(Duration::from_millis(500)));
        assert!(bucket.take(&RATE, start + Duration::from_millis(499)).is_err());
        assert_eq!(bucket.take(&RATE, start + Duration::from_millis(500)), Ok(()));
    }
}
