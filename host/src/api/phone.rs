//! Phone numbers as the API accepts them: international form, digits only.

use warp::http::StatusCode;

use super::error::ApiError;

/// Digits of an international number (`6281234567890`); a leading `+`,
/// spaces and dashes are tolerated and dropped. E.164 allows 15 digits; fewer
/// than 7 cannot be a full international number.
pub fn normalize(raw: &str) -> Result<String, ApiError> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let digits: String = trimmed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0') {
        Ok(digits)
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone",
            format!("{raw:?} is not a phone number in international form (digits only, e.g. 6281234567890)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn accepts_international_numbers_only() {
        assert_eq!(normalize("6281234567890").unwrap(), "6281234567890");
        assert_eq!(normalize("+62 812-3456-7890").unwrap(), "6281234567890");
        for bad in ["", "123", "0812345678", "62812abc", "1234567890123456", "62@s.whatsapp.net"] {
            assert!(normalize(bad).is_err(), "{bad} must be rejected");
        }
    }
}
