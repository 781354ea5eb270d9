//! Per-plugin counters for the management routes: calls, drops, replaces,
//! errors, mean and p99 call time, consecutive failures and the last error.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::bindings::types;
use super::runner::Failure;

/// Call times kept for the p99.
const RECENT: usize = 1024;

/// Counters of one plugin. Updated by every call.
#[derive(Debug, Default)]
pub struct PluginStats {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    calls: u64,
    drops: u64,
    replaces: u64,
    errors: u64,
    consecutive_failures: u32,
    total: Duration,
    recent: VecDeque<Duration>,
    last_error: Option<String>,
}

impl Counters {
    fn fail(&mut self, failure: &Failure) {
        self.errors += 1;
        self.consecutive_failures += 1;
        self.last_error = Some(failure.to_string());
    }
}

/// A snapshot, as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub drops: u64,
    pub replaces: u64,
    pub errors: u64,
    pub consecutive_failures: u32,
    /// Mean call time in microseconds.
    pub mean_us: u64,
    /// 99th percentile of the last 1024 call times, in microseconds.
    pub p99_us: u64,
    pub last_error: Option<String>,
}

impl PluginStats {
    /// Counts one call; returns how many calls in a row have now failed.
    pub fn record(&self, took: Duration, result: Result<&types::Outcome, &Failure>) -> u32 {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.calls += 1;
        c.total += took;
        if c.recent.len() == RECENT {
            c.recent.pop_front();
        }
        c.recent.push_back(took);
        match result {
            Ok(outcome) => {
                c.consecutive_failures = 0;
                match outcome.verdict {
                    types::Verdict::Continue => {}
                    types::Verdict::Drop => c.drops += 1,
                    types::Verdict::Replace(_) => c.replaces += 1,
                }
            }
            Err(failure) => c.fail(failure),
        }
        c.consecutive_failures
    }

    /// Counts a failure found after the call (an outcome the host refused).
    pub fn record_bad_output(&self, failure: &Failure) -> u32 {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.fail(failure);
        c.consecutive_failures
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut recent: Vec<Duration> = c.recent.iter().copied().collect();
        recent.sort_unstable();
        let p99 = recent
            .get((recent.len() * 99).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or_default();
        StatsSnapshot {
            calls: c.calls,
            drops: c.drops,
            replaces: c.replaces,
            errors: c.errors,
            consecutive_failures: c.consecutive_failures,
            mean_us: (c.total.as_micros() / u128::from(c.calls.max(1))) as u64,
            p99_us: p99.as_micros() as u64,
            last_error: c.last_error.clone(),
        }
    }
}
