//! The inbound journal's retention: a task that prunes, at start-up and then
//! every `WASAP_JOURNAL_PRUNE_INTERVAL_MS`, the entries that are done and
//! older than `WASAP_JOURNAL_RETENTION_SECS` or beyond the newest
//! `WASAP_JOURNAL_MAX_PER_INSTANCE` of their instance. An entry not done
//! is never pruned (nor any after it: see [`super::journal`]). Clients whose
//! cursor falls behind what was pruned get 410 `cursor_expired`. The records
//! of sent messages ([`super::message_keys`]) and of polls ([`super::polls`])
//! follow the same retention.

use std::time::Duration;

use super::Store;
use super::journal::JournalRetention;
use crate::clock::now_secs;

/// Entries removed per statement: a prune never holds the journal's writers
/// back for long.
const BATCH: i64 = 1000;

/// What the journal keeps (`WASAP_JOURNAL_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalRetentionSettings {
    /// Done entries older than this may go.
    pub max_age: Duration,
    /// Done entries beyond this many newest of their instance may go.
    pub max_per_instance: u64,
    /// Time between two prunes.
    pub interval: Duration,
}

impl Default for JournalRetentionSettings {
    fn default() -> Self {
        JournalRetentionSettings {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_per_instance: 50_000,
            interval: Duration::from_secs(60),
        }
    }
}

/// Starts the prune task; abort the handle to stop it.
pub fn start(store: Store, settings: JournalRetentionSettings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(settings.interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            prune(&store, settings).await;
        }
    })
}

/// One prune (a failed one is tried again at the next round).
pub async fn prune(store: &Store, settings: JournalRetentionSettings) {
    let retention = JournalRetention {
        before: now_secs().saturating_sub(i64::try_from(settings.max_age.as_secs()).unwrap_or(i64::MAX)),
        max_per_instance: i64::try_from(settings.max_per_instance).unwrap_or(i64::MAX),
    };
    match store.journal_prune(retention, BATCH).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "old inbound journal entries removed"),
        Err(e) => tracing::warn!(error = %e, "old inbound journal entries could not be removed"),
    }
    // What the server sent is findable by id (to react to it, edit it...)
    // for as long as what came in.
    match store
        .sent_messages_prune(retention.before, retention.max_per_instance)
        .await
    {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "old sent-message records removed"),
        Err(e) => tracing::warn!(error = %e, "old sent-message records could not be removed"),
    }
    // A poll's votes are readable for as long as the poll is findable.
    match store.polls_prune(retention.before, retention.max_per_instance).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "old polls removed"),
        Err(e) => tracing::warn!(error = %e, "old polls could not be removed"),
    }
}
