//! Pacing: how fast an instance's messages may go. The rules (rate limits per
//! minute, hour and day; a random gap between two messages; typing before a
//! text; quiet hours; what direct sends do), their per-instance override, and
//! the arithmetic of the next moment a message may go.
//!
//! Times are unix milliseconds on the server's [`Clock`](crate::clock::Clock).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::zone::Zone;

/// The longest a typing state lasts before a text, however long the text.
pub const MAX_TYPING_MS: i64 = 5_000;
/// Typing time per character of the text.
const TYPING_MS_PER_CHAR: i64 = 40;
/// The shortest typing state.
const MIN_TYPING_MS: i64 = 500;
/// The largest limit or gap accepted.
const MAX_LIMIT: u32 = 1_000_000;
const MAX_GAP_MS: u64 = 24 * 3600 * 1000;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// What a direct (unqueued) send does under the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DirectSends {
    /// It goes at once and counts against the limits.
    #[default]
    Count,
    /// Over a limit, it is refused (429 with `Retry-After`).
    Refuse,
}

/// Hours in which nothing queued is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, local time: the quiet period starts.
    pub start: String,
    /// `HH:MM`, local time: it ends (before `start`: it runs over midnight).
    pub end: String,
    /// The time zone `start` and `end` are read in: an IANA zone name
    /// (`Europe/Berlin`, `Asia/Jakarta`), whose daylight saving changes are
    /// followed, or `UTC` / `Z`, or a fixed offset `+HH:MM` / `-HH:MM`.
    /// On a spring-forward day a `start` or `end` the clocks skip takes
    /// effect when they jump; on a fall-back day a `start` or `end` that
    /// shows twice takes effect the first time.
    #[serde(default = "utc")]
    #[schemars(example = "Europe/Berlin")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// A set of pacing rules; each field absent takes the server's default (in
/// a per-instance override) or means "no rule" (in the defaults). A limit
/// or gap of 0 means none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pacing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_hour: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u32>,
    /// The shortest gap between two queued messages, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
    /// The longest gap between two queued messages, ms; each gap is drawn
    /// at random between the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_gap_ms: Option<u64>,
    /// A typing state, sized to the text, before each queued text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_sends: Option<DirectSends>,
}

/// Why pacing rules were refused.
#[derive(Debug, thiserror::Error)]
pub enum PacingError {
    #[error("{0} is larger than {1}")]
    TooLarge(&'static str, u64),
    #[error("min_gap_ms is larger than max_gap_ms")]
    GapOrder,
    #[error("quiet_hours {0} is not a time of day as HH:MM")]
    BadTime(String),
    #[error(
        "quiet_hours timezone {0:?} is not an IANA time zone name (such as Europe/Berlin, spelled as the \
         database does), UTC, or an offset as +HH:MM / -HH:MM"
    )]
    BadZone(String),
    #[error("quiet_hours start and end are the same")]
    EmptyQuiet,
}

/// The rules in force for one instance: its override over the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    pub per_minute: u32,
    pub per_hour: u32,
    pub per_day: u32,
    pub min_gap_ms: u64,
    pub max_gap_ms: u64,
    pub typing: bool,
    pub quiet: Option<Quiet>,
    pub direct_sends: DirectSends,
}

impl Pacing {
    /// Checks the rules; the same checks for the defaults and an override.
    pub fn validate(&self) -> Result<(), PacingError> {
        for (name, value) in [
            ("per_minute", self.per_minute),
            ("per_hour", self.per_hour),
            ("per_day", self.per_day),
        ] {
            if value.is_some_and(|v| v > MAX_LIMIT) {
                return Err(PacingError::TooLarge(name, MAX_LIMIT.into()));
            }
        }
        for (name, value) in [("min_gap_ms", self.min_gap_ms), ("max_gap_ms", self.max_gap_ms)] {
            if value.is_some_and(|v| v > MAX_GAP_MS) {
                return Err(PacingError::TooLarge(name, MAX_GAP_MS));
            }
        }
        if let Some(quiet) = &self.quiet_hours {
            quiet_minutes(quiet)?;
        }
        Ok(())
    }

    /// This override over `defaults`, checked as a whole.
    pub fn over(&self, defaults: &Pacing) -> Result<Rules, PacingError> {
        let min_gap_ms = self.min_gap_ms.or(defaults.min_gap_ms).unwrap_or(0);
        let max_gap_ms = self.max_gap_ms.or(defaults.max_gap_ms).unwrap_or(0).max(min_gap_ms);
        if self.min_gap_ms.is_some() && self.max_gap_ms.is_some() && self.min_gap_ms > self.max_gap_ms {
            return Err(PacingError::GapOrder);
        }
        let quiet = match self.quiet_hours.as_ref().or(defaults.quiet_hours.as_ref()) {
            Some(quiet) => Some(quiet_minutes(quiet)?),
            None => None,
        };
        Ok(Rules {
            per_minute: self.per_minute.or(defaults.per_minute).unwrap_or(0),
            per_hour: self.per_hour.or(defaults.per_hour).unwrap_or(0),
            per_day: self.per_day.or(defaults.per_day).unwrap_or(0),
            min_gap_ms,
            max_gap_ms,
            typing: self.typing.or(defaults.typing).unwrap_or(false),
            quiet,
            direct_sends: self.direct_sends.or(defaults.direct_sends).unwrap_or_default(),
        })
    }
}

/// Quiet hours, checked: local minutes of the day and the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quiet {
    pub start_minute: i64,
    pub end_minute: i64,
    pub zone: Zone,
}

fn hh_mm(text: &str) -> Option<i64> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn quiet_minutes(quiet: &QuietHours) -> Result<Quiet, PacingError> {
    let start = hh_mm(&quiet.start).ok_or_else(|| PacingError::BadTime(quiet.start.clone()))?;
    let end = hh_mm(&quiet.end).ok_or_else(|| PacingError::BadTime(quiet.end.clone()))?;
    let zone = Zone::parse(&quiet.timezone).ok_or_else(|| PacingError::BadZone(quiet.timezone.clone()))?;
    if start == end {
        return Err(PacingError::EmptyQuiet);
    }
    Ok(Quiet {
        start_minute: start,
        end_minute: end,
        zone,
    })
}

impl Quiet {
    /// The end of the quiet period `at` falls in, or `None` when it falls in none.
    ///
    /// A period starts the first time the zone's clock shows `start` and ends
    /// the first time after that it shows `end` (see
    /// [`Zone::first_instant_showing`]), so a period runs across a daylight
    /// saving change by the clock on the wall: 22:00–07:00 in Berlin is nine
    /// hours long in winter, eight on the night the clocks go forward and ten
    /// on the night they go back; and an hour that repeats is not quiet again
    /// once the period has ended.
    pub fn ends_after(&self, at: i64) -> Option<i64> {
        let zone = self.zone;
        let day_of = |instant: i64| {
            let local = zone.local_ms(instant);
            local - local.rem_euclid(DAY)
        };
        let showing = |day: i64, minute: i64| zone.first_instant_showing(day + minute * MINUTE);
        // The last start at or before `at`: today's or yesterday's (local),
        // tomorrow's too in case an offset change moved it over midnight.
        let today = day_of(at);
        let start = [today - DAY, today, today + DAY]
            .into_iter()
            .map(|day| showing(day, self.start_minute))
            .filter(|s| *s <= at)
            .max()?;
        // The first end at or after that start: on its day or the next.
        let start_day = day_of(start);
        let end = [start_day, start_day + DAY]
            .into_iter()
            .map(|day| showing(day, self.end_minute))
            .filter(|e| *e >= start)
            .min()?;
        // An end equal to the start: both fell in one skipped hour, and that
        // day's period is empty.
        (at < end).then_some(end)
    }
}

impl Rules {
    /// Whether any rate limit is set.
    pub fn limits_rate(&self) -> bool {
        self.per_minute > 0 || self.per_hour > 0 || self.per_day > 0
    }

    /// Whether these rules hold any send back: a rate limit, a gap, typing
    /// or quiet hours. Without any, due jobs go one after another at once.
    pub fn paces(&self) -> bool {
        self.limits_rate() || self.max_gap_ms > 0 || self.typing || self.quiet.is_some()
    }

    /// A gap drawn between the two bounds.
    pub fn draw_gap_ms(&self) -> i64 {
        use rand::Rng;
        if self.max_gap_ms <= self.min_gap_ms {
            return self.min_gap_ms as i64;
        }
        rand::rng().random_range(self.min_gap_ms..=self.max_gap_ms) as i64
    }

    /// The earliest moment at or after `at` that the rate limits allow,
    /// given the sends in `log`.
    pub fn rate_allows(&self, log: &SendLog, at: i64) -> i64 {
        let mut at = at;
        // Moving later only empties windows, so two passes settle it.
        for _ in 0..2 {
            for (limit, window) in [(self.per_minute, MINUTE), (self.per_hour, HOUR), (self.per_day, DAY)] {
                if limit > 0 {
                    at = at.max(log.free_at(limit as usize, window, at));
                }
            }
        }
        at
    }

    /// `at`, or the end of the quiet period it falls in.
    pub fn after_quiet(&self, at: i64) -> i64 {
        self.quiet.and_then(|quiet| quiet.ends_after(at)).unwrap_or(at)
    }

    /// How long the typing state before `text` lasts.
    pub fn typing_ms(text: &str) -> i64 {
        (text.chars().count() as i64 * TYPING_MS_PER_CHAR).clamp(MIN_TYPING_MS, MAX_TYPING_MS)
    }
}

/// When an instance's last messages went, for the rate windows: at most a
/// day's worth, at most [`SendLog::CAPACITY`] entries.
#[derive(Debug, Default)]
pub struct SendLog {
    times: VecDeque<i64>,
}

impl SendLog {
    /// The most sends kept (more than any per-day limit needs to count).
    pub const CAPACITY: usize = MAX_LIMIT as usize;

    pub fn from_times(times: Vec<i64>) -> SendLog {
        let mut log = SendLog::default();
        for at in times {
            log.push(at);
        }
        log
    }

    /// Notes a send at `at`, forgetting those older than a day.
    pub fn push(&mut self, at: i64) {
        while self.times.front().is_some_and(|t| *t <= at - DAY) || self.times.len() >= Self::CAPACITY {
            self.times.pop_front();
        }
        self.times.push_back(at);
    }

    /// The earliest moment at or after `at` at which fewer than `limit`
    /// sends fall in the `window` ending then.
    fn free_at(&self, limit: usize, window: i64, at: i64) -> i64 {
        let inside: Vec<i64> = self.times.iter().copied().filter(|t| *t > at - window).collect();
        if inside.len() < limit {
            return at;
        }
        // The window must drop all but limit - 1 of them.
        inside[inside.len() - limit] + window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pacing: Pacing) -> Rules {
        pacing.over(&Pacing::default()).unwrap()
    }

    #[test]
    fn a_full_minute_waits_for_its_oldest_send_to_leave() {
        let rules = rules(Pacing {
            per_minute: Some(2),
            ..Pacing::default()
        });
        let log = SendLog::from_times(vec![1_000, 5_000]);
        assert_eq!(rules.rate_allows(&log, 6_000), 61_000);
        assert_eq!(rules.rate_allows(&log, 70_000), 70_000);
    }

    #[test]
    fn quiet_hours_over_midnight_end_in_the_morning() {
        let rules = rules(Pacing {
            quiet_hours: Some(QuietHours {
                start: "22:00".into(),
                end: "08:00".into(),
                timezone: "+02:00".into(),
            }),
            ..Pacing::default()
        });
        // 21:30 UTC is 23:30 at +02:00: quiet until 08:00 local, 06:00 UTC.
        let at = 21 * HOUR + 30 * MINUTE;
        assert_eq!(rules.after_quiet(at), DAY + 6 * HOUR);
        // 07:00 UTC is 09:00 local: not quiet.
        assert_eq!(rules.after_quiet(7 * HOUR), 7 * HOUR);
    }

    fn quiet_in(start: &str, end: &str, timezone: &str) -> Rules {
        rules(Pacing {
            quiet_hours: Some(QuietHours {
                start: start.into(),
                end: end.into(),
                timezone: timezone.into(),
            }),
            ..Pacing::default()
        })
    }

    use crate::send_queue::zone::tests::utc;

    #[test]
    fn berlin_nights_follow_the_clocks_in_march_and_october() {
        let rules = quiet_in("22:00", "07:00", "Europe/Berlin");
        // Saturday 2026-03-28 21:30 UTC is 22:30 CET; the clocks go forward
        // at 01:00 UTC, so 07:00 on Sunday is 05:00 UTC (CEST), not 06:00.
        assert_eq!(rules.after_quiet(utc(2026, 3, 28, 20, 59)), utc(2026, 3, 28, 20, 59));
        assert_eq!(rules.after_quiet(utc(2026, 3, 28, 21, 0)), utc(2026, 3, 29, 5, 0));
        assert_eq!(rules.after_quiet(utc(2026, 3, 28, 21, 30)), utc(2026, 3, 29, 5, 0));
        assert_eq!(rules.after_quiet(utc(2026, 3, 29, 4, 59)), utc(2026, 3, 29, 5, 0));
        assert_eq!(rules.after_quiet(utc(2026, 3, 29, 5, 0)), utc(2026, 3, 29, 5, 0));
        // Sunday evening is CEST: quiet from 20:00 UTC.
        assert_eq!(rules.after_quiet(utc(2026, 3, 29, 19, 59)), utc(2026, 3, 29, 19, 59));
        assert_eq!(rules.after_quiet(utc(2026, 3, 29, 20, 0)), utc(2026, 3, 30, 5, 0));
        // Saturday 2026-10-24 20:00 UTC is 22:00 CEST; the clocks go back at
        // 01:00 UTC, so 07:00 on Sunday is 06:00 UTC (CET): a 10-hour night.
        assert_eq!(rules.after_quiet(utc(2026, 10, 24, 19, 59)), utc(2026, 10, 24, 19, 59));
        assert_eq!(rules.after_quiet(utc(2026, 10, 24, 20, 0)), utc(2026, 10, 25, 6, 0));
        // 02:30 shows twice that night; both are inside the period.
        assert_eq!(rules.after_quiet(utc(2026, 10, 25, 0, 30)), utc(2026, 10, 25, 6, 0));
        assert_eq!(rules.after_quiet(utc(2026, 10, 25, 1, 30)), utc(2026, 10, 25, 6, 0));
        assert_eq!(rules.after_quiet(utc(2026, 10, 25, 6, 0)), utc(2026, 10, 25, 6, 0));
        assert_eq!(rules.after_quiet(utc(2026, 10, 25, 21, 0)), utc(2026, 10, 26, 6, 0));
    }

    #[test]
    fn an_end_the_clocks_skip_or_repeat_takes_effect_once() {
        // 02:30 is skipped on 2026-03-29: the period ends as the clocks jump (01:00 UTC).
        let skipped = quiet_in("01:00", "02:30", "Europe/Berlin");
        assert_eq!(skipped.after_quiet(utc(2026, 3, 29, 0, 30)), utc(2026, 3, 29, 1, 0));
        assert_eq!(skipped.after_quiet(utc(2026, 3, 29, 1, 0)), utc(2026, 3, 29, 1, 0));
        // Both ends skipped: no quiet that night, the usual one the next.
        let gone = quiet_in("02:00", "02:30", "Europe/Berlin");
        assert_eq!(gone.after_quiet(utc(2026, 3, 29, 0, 59)), utc(2026, 3, 29, 0, 59));
        assert_eq!(gone.after_quiet(utc(2026, 3, 29, 1, 0)), utc(2026, 3, 29, 1, 0));
        assert_eq!(gone.after_quiet(utc(2026, 3, 30, 0, 10)), utc(2026, 3, 30, 0, 30));
        // 02:30 shows twice on 2026-10-25: the period ends the first time
        // (00:30 UTC), and the repeated 02:00–02:30 is not quiet again.
        let repeated = quiet_in("22:00", "02:30", "Europe/Berlin");
        assert_eq!(repeated.after_quiet(utc(2026, 10, 25, 0, 10)), utc(2026, 10, 25, 0, 30));
        assert_eq!(repeated.after_quiet(utc(2026, 10, 25, 1, 10)), utc(2026, 10, 25, 1, 10));
        // A period that starts the first time 02:30 shows stays quiet through the repeat.
        let late = quiet_in("02:30", "07:00", "Europe/Berlin");
        assert_eq!(late.after_quiet(utc(2026, 10, 25, 0, 29)), utc(2026, 10, 25, 0, 29));
        assert_eq!(late.after_quiet(utc(2026, 10, 25, 1, 10)), utc(2026, 10, 25, 6, 0));
        // Fixed offsets are unchanged by all this.
        let fixed = quiet_in("22:00", "07:00", "+01:00");
        assert_eq!(fixed.after_quiet(utc(2026, 3, 28, 21, 30)), utc(2026, 3, 29, 6, 0));
    }

    #[test]
    fn an_unknown_zone_is_refused_by_name() {
        let bad = Pacing {
            quiet_hours: Some(QuietHours {
                start: "22:00".into(),
                end: "07:00".into(),
                timezone: "Europe/Atlantis".into(),
            }),
            ..Pacing::default()
        };
        let message = bad.validate().unwrap_err().to_string();
        assert!(
            message.contains("\"Europe/Atlantis\"") && message.contains("IANA"),
            "{message}"
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let bad = Pacing {
            quiet_hours: Some(QuietHours {
                start: "25:00".into(),
                end: "08:00".into(),
                timezone: "UTC".into(),
            }),
            ..Pacing::default()
        };
        assert!(bad.validate().is_err());
        let order = Pacing {
            min_gap_ms: Some(5),
            max_gap_ms: Some(1),
            ..Pacing::default()
        };
        assert!(order.over(&Pacing::default()).is_err());
        assert_eq!(Rules::typing_ms(&"x".repeat(1000)), MAX_TYPING_MS);
    }
}
