//! Name resolution under the outbound-URL policy.
//!
//! reqwest asks this resolver for every host name it connects to, on the
//! first request and on every redirect hop, and connects only to what it
//! returns. Every address the policy refuses is dropped here, so a name that
//! points at a private address, or is re-pointed at one between a check and
//! the connection (DNS rebinding), can never be reached: the check and the
//! connection use the same answer. IP-literal hosts never reach a resolver;
//! [`super::UrlPolicy::check_url`] covers them.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::{Refused, UrlPolicy};

/// Resolves with the system resolver (through tokio), keeping only the
/// addresses `policy` allows.
#[derive(Debug, Clone, Copy)]
pub struct PolicyResolver {
    policy: UrlPolicy,
}

impl PolicyResolver {
    pub fn new(policy: UrlPolicy) -> PolicyResolver {
        PolicyResolver { policy }
    }

    /// The allowed addresses of `host`; an error when there are none.
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        // Port 0: reqwest puts the URL's port in.
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let mut first_refused = None;
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|addr| match self.policy.check_ip(addr.ip()) {
                Ok(()) => true,
                Err(refused) => {
                    first_refused.get_or_insert(refused);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), first_refused) {
            (false, _) => Ok(allowed),
            (true, Some(Refused::Address { addr, range })) => Err(Box::new(Refused::Resolved {
                host: host.to_owned(),
                addr,
                range,
            })),
            (true, _) => Err(format!("{host} has no addresses").into()),
        }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = *self;
        Box::pin(async move {
            let addrs = resolver.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_of_refused_addresses_resolve_to_nothing() {
        let strict = PolicyResolver::new(UrlPolicy { allow_private: false });
        let error = strict.lookup("localhost").await.unwrap_err();
        let refused = error.downcast_ref::<Refused>().expect("a policy refusal");
        assert!(
            matches!(refused, Refused::Resolved { host, .. } if host == "localhost"),
            "{refused:?}"
        );
        // Literal addresses given as names are filtered too.
        assert!(strict.lookup("127.0.0.1").await.is_err());
        assert!(strict.lookup("::1").await.is_err());

        let lax = PolicyResolver::new(UrlPolicy { allow_private: true });
        let addrs = lax.lookup("localhost").await.unwrap();
        assert!(
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
            "{addrs:?}"
        );
    }
}
