//! Phone numbers in request bodies and paths: international form, digits only.

use warp::http::StatusCode;

use super::error::ApiError;
use crate::messaging::{RecipientError, normalize_phone};

/// The digits of an international number, or a 422 `invalid_phone`.
pub fn normalize(raw: &str) -> Result<String, ApiError> {
    normalize_phone(raw).map_err(ApiError::from)
}

impl From<RecipientError> for ApiError {
    fn from(e: RecipientError) -> ApiError {
        let code = match e {
            RecipientError::InvalidPhone(_) => "invalid_phone",
            RecipientError::InvalidJid(_) => "invalid_recipient",
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
    }
}
