//! Running one loaded plugin on events: a small pool of live instances
//! reused across events, each call bounded by fuel, an epoch deadline, a
//! wall-clock timeout and the memory limit, and an instance thrown away after
//! a failure or after [`RECYCLE_AFTER`] calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use super::access::{HttpAccess, KvAccess};
use super::bindings::{Plugin, types};
use super::engine::PluginEngine;
use super::loader::LoadedPlugin;
use super::memory_limit::MemoryLimit;
use super::state::PluginState;
use super::stats::PluginStats;
use crate::outbound::Requester;
use crate::store::Store as Database;

/// A live instance is replaced after this many calls, so state a plugin
/// accumulates (leaks included) cannot grow without end.
pub const RECYCLE_AFTER: u32 = 10_000;
/// Idle live instances kept per plugin.
const MAX_IDLE: usize = 4;
/// Slack on top of the deadline before the host gives up waiting on a call
/// that sits in a host import (the epoch only interrupts wasm code).
const TIMEOUT_GRACE: Duration = Duration::from_millis(50);

/// How a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    #[error("ran out of fuel ({0} units)")]
    OutOfFuel(u64),
    #[error("exceeded its deadline of {0} ms")]
    Timeout(u32),
    #[error("exceeded its memory limit of {0} MiB")]
    Memory(u32),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("init failed: {0}")]
    Init(String),
    #[error("answered with an invalid outcome: {0}")]
    BadOutput(String),
}

/// What the host lends plugin instances.
#[derive(Clone)]
pub struct HostServices {
    pub database: Database,
    pub requester: Requester,
}

/// A loaded plugin with its live instances and counters.
pub struct RunningPlugin {
    pub loaded: LoadedPlugin,
    pub stats: PluginStats,
    engine: wasmtime::Engine,
    services: HostServices,
    config: String,
    idle: Mutex<Vec<Live>>,
    quarantined: AtomicBool,
}

struct Live {
    store: Store<PluginState>,
    plugin: Plugin,
    calls: u32,
}

impl RunningPlugin {
    pub fn new(loaded: LoadedPlugin, engine: &PluginEngine, services: HostServices) -> RunningPlugin {
        let config = loaded.manifest.config_json();
        RunningPlugin {
            loaded,
            stats: PluginStats::default(),
            engine: engine.engine().clone(),
            services,
            config,
            idle: Mutex::new(Vec::new()),
            quarantined: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &str {
        &self.loaded.manifest.name
    }

    /// Makes sure the plugin instantiates and its `init` accepts its config.
    pub async fn warm_up(&self) -> Result<(), Failure> {
        let live = self.instantiate().await?;
        self.put_back(live);
        Ok(())
    }

    /// Runs the plugin on one event; the fuel it used comes back with the
    /// outcome, and a failure comes back with how many calls in a row failed.
    pub async fn handle(&self, event: &types::Event) -> Result<(types::Outcome, u64), (Failure, u32)> {
        let started = Instant::now();
        let result = self.call(event).await;
        let failures_in_a_row = self
            .stats
            .record(started.elapsed(), result.as_ref().map(|(outcome, _)| outcome));
        result.map_err(|failure| (failure, failures_in_a_row))
    }

    async fn call(&self, event: &types::Event) -> Result<(types::Outcome, u64), Failure> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut live = match idle {
            Some(live) => live,
            None => self.instantiate().await?,
        };
        let limits = self.loaded.manifest.limits;
        self.arm(&mut live.store)?;
        live.store.data_mut().begin_call();
        let deadline = Duration::from_millis(limits.deadline_ms.into());
        let call = live.plugin.call_handle_event(&mut live.store, event);
        let outcome = match tokio::time::timeout(deadline + TIMEOUT_GRACE, call).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => return Err(self.classify(e, live.store.data().limits.refused_growth())),
            // Abandoned mid-call: the instance is in no state to be reused.
            Err(_) => return Err(Failure::Timeout(limits.deadline_ms)),
        };
        let fuel_used = limits.fuel.saturating_sub(live.store.get_fuel().unwrap_or(0));
        live.calls += 1;
        if live.calls < RECYCLE_AFTER {
            self.put_back(live);
        }
        Ok((outcome, fuel_used))
    }

    /// A fresh instance, initialised with the plugin's config.
    async fn instantiate(&self) -> Result<Live, Failure> {
        let manifest = &self.loaded.manifest;
        let name: Arc<str> = Arc::from(manifest.name.as_str());
        let memory_bytes = manifest.limits.memory_mb as usize * 1024 * 1024;
        let state = PluginState {
            name: name.clone(),
            limits: MemoryLimit::new(memory_bytes),
            log_lines: 0,
            kv: manifest.capabilities.kv.then(|| KvAccess {
                store: self.services.database.clone(),
                plugin: name.clone(),
            }),
            http: (!manifest.capabilities.http.is_empty()).then(|| HttpAccess {
                requester: self.services.requester.clone(),
                allowed_hosts: manifest.capabilities.http.clone().into(),
                plugin: name.clone(),
            }),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        self.arm(&mut store)?;
        let deadline = Duration::from_millis(manifest.limits.deadline_ms.into()) + TIMEOUT_GRACE;
        let start = async {
            let plugin = self.loaded.pre.instantiate_async(&mut store).await?;
            let init = plugin.call_init(&mut store, &self.config).await?;
            Ok::<_, wasmtime::Error>((plugin, init))
        };
        let (plugin, init) = match tokio::time::timeout(deadline, start).await {
            Ok(Ok(started)) => started,
            Ok(Err(e)) => return Err(self.classify(e, store.data().limits.refused_growth())),
            Err(_) => return Err(Failure::Timeout(manifest.limits.deadline_ms)),
        };
        init.map_err(Failure::Init)?;
        Ok(Live {
            store,
            plugin,
            calls: 0,
        })
    }

    /// Fresh fuel and deadline for the next call.
    fn arm(&self, store: &mut Store<PluginState>) -> Result<(), Failure> {
        let limits = self.loaded.manifest.limits;
        store.set_fuel(limits.fuel).map_err(|e| Failure::Trap(e.to_string()))?;
        store.set_epoch_deadline(PluginEngine::ticks(Duration::from_millis(limits.deadline_ms.into())));
        store.epoch_deadline_trap();
        Ok(())
    }

    fn put_back(&self, live: Live) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(live);
        }
    }

    pub fn is_quarantined(&self) -> bool {
        self.quarantined.load(Ordering::Relaxed)
    }

    /// Quarantines the plugin; `true` when it was not quarantined before.
    pub fn quarantine(&self) -> bool {
        !self.quarantined.swap(true, Ordering::Relaxed)
    }

    /// Drops every idle instance (after a failure, or before the plugin goes).
    pub fn drain(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// What `error` means, given whether the store's [`MemoryLimit`] refused
    /// a memory growth during the call.
    fn classify(&self, error: wasmtime::Error, refused_growth: bool) -> Failure {
        let limits = self.loaded.manifest.limits;
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => return Failure::OutOfFuel(limits.fuel),
            Some(Trap::Interrupt) => return Failure::Timeout(limits.deadline_ms),
            // The trap itself, not the wasm backtrace around it: that goes to the log.
            Some(trap) => {
                tracing::debug!(plugin = %self.name(), error = ?error, "plugin trapped");
                return Failure::Trap(trap.to_string());
            }
            None => {}
        }
        if refused_growth {
            return Failure::Memory(limits.memory_mb);
        }
        let text = format!("{error:#}");
        Failure::Trap(text.lines().next().unwrap_or_default().to_owned())
    }
}
