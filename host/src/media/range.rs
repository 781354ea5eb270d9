//! The `Range` request header of a media download (RFC 9110, section 14),
//! for single byte ranges: what part of a file of a known length to send.
//!
//! Anything else (several ranges at once, another unit, a malformed value) is
//! ignored and the whole file sent, which the RFC allows; players and
//! download managers ask for one range at a time.

/// What to answer a request for a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole file, 200.
    Whole,
    /// Bytes `start..=end`, 206 with `Content-Range`.
    Part { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// The answer to `range` (the header's value, if any) for a file of `len` bytes.
pub fn answer(range: Option<&str>, len: u64) -> RangeAnswer {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let number = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            // More digits than a u64 holds: as far as any file goes.
            Some(Some(s.parse().unwrap_or(u64::MAX)))
        } else {
            None
        }
    };
    let (Some(first), Some(last)) = (number(first), number(last)) else {
        return RangeAnswer::Whole;
    };
    match (first, last) {
        // `bytes=-N`: the last N bytes.
        (None, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part {
                    start: len.saturating_sub(suffix),
                    end: len - 1,
                }
            }
        }
        // `bytes=A-` and `bytes=A-B`: from A, to B or the end.
        (Some(start), last) => {
            if last.is_some_and(|last| last < start) {
                return RangeAnswer::Whole;
            }
            if start >= len {
                return RangeAnswer::Unsatisfiable;
            }
            let end = last.map_or(len - 1, |last| last.min(len - 1));
            RangeAnswer::Part { start, end }
        }
        (None, None) => RangeAnswer::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::*;
    use super::*;

    #[test]
    fn single_ranges_are_resolved_against_the_length() {
        let part = |start, end| Part { start, end };
        assert_eq!(answer(None, 100), Whole);
        assert_eq!(answer(Some("bytes=0-9"), 100), part(0, 9));
        assert_eq!(answer(Some("bytes=10-"), 100), part(10, 99));
        assert_eq!(answer(Some("bytes=90-1000"), 100), part(90, 99));
        assert_eq!(answer(Some("bytes=-10"), 100), part(90, 99));
        assert_eq!(answer(Some("bytes=-1000"), 100), part(0, 99));
        assert_eq!(answer(Some(" bytes= 5 - 6 "), 100), part(5, 6));
        assert_eq!(answer(Some("bytes=99-99"), 100), part(99, 99));
        assert_eq!(answer(Some("bytes=0-99999999999999999999999"), 100), part(0, 99));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(answer(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(answer(Some("bytes=100-200"), 100), Unsatisfiable);
        assert_eq!(answer(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(answer(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(answer(Some("bytes=99999999999999999999999-"), 100), Unsatisfiable);
    }

    #[test]
    fn anything_else_is_ignored() {
        for ignored in [
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=abc",
            "bytes=5-1",
            "bytes=-",
            "bytes=1-x",
            "bytes=+1-2",
            "",
        ] {
            assert_eq!(answer(Some(ignored), 100), Whole, "{ignored:?}");
        }
    }
}
