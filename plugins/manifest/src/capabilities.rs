//! Capabilities: deny by default, granted one by one in the manifest's `[capabilities]`.
//!
//! Import capabilities (`log`, `kv`, `clock`, `http`) decide which WIT interfaces are
//! linked; a component importing one it was not granted is refused at build and at load.
//! Action capabilities (`send`, `moderate`, `webhook`, `publish`) are checked per action.

use serde::Deserialize;

use crate::allow_list::AllowEntry;

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
    /// May import `wasap:plugin/http`, to these `[scheme://]host[:port]` entries (see
    /// [`AllowEntry`]): exact host names, or `*.example.com` for the subdomains of
    /// `example.com`; `https` on port 443 unless the entry says otherwise. Empty: not granted.
    pub http: Vec<String>,
    /// May ask for the actions that speak for the instance: `send-text`, `send-media`, and
    /// the actions on earlier messages and chats (`react`, `edit`, `revoke`, `mark-read`,
    /// `chat-state`).
    pub send: bool,
    /// May ask for the actions that moderate for the instance (since `wasap:plugin@0.3.0`):
    /// `group-participants` (add, remove, promote or demote members of a group),
    /// `block-contact` (block or unblock a contact) and `reject-call` (decline a ringing call).
    pub moderate: bool,
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
    /// Single URLs matching these entries (target `url`), as in [`Capabilities::http`].
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

    /// Whether a URL of `scheme`, `host` and `port` (`None`: the scheme's default) matches
    /// an allow-list entry: its scheme, its port and its host.
    pub fn url_allowed(allow_list: &[String], scheme: &str, host: &str, port: Option<u16>) -> bool {
        allow_list
            .iter()
            .filter_map(|entry| AllowEntry::parse(entry).ok())
            .any(|entry| entry.matches(scheme, host, port))
    }

    /// Whether `host` (a URL's host name) matches the host of an allow-list entry, whatever
    /// its scheme and port: for checks that see only a host (see [`Capabilities::url_allowed`]).
    pub fn host_allowed(allow_list: &[String], host: &str) -> bool {
        allow_list
            .iter()
            .filter_map(|entry| AllowEntry::parse(entry).ok())
            .any(|entry| entry.host_matches(host))
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let entries = self
            .http
            .iter()
            .chain(self.webhook.iter().flat_map(|grant| &grant.hosts));
        for entry in entries {
            AllowEntry::parse(entry).map_err(|e| format!("capabilities: {e}"))?;
        }
        Ok(())
    }
}
