//! RFC 3339 timestamps, written the way Go's `time.RFC3339Nano` writes UTC times.
//!
//! Both source formats come from Go servers: whole seconds print as `2025-07-13T11:05:51Z`, and
//! a fraction prints with its trailing zeros trimmed (`...04.147255Z`, `...04.5Z`). We format
//! by hand rather than through chrono so the crate stays dependency-light for wasm; the tests
//! cross-check against chrono.

/// `secs` (unix seconds) as RFC 3339 in UTC, e.g. `2023-10-15T10:30:00Z`.
pub fn rfc3339_from_secs(secs: i64) -> String {
    format_utc(secs, 0)
}

/// `ms` (unix milliseconds) as RFC 3339 in UTC, with the fraction trimmed.
pub fn rfc3339_from_millis(ms: i64) -> String {
    format_utc(ms.div_euclid(1000), ms.rem_euclid(1000) as u32 * 1000)
}

/// `us` (unix microseconds) as RFC 3339 in UTC, with the fraction trimmed.
pub fn rfc3339_from_micros(us: i64) -> String {
    format_utc(us.div_euclid(1_000_000), us.rem_euclid(1_000_000) as u32)
}

fn format_utc(secs: i64, micros: u32) -> String {
    let days = secs.div_euclid(86_400);
    let second_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if micros != 0 {
        let fraction = format!("{micros:06}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The proleptic Gregorian date of `days` since 1970-01-01.
///
/// Works in 400-year eras (146097 days each) counted from 0000-03-01, so that the leap day
/// falls at the end of each shifted year and needs no special case.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    const DAYS_FROM_0000_03_01_TO_EPOCH: i64 = 719_468;
    let shifted = days + DAYS_FROM_0000_03_01_TO_EPOCH;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    // Subtract the leap days seen so far in this era before dividing into 365-day years.
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: their lengths repeat in a 153-day, 5-month pattern.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_have_no_fraction() {
        assert_eq!(rfc3339_from_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_secs(1_697_365_800), "2023-10-15T10:30:00Z");
        assert_eq!(rfc3339_from_micros(1_765_149_720_000_000), "2025-12-07T23:22:00Z");
    }

    #[test]
    fn fractions_are_trimmed_like_go() {
        assert_eq!(
            rfc3339_from_micros(1_765_202_224_147_255),
            "2025-12-08T13:57:04.147255Z"
        );
        assert_eq!(rfc3339_from_micros(1_765_202_224_500_000), "2025-12-08T13:57:04.5Z");
        assert_eq!(rfc3339_from_micros(1_765_202_224_000_010), "2025-12-08T13:57:04.00001Z");
        assert_eq!(rfc3339_from_millis(1_765_202_224_120), "2025-12-08T13:57:04.12Z");
    }

    #[test]
    fn leap_days_and_times_before_the_epoch() {
        assert_eq!(rfc3339_from_secs(951_782_400), "2000-02-29T00:00:00Z");
        // 2100 is not a leap year: the day after 28 February is 1 March.
        assert_eq!(rfc3339_from_secs(4_107_456_000), "2100-02-28T00:00:00Z");
        assert_eq!(rfc3339_from_secs(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339_from_secs(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_from_micros(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(rfc3339_from_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn agrees_with_chrono_across_four_centuries() {
        use chrono::{DateTime, SecondsFormat};
        // A step that is not a multiple of a day, so times of day vary too.
        let step = 86_400 * 7 + 3_723;
        let mut secs: i64 = -2_208_988_800; // 1900-01-01
        while secs < 10_413_792_000 {
            // ...up to 2300-01-01
            let micros = secs.rem_euclid(1_000_000);
            let us = secs * 1_000_000 + micros;
            let expected = DateTime::from_timestamp_micros(us)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Micros, true);
            // chrono always prints six digits; Go (and we) trim trailing zeros.
            let (head, fraction) = expected.trim_end_matches('Z').split_once('.').unwrap();
            let fraction = fraction.trim_end_matches('0');
            let expected = if fraction.is_empty() {
                format!("{head}Z")
            } else {
                format!("{head}.{fraction}Z")
            };
            assert_eq!(rfc3339_from_micros(us), expected, "at {us} us");
            secs += step;
        }
    }
}
