//! Who is calling: the admin token, an instance token, or nobody.
//!
//! API.md's model: the admin token opens every route; an instance token opens
//! only its own instance's routes and gets 403 elsewhere; no or an unknown
//! token gets 401. Tokens come from `Authorization: Bearer <token>` (and, for
//! WebSocket routes, `?token=`), are compared in constant time and never logged.

use warp::Filter;
use warp::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use crate::instances::token;

/// The bearer token of a request, if it has one.
#[derive(Debug, Clone)]
pub struct Credentials(Option<String>);

/// Extracts the bearer token from the `Authorization` header.
pub fn credentials() -> impl Filter<Extract = (Credentials,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization").map(|header: Option<String>| {
        Credentials(header.and_then(|h| {
            let (scheme, token) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
        }))
    })
}

impl AppState {
    /// Admin-only routes.
    pub fn require_admin(&self, credentials: &Credentials) -> Result<(), ApiError> {
        let token = presented(credentials)?;
        if token::secret_eq(token, &self.admin_token) {
            return Ok(());
        }
        match self.instances.instance_for_token(token) {
            Some(_) => Err(forbidden()),
            None => Err(invalid_token()),
        }
    }

    /// Routes of instance `id`: the admin token or that instance's token.
    pub fn require_instance(&self, credentials: &Credentials, id: &str) -> Result<(), ApiError> {
        let token = presented(credentials)?;
        if token::secret_eq(token, &self.admin_token) {
            return Ok(());
        }
        match self.instances.instance_for_token(token) {
            Some(owner) if owner == id => Ok(()),
            Some(_) => Err(forbidden()),
            None => Err(invalid_token()),
        }
    }
}

fn presented(credentials: &Credentials) -> Result<&str, ApiError> {
    credentials.0.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing token: send Authorization: Bearer <token>",
        )
    })
}

fn invalid_token() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "the token is not valid")
}

fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "this token is not allowed here: instance tokens only open their own instance's routes",
    )
}
