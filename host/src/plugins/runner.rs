//! Running one loaded plugin on events: a small pool of live instances
//! reused across events, each call bounded by fuel, an epoch deadline, a
//! wall-clock timeout and the memory limit, and an instance thrown away after
//! a failure or after [`RECYCLE_AFTER`] calls.
//!
//! Plugins run on async runtime workers (the chain's calls on a runtime of
//! their own, [`super::runtime`]), so a call must never hold one for long: at
//! every epoch tick the call yields to the runtime (as `tokio::task::yield_now`
//! does, letting the I/O driver and the other tasks run) and then goes on,
//! until its deadline has passed, when it traps. A plugin spinning at its
//! ceiling therefore costs CPU, not the API's latency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::access::{HttpAccess, KvAccess};
use super::bindings::types;
use super::epoch::Running;
use super::loader::LoadedPlugin;
use super::memory_limit::MemoryLimit;
use super::state::PluginState;
use super::stats::PluginStats;
use super::world::Plugin;
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
    #[error("ran out of memory: exceeded its memory limit of {0} MiB")]
    Memory(u32),
    /// No instance could be made: the pool is full, or the component does not fit it.
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
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
    /// The bytes of values one plugin may keep in its key-value store.
    pub kv_max_bytes: u64,
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
    /// `loaded`, run in the engine that compiled it.
    pub fn new(loaded: LoadedPlugin, services: HostServices) -> RunningPlugin {
        let config = loaded.manifest.config_json();
        RunningPlugin {
            engine: loaded.pre.engine().clone(),
            loaded,
            stats: PluginStats::default(),
            services,
            config,
            idle: Mutex::new(Vec::new()),
            quarantined: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &str {
        &self.loaded.manifest.name
    }

    /// Whether this is a built-in output (never quarantined: see [`super::chain`]).
    pub fn is_builtin(&self) -> bool {
        self.loaded.builtin
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
        // The epoch advances while this is held, so the deadline can interrupt the call.
        let _running = Running::start();
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
            call_deadline: Instant::now(),
            log_lines: 0,
            kv: manifest.capabilities.kv.then(|| KvAccess {
                store: self.services.database.clone(),
                plugin: name.clone(),
                max_bytes: self.services.kv_max_bytes,
            }),
            http: (!manifest.capabilities.http.is_empty()).then(|| HttpAccess {
                requester: self.services.requester.clone(),
                allowed_hosts: manifest.capabilities.http.clone().into(),
                plugin: name.clone(),
            }),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        // Called at every epoch tick while wasm runs: yield to the runtime,
        // then go on for another tick, until the call's deadline has passed.
        // The thread is offered to the OS too, so other processes (a database
        // on the same machine) are not made to wait for a spinning plugin.
        store.epoch_deadline_callback(|store| {
            if Instant::now() >= store.data().call_deadline {
                return Ok(UpdateDeadline::Interrupt);
            }
            std::thread::yield_now();
            Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now())))
        });
        self.arm(&mut store)?;
        let deadline = Duration::from_millis(manifest.limits.deadline_ms.into()) + TIMEOUT_GRACE;
        let _running = Running::start();
        let start = async {
            let plugin = match self.loaded.pre.instantiate_async(&mut store).await {
                Ok(plugin) => plugin,
                Err(e) => {
                    let refused_growth = store.data().limits.refused_growth();
                    return Err(self.classify_instantiation(e, refused_growth));
                }
            };
            match plugin.call_init(&mut store, &self.config).await {
                Ok(init) => Ok((plugin, init)),
                Err(e) => Err(self.classify(e, store.data().limits.refused_growth())),
            }
        };
        let (plugin, init) = match tokio::time::timeout(deadline, start).await {
            Ok(Ok(started)) => started,
            Ok(Err(failure)) => return Err(failure),
            Err(_) => return Err(Failure::Timeout(manifest.limits.deadline_ms)),
        };
        init.map_err(Failure::Init)?;
        Ok(Live {
            store,
            plugin,
            calls: 0,
        })
    }

    /// Fresh fuel and deadline for the next call. The epoch deadline is the
    /// next tick: the callback set in [`RunningPlugin::instantiate`] decides
    /// there whether the call yields and goes on or has run out of time.
    fn arm(&self, store: &mut Store<PluginState>) -> Result<(), Failure> {
        let limits = self.loaded.manifest.limits;
        store.set_fuel(limits.fuel).map_err(|e| Failure::Trap(e.to_string()))?;
        store.data_mut().call_deadline = Instant::now() + Duration::from_millis(limits.deadline_ms.into());
        store.set_epoch_deadline(1);
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
        // First: a plugin denied memory may trap afterwards for that very
        // reason (an allocator that aborts), and is out of memory all the same.
        if refused_growth {
            return Failure::Memory(limits.memory_mb);
        }
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
        Failure::Trap(first_line(&error))
    }

    /// What a failed instantiation means: a trap or a refused memory as in
    /// [`RunningPlugin::classify`], anything else (the pool is full, the
    /// component does not fit it) an instantiation failure.
    fn classify_instantiation(&self, error: wasmtime::Error, refused_growth: bool) -> Failure {
        if refused_growth || error.downcast_ref::<Trap>().is_some() {
            return self.classify(error, refused_growth);
        }
        tracing::debug!(plugin = %self.name(), error = ?error, "a plugin could not be instantiated");
        Failure::Instantiate(first_line(&error))
    }
}

/// The first line of an error and its causes.
fn first_line(error: &wasmtime::Error) -> String {
    let text = format!("{error:#}");
    text.lines().next().unwrap_or_default().to_owned()
}
