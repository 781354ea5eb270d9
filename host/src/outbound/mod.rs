//! Outbound HTTP on a user's behalf: `mediaUrl` fetches ([`Fetcher`]),
//! plugins' `http` requests and, later, webhook deliveries ([`Requester`]).
//! Everything here applies the outbound-URL policy of docs/API.md, which is
//! independent of what the response is used for; both kinds of client are
//! built in one place ([`client`]) so they enforce it the same way.

mod client;
mod fetch;
mod file_name;
#[cfg(test)]
mod loopback;
mod policy;
mod request;
#[cfg(test)]
mod request_tests;
mod resolver;
#[cfg(test)]
mod tests;

pub use fetch::{FetchError, Fetched, Fetcher, MAX_REDIRECTS, check_redirect};
pub use policy::{Refused, UrlPolicy, refused_range};
pub use request::{DROPPED_REQUEST_HEADERS, OutboundRequest, OutboundResponse, Requester};
pub use resolver::PolicyResolver;
