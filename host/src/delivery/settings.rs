//! How webhooks are delivered: the switches, the retry schedule and the
//! global receivers, resolved once at start-up from the configuration.

use std::time::Duration;

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Whether webhooks are sent at all (`WASAP_ENABLE_WEBHOOK`,
    /// `SUDEVWA_ENABLE_WEBHOOK`). Off: nothing is queued and nothing is sent.
    pub enabled: bool,
    /// Attempts per delivery before it is `failed`.
    pub attempts: u32,
    /// Attempts in flight at most per receiver URL.
    pub per_receiver: usize,
    /// The wait after each failed attempt: the n-th failure waits the n-th
    /// entry (the last entry once the list runs out).
    pub backoff: Vec<Duration>,
    /// How long one attempt may take, from connecting to the last byte.
    pub timeout: Duration,
    /// How long finished deliveries are kept.
    pub retention: Retention,
    /// Log every attempt and its outcome at info level (`--debug`).
    pub debug: bool,
    /// Receivers of every instance's events in the `gowa` format.
    pub global: Vec<GlobalWebhook>,
    /// The HMAC key of the global receivers.
    pub global_secret: String,
}

/// How long finished deliveries stay in the outbox: long enough to be
/// listed (delivered) or retried by hand (failed), never for ever.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Delivered rows go this long after their delivery.
    pub delivered: Duration,
    /// Failed rows, payload and all, go this long after their last attempt.
    pub failed: Duration,
    /// How often old rows are looked for.
    pub prune_every: Duration,
}

/// A receiver from `WHATSAPP_WEBHOOK` / `--webhook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalWebhook {
    /// `global-` and a digest of the URL: stable across restarts, so a queued
    /// delivery still finds its secret after one.
    pub id: String,
    pub url: String,
}

/// The prefix of global webhook ids.
pub const GLOBAL_PREFIX: &str = "global-";
/// The prefix of the ids of single-URL targets of plugins (unsigned).
pub const URL_PREFIX: &str = "url-";

impl GlobalWebhook {
    pub fn new(url: &str) -> GlobalWebhook {
        GlobalWebhook {
            id: format!("{GLOBAL_PREFIX}{}", url_digest(url)),
            url: url.to_owned(),
        }
    }
}

/// The first 16 hex digits of the SHA-256 of `url`: a stable receiver id.
pub fn url_digest(url: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(url.as_bytes())[..8])
}

impl DeliverySettings {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let index = (attempt.max(1) - 1) as usize;
        self.backoff
            .get(index)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }
}

/// `WHATSAPP_WEBHOOK`'s comma-separated URLs, trimmed, empty entries and
/// repeats left out.
pub fn split_urls(values: &[String]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for url in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        if !urls.iter().any(|u| u == url) {
            urls.push(url.to_owned());
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_list_then_repeats_its_last_entry() {
        let settings = DeliverySettings {
            enabled: true,
            attempts: 5,
            per_receiver: 64,
            backoff: [1, 2, 4].map(Duration::from_secs).to_vec(),
            timeout: Duration::from_secs(10),
            retention: Retention {
                delivered: Duration::from_secs(1),
                failed: Duration::from_secs(1),
                prune_every: Duration::from_secs(1),
            },
            debug: false,
            global: Vec::new(),
            global_secret: String::new(),
        };
        let waits: Vec<u64> = (1..=5).map(|n| settings.backoff_after(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 4, 4]);
    }

    #[test]
    fn webhook_urls_are_split_on_commas() {
        let urls = split_urls(&["https://a/x, https://b/y,,".to_owned(), "https://a/x".to_owned()]);
        assert_eq!(urls, ["https://a/x", "https://b/y"]);
        assert_ne!(
            GlobalWebhook::new("https://a/x").id,
            GlobalWebhook::new("https://b/y").id
        );
        assert_eq!(GlobalWebhook::new("https://a/x").id.len(), GLOBAL_PREFIX.len() + 16);
    }
}
