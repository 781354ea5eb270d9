//! Which version of the `wasap:plugin` world a component was built against,
//! and one face over the versions' bindings, so that everything above the
//! loader (the runner, the chain, the actions) speaks the current version
//! only.
//!
//! The version is in every interface name a component imports
//! (`wasap:plugin/types@0.1.0`), and every plugin imports at least `types`
//! (its exports use `event` and `outcome`), so the imports say it. A plugin
//! of a released version (0.1, 0.2) is linked with that version's imports
//! (served by the same host code, see [`super::imports_previous`]), receives
//! its events converted to that version (an event of a kind added since is
//! not handed to it: it continues unchanged) and answers an outcome that is
//! lifted into the current one.

use wasmtime::component::{Component, HasSelf, InstancePre, Linker};
use wasmtime::{AsContextMut, Engine};

use super::bindings::{self, types, v0_1, v0_2};
use super::state::PluginState;

/// The interface names of the package start with this.
const PACKAGE: &str = "wasap:plugin/";

/// A version of the `wasap:plugin` package that the host links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorldVersion {
    /// `0.1.0`, the first release (frozen in `wit/0.1.0/`).
    V0_1,
    /// `0.2.0`: 0.1 plus the message actions (frozen in `wit/0.2.0/`).
    V0_2,
    /// `0.3.0`, the current version (`wit/`): 0.2 plus locations, contact
    /// cards, polls, forwarding, delete-for-me, mentions, link previews and
    /// the media options in actions, and the poll-vote and chat-state events.
    V0_3,
}

/// Why a component's version cannot be linked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error(
        "it was built against wasap:plugin@{0}, which this server does not support (it supports {supported})",
        supported = WorldVersion::SUPPORTED
    )]
    Unsupported(String),
    #[error("it imports two versions of wasap:plugin ({0} and {1}); build it against one")]
    Mixed(String, String),
}

impl WorldVersion {
    /// The version the SDK builds against.
    pub const CURRENT: WorldVersion = WorldVersion::V0_3;
    /// What an unsupported version's error lists.
    const SUPPORTED: &'static str = "0.1.0, 0.2.0 and 0.3.0";

    /// The package version, as interface names carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            WorldVersion::V0_1 => "0.1.0",
            WorldVersion::V0_2 => "0.2.0",
            WorldVersion::V0_3 => "0.3.0",
        }
    }

    fn parse(version: &str) -> Result<WorldVersion, VersionError> {
        match version {
            "0.1.0" => Ok(WorldVersion::V0_1),
            "0.2.0" => Ok(WorldVersion::V0_2),
            "0.3.0" => Ok(WorldVersion::V0_3),
            other => Err(VersionError::Unsupported(other.to_owned())),
        }
    }

    /// The version named by `imports` (a component's import names). A
    /// component that imports nothing of the package is taken as current
    /// (linking then says what does not fit).
    pub fn of_imports<'a>(imports: impl IntoIterator<Item = &'a str>) -> Result<WorldVersion, VersionError> {
        let mut found: Option<&str> = None;
        for name in imports {
            let Some(rest) = name.strip_prefix(PACKAGE) else {
                continue;
            };
            // An unversioned name is no version of ours: the linker refuses it.
            let Some((_, version)) = rest.split_once('@') else {
                continue;
            };
            match found {
                Some(seen) if seen != version => return Err(VersionError::Mixed(seen.to_owned(), version.to_owned())),
                _ => found = Some(version),
            }
        }
        found.map_or(Ok(WorldVersion::CURRENT), WorldVersion::parse)
    }

    /// The version `component` was built against.
    pub fn of(engine: &Engine, component: &Component) -> Result<WorldVersion, VersionError> {
        let ty = component.component_type();
        let names: Vec<&str> = ty.imports(engine).map(|(name, _)| name).collect();
        WorldVersion::of_imports(names)
    }
}

/// Adds the `types` interface and the granted imports of one version's
/// bindings module (`w`, in scope where this is used) to `linker`.
macro_rules! add_granted {
    ($linker:expr, $caps:expr) => {{
        let (linker, caps) = ($linker, $caps);
        w::types::add_to_linker::<_, HasSelf<PluginState>>(linker, |s| s)?;
        if caps.log {
            w::log::add_to_linker::<_, HasSelf<PluginState>>(linker, |s| s)?;
        }
        if caps.kv {
            w::kv::add_to_linker::<_, HasSelf<PluginState>>(linker, |s| s)?;
        }
        if caps.clock {
            w::clock::add_to_linker::<_, HasSelf<PluginState>>(linker, |s| s)?;
        }
        if !caps.http.is_empty() {
            w::http::add_to_linker::<_, HasSelf<PluginState>>(linker, |s| s)?;
        }
    }};
}

/// A linker with `version`'s types interface and the granted imports only.
pub fn linker(
    engine: &Engine,
    version: WorldVersion,
    caps: &wasap_plugin_manifest::Capabilities,
) -> wasmtime::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    match version {
        WorldVersion::V0_1 => {
            use v0_1::wasap::plugin as w;
            add_granted!(&mut linker, caps);
        }
        WorldVersion::V0_2 => {
            use v0_2::wasap::plugin as w;
            add_granted!(&mut linker, caps);
        }
        WorldVersion::V0_3 => {
            use bindings::wasap::plugin as w;
            add_granted!(&mut linker, caps);
        }
    }
    Ok(linker)
}

/// A component linked and checked against its version's world, ready to
/// instantiate.
#[derive(Clone)]
pub enum PluginPre {
    V0_1(v0_1::PluginPre<PluginState>),
    V0_2(v0_2::PluginPre<PluginState>),
    V0_3(bindings::PluginPre<PluginState>),
}

impl PluginPre {
    /// Checks that `instance_pre` exports `version`'s world.
    pub fn new(version: WorldVersion, instance_pre: InstancePre<PluginState>) -> wasmtime::Result<PluginPre> {
        Ok(match version {
            WorldVersion::V0_1 => PluginPre::V0_1(v0_1::PluginPre::new(instance_pre)?),
            WorldVersion::V0_2 => PluginPre::V0_2(v0_2::PluginPre::new(instance_pre)?),
            WorldVersion::V0_3 => PluginPre::V0_3(bindings::PluginPre::new(instance_pre)?),
        })
    }

    pub fn version(&self) -> WorldVersion {
        match self {
            PluginPre::V0_1(_) => WorldVersion::V0_1,
            PluginPre::V0_2(_) => WorldVersion::V0_2,
            PluginPre::V0_3(_) => WorldVersion::V0_3,
        }
    }

    pub fn component(&self) -> &Component {
        match self {
            PluginPre::V0_1(pre) => pre.instance_pre().component(),
            PluginPre::V0_2(pre) => pre.instance_pre().component(),
            PluginPre::V0_3(pre) => pre.instance_pre().component(),
        }
    }

    pub fn engine(&self) -> &Engine {
        match self {
            PluginPre::V0_1(pre) => pre.engine(),
            PluginPre::V0_2(pre) => pre.engine(),
            PluginPre::V0_3(pre) => pre.engine(),
        }
    }

    /// A new instance in `store`.
    pub async fn instantiate_async(&self, store: impl AsContextMut<Data = PluginState>) -> wasmtime::Result<Plugin> {
        Ok(match self {
            PluginPre::V0_1(pre) => Plugin::V0_1(pre.instantiate_async(store).await?),
            PluginPre::V0_2(pre) => Plugin::V0_2(pre.instantiate_async(store).await?),
            PluginPre::V0_3(pre) => Plugin::V0_3(pre.instantiate_async(store).await?),
        })
    }
}

/// A live plugin instance of either version, called in the current types.
pub enum Plugin {
    V0_1(v0_1::Plugin),
    V0_2(v0_2::Plugin),
    V0_3(bindings::Plugin),
}

impl Plugin {
    /// `init(config)`.
    pub async fn call_init(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Plugin::V0_1(plugin) => plugin.call_init(store, config).await,
            Plugin::V0_2(plugin) => plugin.call_init(store, config).await,
            Plugin::V0_3(plugin) => plugin.call_init(store, config).await,
        }
    }

    /// `handle-event(event)`; a released version's event is converted down
    /// and its outcome lifted up. An event of a kind the plugin's version
    /// does not have is not handed to it: it continues, with no actions.
    pub async fn call_handle_event(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        event: &types::Event,
    ) -> wasmtime::Result<types::Outcome> {
        match self {
            Plugin::V0_1(plugin) => match super::convert::event_to_v0_1(event) {
                Some(event) => Ok(plugin.call_handle_event(store, &event).await?.into()),
                None => Ok(unchanged()),
            },
            Plugin::V0_2(plugin) => match super::convert::event_to_v0_2(event) {
                Some(event) => Ok(plugin.call_handle_event(store, &event).await?.into()),
                None => Ok(unchanged()),
            },
            Plugin::V0_3(plugin) => plugin.call_handle_event(store, event).await,
        }
    }
}

/// What a plugin that is not handed an event answers for it.
fn unchanged() -> types::Outcome {
    types::Outcome {
        verdict: types::Verdict::Continue,
        actions: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
