//! Answers to "is this number on WhatsApp?", kept for a while so repeated
//! sends to one number cost one lookup. Bounded: past the cap, expired
//! answers go first, then the oldest.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::NumberCheck;

/// Numbers remembered at most.
const CAPACITY: usize = 100_000;
/// How long a "yes" is trusted: accounts rarely disappear.
const ON_WHATSAPP_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a "no" is trusted: the person may install WhatsApp any time.
const NOT_ON_WHATSAPP_TTL: Duration = Duration::from_secs(10 * 60);

#[derive(Default)]
pub(super) struct RecipientCache {
    entries: Mutex<HashMap<String, (NumberCheck, Instant)>>,
}

impl RecipientCache {
    pub(super) fn get(&self, phone: &str) -> Option<NumberCheck> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(phone)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(check, _)| check.clone())
    }

    pub(super) fn put(&self, check: NumberCheck) {
        let ttl = if check.on_whatsapp {
            ON_WHATSAPP_TTL
        } else {
            NOT_ON_WHATSAPP_TTL
        };
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, expires)| *expires > now);
            let oldest = entries
                .iter()
                .min_by_key(|(_, (_, expires))| *expires)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest.filter(|_| entries.len() >= CAPACITY) {
                entries.remove(&oldest);
            }
        }
        entries.insert(check.phone.clone(), (check, now + ttl));
    }
}
