//! The plugin's private key-value store (capability `kv`), kept in the server's database.
//!
//! Keys are scoped to the plugin: no other plugin sees them. They are shared by every
//! instance the plugin runs for, so prefix keys with [`Event::instance_id`] for
//! per-instance state. In native tests the store is an in-memory map per thread (see
//! [`crate::testing`]).
//!
//! [`Event::instance_id`]: wasap_events::Event::instance_id

use serde::{Serialize, de::DeserializeOwned};

/// Why a store operation failed.
pub use crate::bindings::wasap::plugin::kv::Error;

/// The value stored under `key`, or `None`.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    imp::get(key)
}

/// Stores `value` under `key`, replacing any earlier value.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
    imp::set(key, value.as_ref())
}

/// Removes `key`; removing a missing key is not an error.
pub fn delete(key: &str) -> Result<(), Error> {
    imp::delete(key)
}

/// The keys that start with `prefix`, sorted, at most `limit` of them.
pub fn list_keys(prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
    imp::list_keys(prefix, limit)
}

/// The JSON value stored under `key`, or `None`. A value that no longer parses as `T`
/// (e.g. after the plugin changed its state type) is `None` too, so a new version of a
/// plugin starts afresh rather than failing on old state.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    Ok(get(key)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Stores `value` as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    // Serialising plain data to a Vec cannot fail; a failing Serialize impl is a bug in
    // the plugin, reported like a database error rather than a trap.
    let bytes = serde_json::to_vec(value).map_err(|err| Error::Unavailable(err.to_string()))?;
    set(key, bytes)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub use crate::bindings::wasap::plugin::kv::{delete, get, list_keys, set};
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::testing::kv::{delete, get, list_keys, set};
}
