//! [`MemoryLimit`]: the cap on a plugin store's memory, which remembers that it
//! refused a growth, so the runner can tell a plugin that ran out of memory
//! from one that trapped for another reason without reading wasmtime's
//! error messages (whose wording is not an API).

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// wasmtime's own [`StoreLimits`], with a record of refused memory growth.
pub struct MemoryLimit {
    limits: StoreLimits,
    refused_growth: bool,
}

impl MemoryLimit {
    /// At most `max_bytes` of linear memory; a growth past it traps.
    pub fn new(max_bytes: usize) -> MemoryLimit {
        MemoryLimit {
            limits: StoreLimitsBuilder::new()
                .memory_size(max_bytes)
                .trap_on_grow_failure(true)
                .build(),
            refused_growth: false,
        }
    }

    /// Whether a memory growth was refused (or failed) since the last [`MemoryLimit::reset`].
    pub fn refused_growth(&self) -> bool {
        self.refused_growth
    }

    /// Forgets earlier refusals, before a call.
    pub fn reset(&mut self) {
        self.refused_growth = false;
    }
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.refused_growth = true;
        }
        allowed
    }

    /// A growth the limit allowed but the allocator could not make (the
    /// pool's slot, or the OS, ran out): out of memory all the same.
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused_growth = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_growth_is_remembered_until_reset() {
        let mut limit = MemoryLimit::new(1 << 20);
        assert!(limit.memory_growing(0, 1 << 16, None).unwrap());
        assert!(!limit.refused_growth());
        assert!(limit.memory_growing(1 << 16, 2 << 20, None).is_err());
        assert!(limit.refused_growth());
        limit.reset();
        assert!(!limit.refused_growth());
    }
}
