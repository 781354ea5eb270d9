//! Who is calling: the admin token, an instance token, or nobody.
//!
//! docs/API.md's model: the admin token opens every route; an instance token opens
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

impl Credentials {
    /// The token presented, if any: to be hashed or compared, never logged.
    pub fn token(&self) -> Option<&str> {
        self.0.as_deref().filter(|t| !t.is_empty())
    }
}

/// Extracts the bearer token from the `Authorization` header.
pub fn credentials() -> impl Filter<Extract = (Credentials,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization").map(|header: Option<String>| {
        Credentials(header.and_then(|h| {
            let (scheme, token) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
        }))
    })
}

/// The token from the `Authorization` header or, failing that, from the
/// `token` query parameter: for the WebSocket routes only.
pub fn credentials_or_query() -> impl Filter<Extract = (Credentials,), Error = warp::Rejection> + Clone {
    let query = warp::query::raw()
        .map(|query: String| token_in_query(&query))
        .or(warp::any().map(|| None))
        .unify();
    credentials()
        .and(query)
        .map(|header: Credentials, query: Option<String>| match header.0 {
            Some(_) => header,
            None => Credentials(query),
        })
}

/// The percent-decoded value of `token=` in a query string.
fn token_in_query(query: &str) -> Option<String> {
    let value = query.split('&').find_map(|pair| pair.strip_prefix("token="))?;
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                decoded.push(b' ');
                i += 1;
            }
            byte => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
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

#[cfg(test)]
mod tests {
    use super::token_in_query;

    #[test]
    fn the_query_token_is_found_and_decoded() {
        assert_eq!(token_in_query("token=abc").as_deref(), Some("abc"));
        assert_eq!(token_in_query("x=1&token=a%2Fb&y=2").as_deref(), Some("a/b"));
        assert_eq!(token_in_query("mytoken=abc"), None);
        assert_eq!(token_in_query("token=%zz"), None);
        assert_eq!(token_in_query("token=%4"), None);
    }
}
