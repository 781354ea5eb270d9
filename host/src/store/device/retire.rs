//! Retiring a device: once its keys are wiped, nothing writes them back.
//!
//! whatsapp-rust finishes some work on tasks of its own after its client has
//! disconnected: an app-state sync that was under way when the instance
//! logged out, say. Such a write lands after [`Store::wipe_device`] and
//! leaves rows of an unlinked device behind (found on the real engine against
//! the WhatsApp simulator: an app-state version row after a logout).
//!
//! So every write of a [`DeviceBackend`] passes its device's [`Gate`]:
//! writes hold it shared for the length of the statement; `wipe_device`
//! takes it exclusively, which waits for the writes in flight, closes it for
//! good and deletes. A write that comes later does nothing and reports
//! success: the session it belongs to is over and has nobody to tell. Device
//! ids are never reused (`allocate_device_id`), so a closed gate stays closed.
//!
//! [`Store::wipe_device`]: crate::store::Store::wipe_device
//! [`DeviceBackend`]: super::DeviceBackend

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::RwLock;

/// One device's gate: `true` once the device is retired (wiped).
pub type Gate = Arc<RwLock<bool>>;

/// The gates of the devices this process has opened, shared by a store's clones.
#[derive(Clone, Debug, Default)]
pub struct Gates(Arc<Mutex<HashMap<i32, Gate>>>);

impl Gates {
    /// Device `device_id`'s gate, the same one for every handle of that device.
    pub fn of(&self, device_id: i32) -> Gate {
        let mut gates = self.0.lock().unwrap_or_else(|p| p.into_inner());
        gates.entry(device_id).or_default().clone()
    }
}
