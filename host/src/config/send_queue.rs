//! The send queue's settings (`WASAP_QUEUE_*`, docs/API.md "Send queue"):
//! the pacing every instance gets unless it sets its own, and the queue's
//! limits. Kept apart from [`super::Config`] so the queue's nine flags read
//! as one group; flattened into it, so the flags and variables are unchanged.

use std::time::Duration;

use clap::Args;

use crate::send_queue::{DirectSends, Pacing, QueueSettings};

/// The send queue's flags.
#[derive(Debug, Clone, Args)]
pub struct QueueFlags {
    /// Send queue: messages an instance sends per minute at most (0: no limit);
    /// an instance's `pacing` overrides it (docs/API.md, "Send queue").
    #[arg(long = "queue-per-minute", env = "WASAP_QUEUE_PER_MINUTE", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub per_minute: u32,

    /// Send queue: messages an instance sends per hour at most (0: no limit).
    #[arg(long = "queue-per-hour", env = "WASAP_QUEUE_PER_HOUR", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub per_hour: u32,

    /// Send queue: messages an instance sends per day at most (0: no limit).
    #[arg(long = "queue-per-day", env = "WASAP_QUEUE_PER_DAY", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub per_day: u32,

    /// Send queue: the shortest gap between two queued messages, ms.
    #[arg(long = "queue-min-gap-ms", env = "WASAP_QUEUE_MIN_GAP_MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub min_gap_ms: u64,

    /// Send queue: the longest gap between two queued messages, ms (each gap is drawn between the two).
    #[arg(long = "queue-max-gap-ms", env = "WASAP_QUEUE_MAX_GAP_MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub max_gap_ms: u64,

    /// Send queue: show "typing…", sized to the text, before each queued text.
    #[arg(long = "queue-typing", env = "WASAP_QUEUE_TYPING", num_args = 0..=1, default_value_t = false, default_missing_value = "true",
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub typing: bool,

    /// Direct (unqueued) sends over a rate limit: `count` (they go, and count)
    /// or `refuse` (429 with Retry-After).
    #[arg(long = "queue-direct-sends", env = "WASAP_QUEUE_DIRECT_SENDS", value_enum, default_value_t = DirectSends::Count)]
    pub direct_sends: DirectSends,

    /// Send queue: jobs an instance may have waiting at most.
    #[arg(long = "queue-max-waiting", env = "WASAP_QUEUE_MAX_WAITING", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_waiting: u64,

    /// Send queue: seconds a finished job (sent, delivered, read, failed,
    /// cancelled) is kept before it is pruned.
    #[arg(long = "queue-retention-secs", env = "WASAP_QUEUE_RETENTION_SECS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub retention_secs: u64,
}

impl QueueFlags {
    /// The queue's settings: the default pacing (a limit of 0 is none) and its limits.
    pub fn settings(&self) -> QueueSettings {
        let some = |n: u32| Some(n).filter(|n| *n > 0);
        QueueSettings {
            defaults: Pacing {
                per_minute: some(self.per_minute),
                per_hour: some(self.per_hour),
                per_day: some(self.per_day),
                min_gap_ms: Some(self.min_gap_ms),
                max_gap_ms: Some(self.max_gap_ms.max(self.min_gap_ms)),
                typing: Some(self.typing),
                quiet_hours: None,
                direct_sends: Some(self.direct_sends),
            },
            max_waiting: self.max_waiting as i64,
            retention: Duration::from_secs(self.retention_secs),
        }
    }
}
