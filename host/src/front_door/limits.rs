//! The caps on open connections: all together, and per client address.
//!
//! A connection takes a [`Permit`] when it is accepted and gives it back
//! when its HTTP life ends: when it closes, or when it is upgraded to a
//! WebSocket, which the hub's own caps govern from then on (see
//! [`super`]). A client address is an IPv4 address, or an IPv6 /64 (one
//! host usually holds a whole /64, so a per-address cap on IPv6 would
//! hold nobody back); an IPv4-mapped IPv6 address counts as its IPv4.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use super::stats::Stats;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the server has {0} connections open, its limit")]
    Full(usize),
    #[error("this client address has {0} connections open, its limit")]
    ClientFull(usize),
}

/// The open connections, counted against both caps.
pub struct Limits {
    max_total: usize,
    max_per_client: usize,
    counts: Mutex<Counts>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl Limits {
    pub fn new(max_total: usize, max_per_client: usize, stats: Arc<Stats>) -> Arc<Limits> {
        Arc::new(Limits {
            max_total,
            max_per_client,
            counts: Mutex::new(Counts::default()),
            stats,
        })
    }

    /// Counts a new connection from `peer`, unless a cap is reached.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Permit, Refused> {
        let client = client_key(peer);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= self.max_total {
            return Err(Refused::Full(self.max_total));
        }
        let of_client = counts.per_client.entry(client).or_default();
        if *of_client >= self.max_per_client {
            return Err(Refused::ClientFull(self.max_per_client));
        }
        *of_client += 1;
        counts.total += 1;
        self.stats.set_open(counts.total);
        Ok(Permit {
            limits: self.clone(),
            client,
        })
    }

    fn release(&self, client: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total -= 1;
        if let Some(of_client) = counts.per_client.get_mut(&client) {
            *of_client -= 1;
            if *of_client == 0 {
                counts.per_client.remove(&client);
            }
        }
        self.stats.set_open(counts.total);
    }
}

/// One counted connection; dropping it frees its place.
pub struct Permit {
    limits: Arc<Limits>,
    client: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limits.release(self.client);
    }
}

/// The address a per-client cap counts under (the API rate limit's too).
pub fn client_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(segments))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn both_caps_refuse_and_a_dropped_permit_frees_its_place() {
        let stats = Arc::new(Stats::default());
        let limits = Limits::new(3, 2, stats.clone());
        let a1 = limits.admit(ip("10.0.0.1")).unwrap();
        let _a2 = limits.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.1")).err(), Some(Refused::ClientFull(2)));
        let _b1 = limits.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.3")).err(), Some(Refused::Full(3)));
        assert_eq!(stats.open(), 3);
        drop(a1);
        assert_eq!(stats.open(), 2);
        let _a3 = limits.admit(ip("10.0.0.1")).unwrap();
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:bbbb::9")),
            client_key(ip("2001:db8:1:2:aaaa::1"))
        );
        assert_ne!(client_key(ip("2001:db8:1:3::1")), client_key(ip("2001:db8:1:2::1")));
        assert_eq!(client_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }
}
