//! Phone numbers in request bodies and paths: international form, digits only.

use warp::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use crate::messaging::{RecipientError, normalize_phone};

/// The digits of an international number, or a 422 `invalid_phone`.
pub fn normalize(raw: &str) -> Result<String, ApiError> {
    normalize_phone(raw).map_err(ApiError::from)
}

/// The instance whose own number is `raw`, for the `/api/by-number/{phone}`
/// routes: 422 `invalid_phone`, or 404 `instance_not_found` when none has it.
pub(super) async fn instance_by_number(state: &AppState, raw: &str) -> Result<String, ApiError> {
    let number = normalize(raw)?;
    Ok(state.instances.find_by_phone(&number).await?)
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
