//! Conformance tests for wasap's database-backed whatsapp-rust storage backend.
//!
//! Every test opens its own database (`wasap_tests::TestDb`), allocates a device
//! id and drives `wasap::store::DeviceBackend` purely through the five
//! whatsapp-rust storage traits (`SignalStore`, `AppSyncStore`, `ProtocolStore`,
//! `MsgSecretStore`, `DeviceStore`), so the suite checks the trait contract
//! (doc comments in wacore's `store/traits.rs`, and the semantics of the
//! reference `InMemoryBackend` and `SqliteStore`), not our table layout.
//!
//! Files, one per concern:
//! - `signal`: identities, sessions, pre-keys, signed pre-keys, sender keys.
//! - `app_sync`: app-state sync keys, collection versions, mutation MACs.
//! - `protocol`: sender-key device tracking, LID-PN mappings, base keys,
//!   device registry, group metadata.
//! - `tc_tokens`: trusted-contact tokens and their two-writer merge rules.
//! - `messages`: sent-message retry store, pending-inbound buffer, message secrets.
//! - `device`: `DeviceStore` and the `Store` device-id lifecycle.
//! - `fixture`: "one value of every kind" writer/checkers shared by the
//!   cross-cutting tests below.
//! - `reopen`: everything survives closing and reopening the database.
//! - `isolation`: devices sharing a database never see each other's rows; wipe.
//! - `concurrency`: many concurrent writers, atomic take, atomic merges.
//! - `schema`: the wipe covers every device-keyed table (the one file that
//!   looks at tables directly).

mod app_sync;
mod concurrency;
mod device;
mod fixture;
mod isolation;
mod messages;
mod protocol;
mod reopen;
mod schema;
mod signal;
mod tc_tokens;

use std::sync::Arc;

use wasap::store::{DeviceBackend, Store};
use wasap_tests::TestDb;
use whatsapp_rust::bytes::Bytes;

/// A fresh database, the store opened on it, and the backend of a newly
/// allocated device. Keep the `TestDb` alive for the whole test: dropping it
/// removes the SQLite file.
pub async fn fresh() -> (TestDb, Store, DeviceBackend) {
    let db = TestDb::new().await;
    let store = open(&db).await;
    let (_, dev) = new_device(&store).await;
    (db, store, dev)
}

/// Opens (or reopens) the store on the test database.
pub async fn open(db: &TestDb) -> Store {
    Store::open(db.url())
        .await
        .unwrap_or_else(|e| panic!("Store::open({}) failed: {e:?}", db.url()))
}

/// Allocates a device id on `store` and returns it with its backend.
pub async fn new_device(store: &Store) -> (i32, DeviceBackend) {
    let id = store.allocate_device_id().await.expect("allocate_device_id");
    (id, store.device(id))
}

/// Unix seconds, the unit of every timestamp in the traits.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A cutoff so far in the future that every row written "now" is older than it.
pub fn far_future() -> i64 {
    now_secs() + 10 * 365 * 86_400
}

/// `serde_json` value of anything serialisable: the traits' value types do not
/// implement `PartialEq`, so round-trips compare their JSON.
pub fn json<T: whatsapp_rust::serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("serialise to JSON")
}

/// The elements sorted, for comparing results whose order the trait leaves open.
pub fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// An `Arc<str>` key, the address type of the batch methods.
pub fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

/// Owned `Bytes` from a slice, the record type of the batch methods.
pub fn bytes(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}
