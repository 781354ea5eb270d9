//! The time zone quiet hours are read in: UTC, a fixed offset from it, or a
//! zone of the IANA time-zone database (`Europe/Berlin`), whose offset follows
//! daylight saving. The database is compiled into the binary (chrono-tz), so
//! the server reads no zoneinfo files (a slim container may have none) and
//! answers the same wherever it runs; a newer tzdata comes with a rebuild.
//!
//! Wall-clock times are "local ms": milliseconds since 1970-01-01 00:00 on
//! the zone's own clock, so a day is still `rem_euclid(DAY)` of them.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, Offset, TimeZone};
use chrono_tz::Tz;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// The largest fixed offset accepted (the zones in use span −12:00 to +14:00).
const MAX_OFFSET_MINUTES: i64 = 14 * 60;

/// A time zone of quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// UTC or a fixed offset, in minutes east of UTC.
    Fixed(i64),
    /// A zone of the IANA database, by its exact name.
    Iana(Tz),
}

impl Zone {
    /// `UTC`, `Z`, `+HH:MM` / `-HH:MM`, or an IANA zone name (case as the
    /// database spells it); `None` for anything else.
    pub fn parse(text: &str) -> Option<Zone> {
        if text.eq_ignore_ascii_case("utc") || text == "Z" {
            return Some(Zone::Fixed(0));
        }
        let sign = match text.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return Tz::from_str(text).ok().map(Zone::Iana),
        };
        let (h, m) = text[1..].split_once(':')?;
        if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        let minutes = h * 60 + m;
        (m < 60 && minutes <= MAX_OFFSET_MINUTES).then_some(Zone::Fixed(sign * minutes))
    }

    /// The zone's offset from UTC at the instant `at` (unix ms), in ms.
    pub fn offset_ms(&self, at: i64) -> i64 {
        match self {
            Zone::Fixed(minutes) => minutes * MINUTE_MS,
            Zone::Iana(tz) => match DateTime::from_timestamp_millis(at) {
                Some(utc) => {
                    let offset = tz.offset_from_utc_datetime(&utc.naive_utc());
                    i64::from(offset.fix().local_minus_utc()) * 1000
                }
                None => 0,
            },
        }
    }

    /// The wall-clock time (local ms) at the instant `at`.
    pub fn local_ms(&self, at: i64) -> i64 {
        at + self.offset_ms(at)
    }

    /// The first instant at which the zone's clock shows `local` (local ms)
    /// or a later time: the instant of that wall-clock time; in the hour a
    /// fall-back repeats, its first occurrence; in the hour a spring-forward
    /// skips, the end of the gap (the clocks pass `local` as they jump).
    pub fn first_instant_showing(&self, local: i64) -> i64 {
        let tz = match self {
            Zone::Fixed(minutes) => return local - minutes * MINUTE_MS,
            Zone::Iana(tz) => tz,
        };
        let Some(naive) = DateTime::from_timestamp_millis(local).map(|t| t.naive_utc()) else {
            return local;
        };
        match tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.timestamp_millis(),
            LocalResult::Ambiguous(a, b) => a.timestamp_millis().min(b.timestamp_millis()),
            LocalResult::None => self.end_of_gap(local),
        }
    }

    /// The instant a spring-forward gap containing `local` ends. The clock
    /// only moves forward around a gap (transitions are months apart), so
    /// the first instant showing `local` or later is found by bisection
    /// between the instants `local` maps to under the offsets on either side.
    fn end_of_gap(&self, local: i64) -> i64 {
        let (a, b) = (self.offset_ms(local - DAY_MS), self.offset_ms(local + DAY_MS));
        let (mut lo, mut hi) = (local - a.max(b), local - a.min(b));
        // Invariant: the clock shows less than `local` at `lo`, at least it at `hi`.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.local_ms(mid) >= local {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Milliseconds since the epoch of a UTC date and time (also for pacing's tests).
    pub(in crate::send_queue) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_opt(h, mi, 0))
            .expect("a valid date")
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn names_and_offsets_parse_and_the_rest_does_not() {
        assert_eq!(Zone::parse("UTC"), Some(Zone::Fixed(0)));
        assert_eq!(Zone::parse("utc"), Some(Zone::Fixed(0)));
        assert_eq!(Zone::parse("Z"), Some(Zone::Fixed(0)));
        assert_eq!(Zone::parse("+05:30"), Some(Zone::Fixed(330)));
        assert_eq!(Zone::parse("-03:00"), Some(Zone::Fixed(-180)));
        assert_eq!(Zone::parse("Europe/Berlin"), Some(Zone::Iana(Tz::Europe__Berlin)));
        assert_eq!(Zone::parse("Asia/Jakarta"), Some(Zone::Iana(Tz::Asia__Jakarta)));
        for bad in [
            "Mars/Olympus",
            "europe/berlin",
            "",
            "+15:00",
            "+5:00",
            "+05:60",
            "+-5:00",
            "Berlin",
        ] {
            assert_eq!(Zone::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn berlin_follows_daylight_saving() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(berlin.offset_ms(utc(2026, 1, 15, 12, 0)), 3600 * 1000);
        assert_eq!(berlin.offset_ms(utc(2026, 7, 15, 12, 0)), 2 * 3600 * 1000);
        // 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST.
        assert_eq!(berlin.offset_ms(utc(2026, 3, 29, 0, 59)), 3600 * 1000);
        assert_eq!(berlin.offset_ms(utc(2026, 3, 29, 1, 0)), 2 * 3600 * 1000);
    }

    #[test]
    fn a_skipped_time_is_reached_when_the_gap_ends_and_a_repeated_one_first() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let local = |y, mo, d, h, mi| utc(y, mo, d, h, mi);
        // 02:30 never shows on 2026-03-29: the clocks pass it at 01:00 UTC.
        assert_eq!(
            berlin.first_instant_showing(local(2026, 3, 29, 2, 30)),
            utc(2026, 3, 29, 1, 0)
        );
        // 02:30 shows twice on 2026-10-25 (CEST, then CET): the first is 00:30 UTC.
        assert_eq!(
            berlin.first_instant_showing(local(2026, 10, 25, 2, 30)),
            utc(2026, 10, 25, 0, 30)
        );
        // Elsewhere, one instant.
        assert_eq!(
            berlin.first_instant_showing(local(2026, 3, 29, 7, 0)),
            utc(2026, 3, 29, 5, 0)
        );
        assert_eq!(
            Zone::Fixed(-180).first_instant_showing(local(2026, 3, 29, 7, 0)),
            utc(2026, 3, 29, 10, 0)
        );
    }
}
