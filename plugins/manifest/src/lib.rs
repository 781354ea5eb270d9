//! The wasap plugin manifest: `NAME.toml` beside `NAME.wasm`.
//!
//! It says which events and instances a plugin sees, where it runs in the chain, which
//! capabilities it is granted, its resource limits, its configuration and what happens
//! when it fails. The plugin build tool checks a component against it, and the host's
//! loader links only the imports it grants and checks every action against it.
//!
//! ```toml
//! name = "auto-reply"            # [a-z0-9-], the file stem of NAME.wasm and NAME.toml
//! version = "0.1.0"
//! description = "Answers keywords"
//! events = ["message"]           # kind names (wasap_events::EventKind::NAMES), or "*"
//! instances = ["*"]              # instance ids, or "*" (the default)
//! order = 100                    # lower runs first (default 100); outputs run last
//! failure = "open"               # "open": the event goes on unchanged; "closed": dropped
//!
//! [capabilities]                 # everything is denied unless granted here
//! log = true                     # import wasap:plugin/log
//! kv = true                      # import wasap:plugin/kv
//! clock = true                   # import wasap:plugin/clock
//! http = ["api.example.com"]     # import wasap:plugin/http, to these [scheme://]host[:port]
//!                                # only (https and port 443 unless the entry says otherwise)
//! send = true                    # actions send-text, send-media, react, edit, revoke,
//!                                # mark-read and chat-state
//! moderate = true                # actions group-participants, block-contact and
//!                                # reject-call
//! webhook = { subscribers = true, hosts = ["hooks.example.com"] }
//! publish = ["instance"]         # action publish, to these channels ("global", "instance")
//!
//! [limits]                       # every key optional; defaults in `Limits::default`
//! fuel = 50_000_000              # wasmtime fuel per event
//! deadline_ms = 500              # wall-clock time per event, HTTP included
//! memory_mb = 32                 # linear memory
//!
//! [config]                       # anything: given to the plugin's init as JSON
//! greeting = "hello"
//! ```

mod allow_list;
mod capabilities;

use serde::Deserialize;
use wasap_events::EventKind;

pub use allow_list::AllowEntry;
pub use capabilities::{Capabilities, ChannelKind, WebhookGrant, import_capability};

/// A parsed and checked plugin manifest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: lowercase letters, digits and `-`; also the file stem.
    pub name: String,
    /// The plugin's version, shown in listings and errors.
    pub version: String,
    /// What the plugin does, in one line.
    #[serde(default)]
    pub description: String,
    /// The event kinds the plugin sees ([`EventKind::NAMES`]), or `["*"]` for all.
    pub events: Vec<String>,
    /// The instances the plugin runs for, or `["*"]` for all.
    #[serde(default = "every")]
    pub instances: Vec<String>,
    /// The plugin's place in the chain: lower runs first; ties run in name order.
    #[serde(default = "default_order")]
    pub order: i32,
    /// What becomes of an event when the plugin traps, times out or runs out of fuel.
    #[serde(default)]
    pub failure: FailurePolicy,
    /// What the plugin may import and which actions it may ask for.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Resource limits per event.
    #[serde(default)]
    pub limits: Limits,
    /// The plugin's own configuration, given to its `init` as a JSON object.
    #[serde(default)]
    pub config: toml::Table,
}

/// What becomes of an event when its plugin fails on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// The event goes on as if the plugin had answered `continue`: right for bots and
    /// enrichers, whose failure should not hide messages from the outputs.
    #[default]
    Open,
    /// The event is dropped: right for filters, whose failure must not let through what
    /// they exist to stop.
    Closed,
}

/// Resource limits for one call of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wasmtime fuel per call (roughly one unit per instruction).
    pub fuel: u64,
    /// Wall-clock time per call in milliseconds, host calls (HTTP, kv) included.
    pub deadline_ms: u32,
    /// Linear memory, in MiB.
    pub memory_mb: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 50_000_000,
            deadline_ms: 500,
            memory_mb: 32,
        }
    }
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file is not valid TOML or does not have the manifest's shape.
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    /// The shape is right but a value is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

/// The default of `instances`: every instance.
fn every() -> Vec<String> {
    vec!["*".to_owned()]
}

fn default_order() -> i32 {
    100
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text)?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let invalid = |message: String| Err(ManifestError::Invalid(message));
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && !self.name.starts_with('-')
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return invalid(format!(
                "name {:?}: use 1 to 64 lowercase letters, digits and '-'",
                self.name
            ));
        }
        if self.version.trim().is_empty() {
            return invalid("version is empty".to_owned());
        }
        if self.events.is_empty() {
            return invalid("events is empty: list event kinds, or \"*\"".to_owned());
        }
        for kind in &self.events {
            if kind != "*" && !EventKind::NAMES.contains(&kind.as_str()) {
                return invalid(format!(
                    "unknown event kind {kind:?}; known: {}",
                    EventKind::NAMES.join(", ")
                ));
            }
        }
        if self.instances.is_empty() {
            return invalid("instances is empty: list instance ids, or \"*\"".to_owned());
        }
        let Limits {
            fuel,
            deadline_ms,
            memory_mb,
        } = self.limits;
        if fuel == 0 || deadline_ms == 0 || memory_mb == 0 || memory_mb > 4096 {
            return invalid(format!(
                "limits: fuel, deadline_ms and memory_mb must be positive and memory_mb at most 4096 (got {fuel}, {deadline_ms}, {memory_mb})"
            ));
        }
        self.capabilities.check().map_err(ManifestError::Invalid)
    }

    /// Whether the plugin sees events of kind `name`.
    pub fn wants_event(&self, name: &str) -> bool {
        self.events.iter().any(|kind| kind == "*" || kind == name)
    }

    /// Whether the plugin runs for `instance_id`.
    pub fn runs_for(&self, instance_id: &str) -> bool {
        self.instances
            .iter()
            .any(|instance| instance == "*" || instance == instance_id)
    }

    /// The `config` table as the JSON object the plugin's `init` receives.
    pub fn config_json(&self) -> String {
        // A TOML table always has a JSON form (datetimes become strings).
        serde_json::to_string(&self.config).expect("a TOML table serialises to JSON")
    }
}

#[cfg(test)]
mod tests;
