//! Capabilities: deny by default, granted one by one in the manifest's `[capabilities]`.
//!
//! Import capabilities (`log`, `kv`, `clock`, `http`) decide which WIT interfaces are
//! linked; a component importing one it was not granted is refused at build and at load.
//! Action capabilities (`send`, `webhook`, `publish`) are checked per action.

use serde::Deserialize;

/// What a plugin is granted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capabilities {
    /// May import `wasap:plugin/log`.
    pub log: bool,
    /// May import `wasap:plugin/kv`.
    pub kv: bool,
    /// May import `wasap:plugin/clock`.
    pub clock: bool,
    /// May import `wasap:plugin/http`, to these hosts: exact names, or `*.example.com`
    /// for the subdomains of `example.com`. Empty: not granted.
    pub http: Vec<String>,
    /// May ask for `send-text` and `send-media` actions.
    pub send: bool,
    /// May ask for `webhook` actions.
    pub webhook: Option<WebhookGrant>,
    /// May ask for `publish` actions on these channels.
    pub publish: Vec<ChannelKind>,
}

/// Which webhook targets a plugin may queue requests for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookGrant {
    /// The webhooks configured in the server (target `subscribers`).
    pub subscribers: bool,
    /// Single URLs on these hosts (target `url`), as in [`Capabilities::http`].
    pub hosts: Vec<String>,
}

/// A kind of WebSocket channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// `/ws`, the admin's channel.
    Global,
    /// `/api/listen/{instance}`, of the event's own instance.
    Instance,
}

/// The capability that grants importing `interface` (a WIT interface name such as
/// `wasap:plugin/kv@0.1.0`); `Some("")` for the types-only interface, which every
/// plugin may import; `None` for an interface that no capability grants.
pub fn import_capability(interface: &str) -> Option<&'static str> {
    let unversioned = interface.split('@').next().unwrap_or(interface);
    match unversioned {
        "wasap:plugin/types" => Some(""),
        "wasap:plugin/log" => Some("log"),
        "wasap:plugin/kv" => Some("kv"),
        "wasap:plugin/clock" => Some("clock"),
        "wasap:plugin/http" => Some("http"),
        _ => None,
    }
}

impl Capabilities {
    /// Whether importing `interface` is granted (see [`import_capability`]).
    pub fn grants_import(&self, interface: &str) -> bool {
        match import_capability(interface) {
            Some("") => true,
            Some("log") => self.log,
            Some("kv") => self.kv,
            Some("clock") => self.clock,
            Some("http") => !self.http.is_empty(),
            _ => false,
        }
    }

    /// Whether `host` (a URL's host name) matches an allow-list entry.
    pub fn host_allowed(allow_list: &[String], host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        allow_list.iter().any(|entry| match entry.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            None => host == entry.to_ascii_lowercase(),
        })
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let hosts = self
            .http
            .iter()
            .chain(self.webhook.iter().flat_map(|grant| &grant.hosts));
        for host in hosts {
            let bare = host.strip_prefix("*.").unwrap_or(host);
            let ok = !bare.is_empty()
                && bare
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return Err(format!(
                    "capabilities: {host:?} is not a host name (no scheme, port or path; `*.` allowed in front)"
                ));
            }
        }
        Ok(())
    }
}
