//! Outbound HTTP on a user's behalf: `mediaUrl` fetches now, webhook targets
//! later. Everything here applies the outbound-URL policy of API.md, which is
//! independent of what the response is used for.

mod fetch;
mod file_name;
mod policy;
mod resolver;
#[cfg(test)]
mod tests;

pub use fetch::{FetchError, Fetched, Fetcher, MAX_REDIRECTS, check_redirect};
pub use policy::{Refused, UrlPolicy, refused_range};
pub use resolver::PolicyResolver;
