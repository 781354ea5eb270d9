//! Compiled built-in components, kept in memory by the digest of their bytes.
//!
//! Every server of the process loads the same components embedded in the
//! binary, and each would otherwise compile them again with Cranelift (about
//! a second each; the tests start dozens of servers in one process). The
//! cache belongs to one [`super::PluginEngine`], because a component runs only
//! in the engine that compiled it: the process's servers share one engine
//! ([`super::PluginEngine::shared`]), and an engine made with another
//! configuration has a cache of its own.
//!
//! Plugins from the plugins directory are not kept here: the on-disk artifact
//! cache already spares their restarts, and a reload that compiles (as the
//! plugin benchmarks measure) should compile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::Component;

/// Components kept at most: the built-ins of this binary, with room to spare.
const CAPACITY: usize = 16;

/// One engine's compiled components by hex SHA-256 of their bytes.
#[derive(Default)]
pub struct CompiledComponents {
    /// A slot per digest, locked while its component compiles, so servers
    /// starting at the same time compile it once and the others wait for it.
    slots: Mutex<HashMap<String, Arc<Mutex<Option<Component>>>>>,
}

impl CompiledComponents {
    /// The component of `digest`, compiled by `compile` unless an earlier
    /// call did. `compile` must use the engine this cache belongs to.
    pub fn get_or_compile<E>(
        &self,
        digest: &str,
        compile: impl FnOnce() -> Result<Component, E>,
    ) -> Result<Component, E> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if slots.len() >= CAPACITY && !slots.contains_key(digest) {
                drop(slots);
                return compile();
            }
            slots.entry(digest.to_owned()).or_default().clone()
        };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(component) = slot.as_ref() {
            return Ok(component.clone());
        }
        let component = compile()?;
        *slot = Some(component.clone());
        Ok(component)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_digest_compiles_once_and_a_failure_is_not_kept() {
        let engine = wasmtime::Engine::default();
        let cache = CompiledComponents::default();
        let compiles = Cell::new(0);
        let compile = || {
            compiles.set(compiles.get() + 1);
            Component::new(&engine, "(component)")
        };
        assert!(cache.get_or_compile("a", compile).is_ok());
        assert!(cache.get_or_compile("a", compile).is_ok());
        assert_eq!(compiles.get(), 1);
        assert!(cache.get_or_compile("b", || Err("broken")).is_err());
        assert!(cache.get_or_compile("b", compile).is_ok());
        assert_eq!(compiles.get(), 2);
    }
}
