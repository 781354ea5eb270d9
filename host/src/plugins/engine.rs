//! The wasmtime engines plugins run in: components, async calls, fuel,
//! epoch interruption and the pooling allocator, plus the thread that ticks
//! the epoch so wall-clock deadlines can interrupt a plugin.
//!
//! Fuel bounds the work of one call; the epoch deadline bounds its wall-clock
//! time (a plugin waiting in a host call does not burn fuel); the pooling
//! allocator reserves instance slots up front, so a flood of instantiations
//! cannot exhaust the host, and `StoreLimits` caps each plugin's memory below
//! the pool's slot size. What one component may declare (core instances,
//! memories, tables) is bounded too, so a single plugin cannot take a large
//! share of the pool; a component above a bound does not load.
//!
//! Plugins run in two engines of one configuration but separate pools: the
//! built-in outputs in a pool of their own, so that however many instances
//! the installed plugins hold, the outputs of every tenant still find room.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::compiled::CompiledComponents;

/// How often the epoch advances: the granularity of wall-clock deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Core module instances one component may hold (a Python component built by
/// componentize-py holds about 40, a Rust or JS one 2 to 4).
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
/// Linear memories one component may define.
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 4;
/// Tables one component may define.
pub const MAX_TABLES_PER_COMPONENT: u32 = 16;

/// Sizes of the pool of plugin instances.
#[derive(Debug, Clone, Copy)]
pub struct PoolSizes {
    /// Live component instances across all plugins.
    pub instances: u32,
    /// The most linear memory any one plugin may be granted, in MiB (the
    /// ceiling `WASAP_PLUGIN_MAX_MEMORY_MB` is at most this).
    pub max_memory_mb: u32,
}

impl Default for PoolSizes {
    fn default() -> Self {
        PoolSizes {
            instances: 256,
            max_memory_mb: 4096,
        }
    }
}

impl PoolSizes {
    /// The pool reserved for the built-in outputs: live instances of the
    /// outputs only (each keeps a few idle, plus one per call in flight).
    pub fn builtins() -> PoolSizes {
        PoolSizes {
            instances: 128,
            max_memory_mb: 256,
        }
    }
}

/// Why the process's plugin engine could not be made. Every caller of
/// [`PluginEngine::shared`] gets the same error, hence the shared source.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct PluginEngineError(Arc<dyn std::error::Error + Send + Sync>);

impl From<wasmtime::Error> for PluginEngineError {
    fn from(error: wasmtime::Error) -> PluginEngineError {
        PluginEngineError(Arc::from(error.into_boxed_dyn_error()))
    }
}

/// The engines and their epoch ticker; the ticker stops when this is dropped.
pub struct PluginEngine {
    /// Installed plugins.
    engine: Engine,
    /// The built-in outputs, in a pool of their own.
    builtin_engine: Engine,
    ticking: Arc<AtomicBool>,
    /// The built-in components this engine compiled.
    compiled: CompiledComponents,
}

impl PluginEngine {
    /// Engines with a pool of `sizes` for the installed plugins and one of
    /// [`PoolSizes::builtins`] for the built-in outputs.
    pub fn new(sizes: PoolSizes) -> wasmtime::Result<PluginEngine> {
        let engine = Self::make_engine(sizes)?;
        let builtin_engine = Self::make_engine(PoolSizes::builtins())?;
        let ticking = Arc::new(AtomicBool::new(true));
        let (weak, weak_builtin, flag) = (engine.weak(), builtin_engine.weak(), ticking.clone());
        std::thread::Builder::new()
            .name("wasap-plugin-epoch".into())
            .spawn(move || {
                while flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match (weak.upgrade(), weak_builtin.upgrade()) {
                        (Some(engine), Some(builtin_engine)) => {
                            engine.increment_epoch();
                            builtin_engine.increment_epoch();
                        }
                        _ => break,
                    }
                }
            })?;
        Ok(PluginEngine {
            engine,
            builtin_engine,
            ticking,
            compiled: CompiledComponents::default(),
        })
    }

    fn make_engine(sizes: PoolSizes) -> wasmtime::Result<Engine> {
        let mut pool = PoolingAllocationConfig::default();
        // A Rust or JS component holds a few core instances, memories and tables.
        pool.total_component_instances(sizes.instances)
            .total_core_instances(sizes.instances * 4)
            .total_memories(sizes.instances * 2)
            .total_tables(sizes.instances * 4)
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
            .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
            .max_memory_size(sizes.max_memory_mb as usize * 1024 * 1024);
        let mut config = Config::new();
        // wasmtime's default 4 GiB reservation (plus guard pages) per memory
        // slot lets compiled code skip explicit bounds checks on loads and
        // stores (about 5% of the auto-reply hop, BENCHMARKS.md). It is
        // address space, not memory: the 768 slots of both pools take about 3 TiB of the
        // 128 TiB a 64-bit Linux process has, and `StoreLimits` still caps
        // what a plugin may use.
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Engine::new(&config)
    }

    /// The process's engine, made on first use. One engine serves every
    /// server in the process (tests start many), so the pool's address space
    /// and the epoch thread exist once.
    pub fn shared() -> Result<Arc<PluginEngine>, PluginEngineError> {
        static SHARED: OnceLock<Result<Arc<PluginEngine>, PluginEngineError>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                PluginEngine::new(PoolSizes::default())
                    .map(Arc::new)
                    .map_err(PluginEngineError::from)
            })
            .clone()
    }

    /// The engine of installed plugins.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine of the built-in outputs.
    pub fn builtin_engine(&self) -> &Engine {
        &self.builtin_engine
    }

    /// The built-in components this engine compiled, for every server using it.
    pub(super) fn compiled(&self) -> &CompiledComponents {
        &self.compiled
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}
