//! whatsapp-rust's trusted-contact tokens, remembered between reads.
//!
//! The client reads a contact's token before every 1:1 message it sends (to
//! attach it, or to decide whether to issue a new one), and writes it rarely:
//! when WhatsApp issues or sends one, and once per rate bucket. A read from
//! the database per send was one statement of the few a send costs
//! (BENCHMARKS.md, "Fewer statements per message"), so reads are answered
//! from here once a token (or its absence) has been read.
//!
//! Every write path of the device store forgets what it touched, after its
//! statement: one contact's entry, or everything for the expiry sweep. A
//! read that was under way while a write landed may have seen the row before
//! it; so a read fills the cache only if no write finished since it began
//! (a generation count, moved by every forget). The cache lives in the one
//! backend of the device that the instance's client holds; the backend is
//! the only writer of its rows.

use std::collections::HashMap;
use std::sync::Mutex;

use whatsapp_rust::wacore::store::traits::TcTokenEntry;

/// Contacts remembered per device; past it the cache starts over (a cold
/// cache only costs reads).
const MAX_ENTRIES: usize = 4096;

/// What the cache knows of one contact.
pub(super) enum Cached {
    /// The stored entry, or `None` when there is none.
    Known(Option<TcTokenEntry>),
    /// Not known: read it, then [`TcTokenCache::fill`] with this generation.
    Unknown(u64),
}

#[derive(Debug, Default)]
pub(super) struct TcTokenCache(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    /// Moved by every forget: a read begun before it must not fill the cache.
    generation: u64,
    entries: HashMap<String, Option<TcTokenEntry>>,
}

impl TcTokenCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn get(&self, jid: &str) -> Cached {
        let state = self.state();
        match state.entries.get(jid) {
            Some(entry) => Cached::Known(entry.clone()),
            None => Cached::Unknown(state.generation),
        }
    }

    /// Remembers what a read begun at `generation` found, unless a write
    /// finished since.
    pub(super) fn fill(&self, jid: &str, generation: u64, entry: Option<TcTokenEntry>) {
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state.entries.insert(jid.to_owned(), entry);
    }

    /// After a write of `jid`'s row.
    pub(super) fn forget(&self, jid: &str) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.remove(jid);
    }

    /// After a write that may have touched any row.
    pub(super) fn forget_all(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(token: u8) -> Option<TcTokenEntry> {
        Some(TcTokenEntry {
            token: vec![token],
            token_timestamp: 1,
            sender_timestamp: None,
        })
    }

    fn known(cache: &TcTokenCache, jid: &str) -> Option<Option<Vec<u8>>> {
        match cache.get(jid) {
            Cached::Known(entry) => Some(entry.map(|e| e.token)),
            Cached::Unknown(_) => None,
        }
    }

    #[test]
    fn a_read_fills_and_a_write_forgets() {
        let cache = TcTokenCache::default();
        let Cached::Unknown(generation) = cache.get("a") else {
            panic!("empty cache knew a")
        };
        cache.fill("a", generation, entry(1));
        cache.fill("b", generation, None);
        assert_eq!(known(&cache, "a"), Some(Some(vec![1])));
        assert_eq!(known(&cache, "b"), Some(None), "an absence is remembered too");
        cache.forget("a");
        assert_eq!(known(&cache, "a"), None);
        assert_eq!(known(&cache, "b"), Some(None), "forgetting a leaves b");
        cache.forget_all();
        assert_eq!(known(&cache, "b"), None);
    }

    #[test]
    fn a_read_that_a_write_overtook_fills_nothing() {
        let cache = TcTokenCache::default();
        let Cached::Unknown(generation) = cache.get("a") else {
            panic!("empty cache knew a")
        };
        // The write lands (and forgets) while the read is under way: the
        // read may hold the row as it was before.
        cache.forget("a");
        cache.fill("a", generation, entry(1));
        assert_eq!(known(&cache, "a"), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TcTokenCache::default();
        for n in 0..MAX_ENTRIES + 10 {
            let Cached::Unknown(generation) = cache.get(&n.to_string()) else {
                panic!("known too early")
            };
            cache.fill(&n.to_string(), generation, None);
        }
        assert!(cache.state().entries.len() <= MAX_ENTRIES);
        assert_eq!(known(&cache, &(MAX_ENTRIES + 9).to_string()), Some(None));
    }
}
