//! The one wasmtime engine all plugins run in: components, async calls, fuel,
//! epoch interruption and the pooling allocator, plus the thread that ticks
//! the epoch so wall-clock deadlines can interrupt a plugin.
//!
//! Fuel bounds the work of one call; the epoch deadline bounds its wall-clock
//! time (a plugin waiting in a host call does not burn fuel); the pooling
//! allocator reserves instance slots up front, so a flood of instantiations
//! cannot exhaust the host, and `StoreLimits` caps each plugin's memory below
//! the pool's slot size.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::compiled::CompiledComponents;

/// How often the epoch advances: the granularity of wall-clock deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Sizes of the pool of plugin instances.
#[derive(Debug, Clone, Copy)]
pub struct PoolSizes {
    /// Live component instances across all plugins.
    pub instances: u32,
    /// The most linear memory any one plugin may be granted, in MiB.
    pub max_memory_mb: u32,
}

impl Default for PoolSizes {
    fn default() -> Self {
        PoolSizes {
            instances: 256,
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

/// The engine and its epoch ticker; the ticker stops when this is dropped.
pub struct PluginEngine {
    engine: Engine,
    ticking: Arc<AtomicBool>,
    /// The built-in components this engine compiled.
    compiled: CompiledComponents,
}

impl PluginEngine {
    pub fn new(sizes: PoolSizes) -> wasmtime::Result<PluginEngine> {
        let mut pool = PoolingAllocationConfig::default();
        // A Rust or JS component holds a few core instances, memories and tables.
        pool.total_component_instances(sizes.instances)
            .total_core_instances(sizes.instances * 4)
            .total_memories(sizes.instances * 2)
            .total_tables(sizes.instances * 4)
            .max_memory_size(sizes.max_memory_mb as usize * 1024 * 1024);
        let mut config = Config::new();
        // wasmtime's default 4 GiB reservation (plus guard pages) per memory
        // slot lets compiled code skip explicit bounds checks on loads and
        // stores (about 5% of the auto-reply hop, BENCHMARKS.md). It is
        // address space, not memory: 512 slots take about 2 TiB of the
        // 128 TiB a 64-bit Linux process has, and `StoreLimits` still caps
        // what a plugin may use.
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let ticking = Arc::new(AtomicBool::new(true));
        let (weak, flag) = (engine.weak(), ticking.clone());
        std::thread::Builder::new()
            .name("wasap-plugin-epoch".into())
            .spawn(move || {
                while flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(PluginEngine {
            engine,
            ticking,
            compiled: CompiledComponents::default(),
        })
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

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The built-in components this engine compiled, for every server using it.
    pub(super) fn compiled(&self) -> &CompiledComponents {
        &self.compiled
    }

    /// Epoch ticks in a wall-clock deadline (at least one).
    pub fn ticks(deadline: Duration) -> u64 {
        (deadline.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}
