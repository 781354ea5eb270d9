//! The wall clock (capability `clock`): plugins have no other source of time.
//!
//! In native tests the clock reads the system time unless a test fixed it with
//! [`crate::testing::set_now_us`].

/// Now, in unix microseconds (the unit of [`wasap_events::Event::at_us`]).
pub fn now_us() -> i64 {
    imp::now()
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    now_us().div_euclid(1000)
}

/// Now, in unix seconds (the unit of message timestamps).
pub fn now_secs() -> i64 {
    now_us().div_euclid(1_000_000)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub use crate::bindings::wasap::plugin::clock::now;
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::testing::clock::now;
}
