//! An instance's two health timers, which the supervisor consults at every
//! tick of [`Watch::next_tick`]:
//! - the watchdog: an online connection that has heard nothing from WhatsApp
//!   (no stanza, no answer to a keepalive) for `WASAP_WATCHDOG_SECS` is deaf
//!   though open ("connected but deaf"); the supervisor closes it and
//!   reconnects, and the last error says why;
//! - the offline alert: a linked instance that has been without a working
//!   connection for `WASAP_OFFLINE_ALERT_SECS` gets one `instance_offline`
//!   event per outage, so a webhook hears of it without watching every
//!   status change.

use std::time::Duration;

use tokio::time::Instant;

/// The longest wait between two ticks, and the shortest.
const MAX_TICK: Duration = Duration::from_secs(10);
const MIN_TICK: Duration = Duration::from_millis(100);

/// The watchdog's view of an online connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It heard from WhatsApp lately.
    Fine,
    /// Quiet for a while: ask for a sign of life.
    Probe,
    /// Silent past the threshold, for this many seconds: reconnect.
    Deaf(u64),
}

/// One instance's watchdog and offline alert.
#[derive(Debug)]
pub(crate) struct Watch {
    /// An online connection silent for this long is reconnected; `None`: off.
    silence: Option<Duration>,
    /// A linked instance offline for this long is announced; `None`: off.
    offline_alert: Option<Duration>,
    /// Since when the linked instance has been without a connection.
    offline_since: Option<Instant>,
    /// The alert for this outage went out.
    alerted: bool,
}

impl Watch {
    pub(crate) fn new(silence: Option<Duration>, offline_alert: Option<Duration>) -> Watch {
        Watch {
            silence: silence.filter(|d| !d.is_zero()),
            offline_alert: offline_alert.filter(|d| !d.is_zero()),
            offline_since: None,
            alerted: false,
        }
    }

    /// When to look next: a quarter of the shortest threshold (so a deaf
    /// connection is found within a quarter past it), between 100 ms and
    /// 10 s; `None` when both are off.
    pub(crate) fn next_tick(&self) -> Option<Instant> {
        let shortest = [self.silence, self.offline_alert].into_iter().flatten().min()?;
        Some(Instant::now() + (shortest / 4).clamp(MIN_TICK, MAX_TICK))
    }

    /// The instance is online: an outage, if there was one, is over.
    pub(crate) fn online(&mut self) {
        self.offline_since = None;
        self.alerted = false;
    }

    /// The linked instance is without a connection (from `now`, unless it was already).
    pub(crate) fn offline(&mut self, now: Instant) {
        self.offline_since.get_or_insert(now);
    }

    /// The instance is not linked (or logged out): nothing to watch.
    pub(crate) fn unlinked(&mut self) {
        self.online();
    }

    /// What to make of a connection that last heard from WhatsApp at
    /// `last_heard_ms` (unix ms): quiet for half the threshold, it is asked
    /// for a sign of life (a ping); silent past the threshold, it is deaf.
    pub(crate) fn verdict(&self, last_heard_ms: Option<i64>, now_ms: i64) -> Verdict {
        let (Some(threshold), Some(heard)) = (self.silence, last_heard_ms) else {
            return Verdict::Fine;
        };
        let silent = Duration::from_millis((now_ms - heard).max(0) as u64);
        if silent >= threshold {
            Verdict::Deaf(silent.as_secs())
        } else if silent >= threshold / 2 {
            Verdict::Probe
        } else {
            Verdict::Fine
        }
    }

    /// The offline alert, once per outage: how long the instance has been
    /// offline at `now`, in whole seconds, when that just passed the threshold.
    pub(crate) fn offline_alert_due(&mut self, now: Instant) -> Option<u64> {
        let threshold = self.offline_alert?;
        let offline = now.saturating_duration_since(self.offline_since?);
        if self.alerted || offline < threshold {
            return None;
        }
        self.alerted = true;
        Some(offline.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_connection_is_found_past_the_threshold_only() {
        let watch = Watch::new(Some(Duration::from_secs(600)), None);
        let now = 1_700_000_000_000;
        assert_eq!(watch.verdict(Some(now - 299_000), now), Verdict::Fine);
        assert_eq!(watch.verdict(Some(now - 300_000), now), Verdict::Probe);
        assert_eq!(watch.verdict(Some(now - 599_000), now), Verdict::Probe);
        assert_eq!(watch.verdict(Some(now - 600_500), now), Verdict::Deaf(600));
        assert_eq!(watch.verdict(None, now), Verdict::Fine, "nothing heard yet: no verdict");
        let off = Watch::new(Some(Duration::ZERO), None);
        assert_eq!(off.verdict(Some(0), now), Verdict::Fine);
        assert!(off.next_tick().is_none());
    }

    #[test]
    fn the_offline_alert_goes_out_once_per_outage() {
        let mut watch = Watch::new(None, Some(Duration::from_secs(300)));
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        assert_eq!(watch.offline_alert_due(at(0)), None, "online");
        watch.offline(at(0));
        watch.offline(at(299));
        assert_eq!(watch.offline_alert_due(at(299)), None, "the outage started at 0");
        assert_eq!(watch.offline_alert_due(at(301)), Some(301));
        assert_eq!(watch.offline_alert_due(at(302)), None, "once");
        watch.online();
        watch.offline(at(400));
        assert_eq!(watch.offline_alert_due(at(700)), Some(300), "a new outage");
    }
}
