//! The global allocator of every process that links the server: jemalloc
//! rather than the system's malloc, and the options it starts with.
//!
//! Every event and request goes through many short-lived allocations made
//! and freed on the runtime's threads. In a webhook burst glibc's malloc
//! spent about a sixth of the server's CPU on them; with jemalloc the burst
//! figures rose by about 15 % on PostgreSQL, and the server's resident memory
//! went down, not up (BENCHMARKS.md, "Series G, an eleventh time").
//!
//! It is set here, in the library, not in `main.rs`, so that the test
//! binaries, which start the server through [`crate::Server`] (in-process or
//! as a child process of their own), run on the allocator the `wasap`
//! binary runs on.

use std::ffi::c_char;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The options jemalloc reads when it starts, before `main`: freed memory
/// goes back to the system about a second after it was last used (not ten,
/// jemalloc's default), in one step (no lazily freed stage that still counts
/// in the resident size), and background threads do it, so that an idle
/// server returns what a burst left behind. `_RJEM_MALLOC_CONF` in the
/// environment is read after it and can change any of them.
///
/// jemalloc declares the symbol weak, with no options; this definition
/// replaces it at link time.
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: Option<&'static c_char> =
    // SAFETY: a C string literal is static and NUL-terminated.
    Some(unsafe { &*c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() });

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, c_void};

    /// Reads jemalloc's option `name` as a `T`.
    fn option<T: Default>(name: &CStr) -> T {
        let mut value = T::default();
        let mut size = size_of::<T>();
        // SAFETY: `value` is a `T` of `size` bytes, the size mallctl checks
        // against the option's own; nothing is written to jemalloc.
        let status = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast::<c_void>(),
                &mut size,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(status, 0, "mallctl({name:?}) failed");
        value
    }

    #[test]
    fn jemalloc_starts_with_our_options() {
        // mallctl starts jemalloc itself if nothing has allocated yet.
        assert!(option::<bool>(c"opt.background_thread"));
        assert_eq!(option::<isize>(c"opt.dirty_decay_ms"), 1000);
        assert_eq!(option::<isize>(c"opt.muzzy_decay_ms"), 0);
    }
}
