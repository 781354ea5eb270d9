//! The API rate limit: a token bucket per client, so that one client cannot
//! take the whole server (docs/API.md, "Rate limits").
//!
//! A client is the token a request authenticates with, kept only as its
//! SHA-256 (never the token itself), or, for a request without a valid
//! token, its address (an IPv4 address or an IPv6 /64, as the front door's
//! connection caps count them). Which requests count, and the 429 answer,
//! are the API's business ([`crate::api`]); here are the buckets
//! ([`bucket`]), kept in bounded memory ([`table`]), and the count of
//! refusals for `/metrics`.

mod bucket;
mod table;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use self::bucket::Rate;
use self::table::Table;

/// Clients whose buckets are held at most. About 100 bytes each; a flood of
/// new addresses past it makes the table forget the quietest clients.
const MAX_CLIENTS: usize = 100_000;

/// A client unseen this long is forgotten (when that is longer than its
/// bucket's refill time; see [`table`]).
const IDLE: Duration = Duration::from_secs(60);

/// The limit (`--api-rate`, `--api-burst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Requests per second a client may make on average; 0: no limit.
    pub per_second: u32,
    /// Requests a client may make at once, above the average.
    pub burst: u32,
}

/// Who a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// The SHA-256 of the valid token the request carries.
    Token([u8; 32]),
    /// The client address of a request without a valid token.
    Address(IpAddr),
}

/// A refused request: when the client may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Whole seconds, at least 1 (the `Retry-After` header's unit).
    pub retry_after_secs: u64,
}

/// The buckets of every client, and the refusals so far.
#[derive(Debug)]
pub struct RateLimiter {
    /// `None` when the limit is off.
    table: Option<Mutex<Table<Client>>>,
    limited: AtomicU64,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> RateLimiter {
        Self::with_cap(settings, MAX_CLIENTS, Instant::now())
    }

    fn with_cap(settings: RateLimitSettings, cap: usize, now: Instant) -> RateLimiter {
        let table = (settings.per_second > 0).then(|| {
            let rate = Rate {
                per_second: f64::from(settings.per_second),
                burst: f64::from(settings.burst.max(1)),
            };
            Mutex::new(Table::new(rate, cap, IDLE, now))
        });
        RateLimiter {
            table,
            limited: AtomicU64::new(0),
        }
    }

    /// Whether requests are limited at all.
    pub fn is_on(&self) -> bool {
        self.table.is_some()
    }

    /// Counts a request of `client` at `now`, or refuses it.
    pub fn check(&self, client: Client, now: Instant) -> Result<(), Limited> {
        let Some(table) = &self.table else {
            return Ok(());
        };
        let taken = table.lock().unwrap_or_else(|e| e.into_inner()).take(client, now);
        taken.map_err(|wait| {
            self.limited.fetch_add(1, Ordering::Relaxed);
            Limited {
                retry_after_secs: whole_seconds(wait),
            }
        })
    }

    /// `wasap_api_rate_limited_total` and `wasap_api_rate_limit_clients`.
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str("# HELP wasap_api_rate_limited_total API requests refused with 429 rate_limited.\n");
        out.push_str("# TYPE wasap_api_rate_limited_total counter\n");
        let _ = writeln!(
            out,
            "wasap_api_rate_limited_total {}",
            self.limited.load(Ordering::Relaxed)
        );
        let clients = self
            .table
            .as_ref()
            .map_or(0, |t| t.lock().unwrap_or_else(|e| e.into_inner()).len());
        out.push_str(
            "# HELP wasap_api_rate_limit_clients Clients (tokens, addresses) whose rate limit buckets are held.\n",
        );
        out.push_str("# TYPE wasap_api_rate_limit_clients gauge\n");
        let _ = writeln!(out, "wasap_api_rate_limit_clients {clients}");
    }
}

/// A wait as the whole seconds of `Retry-After`, rounded up, at least 1: a
/// client that waits that long finds a token.
fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> Client {
        Client::Address(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_client_over_its_burst_is_told_when_to_come_back() {
        let now = Instant::now();
        let limiter = RateLimiter::with_cap(
            RateLimitSettings {
                per_second: 1,
                burst: 2,
            },
            100,
            now,
        );
        let token = Client::Token([7; 32]);
        assert!(limiter.check(token, now).is_ok());
        assert!(limiter.check(token, now).is_ok());
        assert_eq!(limiter.check(token, now), Err(Limited { retry_after_secs: 1 }));
        // Another client, and the same one once a token is back.
        assert!(limiter.check(address(1), now).is_ok());
        assert!(limiter.check(token, now + Duration::from_secs(1)).is_ok());
        let mut text = String::new();
        limiter.render_metrics(&mut text);
        assert!(text.contains("\nwasap_api_rate_limited_total 1\n"), "{text}");
        assert!(text.contains("\nwasap_api_rate_limit_clients 2\n"), "{text}");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(7)), 7);
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let now = Instant::now();
        let limiter = RateLimiter::with_cap(
            RateLimitSettings {
                per_second: 0,
                burst: 1,
            },
            100,
            now,
        );
        assert!(!limiter.is_on());
        for _ in 0..1000 {
            assert!(limiter.check(address(1), now).is_ok());
        }
    }

    #[test]
    fn the_clients_held_stay_under_the_cap() {
        let now = Instant::now();
        let limiter = RateLimiter::with_cap(
            RateLimitSettings {
                per_second: 1,
                burst: 1,
            },
            16,
            now,
        );
        for n in 0..=255 {
            limiter.check(address(n), now).unwrap();
        }
        let mut text = String::new();
        limiter.render_metrics(&mut text);
        let held: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("wasap_api_rate_limit_clients "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(held <= 16, "{held}");
    }
}
