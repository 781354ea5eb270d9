//! The wasmtime engines plugins run in: components, async calls, fuel,
//! epoch interruption and the pooling allocator, plus the thread that ticks
//! the epoch so wall-clock deadlines can interrupt a plugin (`epoch.rs`).
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

use std::sync::{Arc, OnceLock};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::compiled::CompiledComponents;
use super::epoch::Ticker;

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
    /// Advances both engines' epoch while plugin calls are in flight.
    _ticker: Ticker,
    /// The built-in components this engine compiled.
    compiled: CompiledComponents,
}

impl PluginEngine {
    /// Engines with a pool of `sizes` for the installed plugins and one of
    /// [`PoolSizes::builtins`] for the built-in outputs.
    pub fn new(sizes: PoolSizes) -> wasmtime::Result<PluginEngine> {
        let engine = Self::make_engine(sizes)?;
        let builtin_engine = Self::make_engine(PoolSizes::builtins())?;
        let ticker = Ticker::start([&engine, &builtin_engine])?;
        Ok(PluginEngine {
            engine,
            builtin_engine,
            _ticker: ticker,
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

#[cfg(test)]
mod tests {
    use wasmtime::Store;
    use wasmtime::component::{Component, Linker};

    use super::*;

    /// A component of `count` core instances of `module` (core module text).
    fn component_of(module: &str, count: u32) -> String {
        let instances: String = (0..count)
            .map(|i| format!("(core instance $i{i} (instantiate $m))"))
            .collect();
        format!("(component (core module $m {module}) {instances})")
    }

    #[test]
    fn a_component_above_a_per_component_bound_does_not_load() {
        // Totals large enough that only the per-component bounds can refuse.
        let engine = PluginEngine::new(PoolSizes {
            instances: 40,
            max_memory_mb: 1,
        })
        .unwrap();
        let cases = [
            ("core module instances", "", MAX_CORE_INSTANCES_PER_COMPONENT),
            ("Wasm linear memories", "(memory 1)", MAX_MEMORIES_PER_COMPONENT),
            ("tables", "(table 1 funcref)", MAX_TABLES_PER_COMPONENT),
        ];
        for (what, module, bound) in cases {
            for engine in [engine.engine(), engine.builtin_engine()] {
                Component::new(engine, component_of(module, bound))
                    .unwrap_or_else(|e| panic!("{bound} {what} are within the bound: {e:?}"));
                let refused = Component::new(engine, component_of(module, bound + 1))
                    .err()
                    .unwrap_or_else(|| panic!("{} {what} loaded", bound + 1));
                let message = format!("{refused:?}");
                assert!(
                    message.contains(&format!("contains {} {what}", bound + 1))
                        && message.contains(&format!("configured maximum of {bound}")),
                    "{message}"
                );
            }
        }
    }

    #[tokio::test]
    async fn installed_plugins_that_fill_their_pool_leave_the_builtins_room() {
        let engine = PluginEngine::new(PoolSizes {
            instances: 2,
            max_memory_mb: 1,
        })
        .unwrap();
        let instantiate = |engine: &Engine| {
            let engine = engine.clone();
            async move {
                let component = Component::new(&engine, component_of("(memory 1)", 1)).unwrap();
                let mut store = Store::new(&engine, ());
                store.set_fuel(1_000_000).unwrap();
                store.set_epoch_deadline(1_000_000);
                let instance = Linker::<()>::new(&engine)
                    .instantiate_async(&mut store, &component)
                    .await;
                instance.map(|_| store)
            }
        };
        // The installed plugins' pool is full...
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(instantiate(engine.engine()).await.expect("a slot of the pool"));
        }
        let Err(refused) = instantiate(engine.engine()).await else {
            panic!("a third instance fit a pool of two");
        };
        assert!(format!("{refused:?}").contains("maximum concurrent"), "{refused:?}");
        // ...and the built-in outputs' own pool still has room.
        for _ in 0..4 {
            held.push(instantiate(engine.builtin_engine()).await.expect("a built-in slot"));
        }
        drop(held);
        instantiate(engine.engine())
            .await
            .expect("slots come back when instances go");
    }
}
