//! The configured webhooks of each instance, cached in memory: every event
//! needs its instance's receivers and every attempt its receiver's secret,
//! and asking the database each time was a large share of a delivery's cost.
//!
//! The cache is exact for writes made through this server's [`Store`]: each
//! of them bumps [`Store::webhooks_version`], which empties the cache. For
//! writes by another server on the same database, an entry is also reloaded
//! after [`MAX_AGE`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::webhooks::WebhookRow;
use crate::store::{Store, StoreError};

/// The longest an entry is used without asking the database again.
const MAX_AGE: Duration = Duration::from_secs(10);
/// Instances kept at most; past that the cache starts over.
const MAX_INSTANCES: usize = 10_000;

/// The cache. Cheap to clone: clones share it.
#[derive(Clone)]
pub struct Receivers {
    store: Store,
    inner: Arc<Mutex<Cache>>,
}

#[derive(Default)]
struct Cache {
    /// The store's webhooks version the entries were read at.
    version: u64,
    by_instance: HashMap<String, Entry>,
}

struct Entry {
    loaded: Instant,
    /// Every webhook of the instance, enabled or not.
    webhooks: Arc<Vec<WebhookRow>>,
}

impl Receivers {
    pub fn new(store: Store) -> Receivers {
        Receivers {
            store,
            inner: Arc::new(Mutex::new(Cache::default())),
        }
    }

    /// Every webhook of `instance_id`, enabled or not.
    pub async fn of(&self, instance_id: &str) -> Result<Arc<Vec<WebhookRow>>, StoreError> {
        let version = self.store.webhooks_version();
        {
            let mut cache = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if cache.version != version {
                cache.by_instance.clear();
                cache.version = version;
            }
            if let Some(entry) = cache.by_instance.get(instance_id)
                && entry.loaded.elapsed() < MAX_AGE
            {
                return Ok(entry.webhooks.clone());
            }
        }
        let webhooks = Arc::new(self.store.list_webhooks(instance_id).await?);
        let mut cache = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // A write while the list was read: keep the answer out of the cache,
        // the next call reads again.
        if cache.version == version && self.store.webhooks_version() == version {
            if cache.by_instance.len() >= MAX_INSTANCES {
                cache.by_instance.clear();
            }
            cache.by_instance.insert(
                instance_id.to_owned(),
                Entry {
                    loaded: Instant::now(),
                    webhooks: webhooks.clone(),
                },
            );
        }
        Ok(webhooks)
    }

    /// The secret of webhook `webhook_id` of `instance_id`; `None` when it
    /// no longer exists.
    pub async fn secret(&self, instance_id: &str, webhook_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .of(instance_id)
            .await?
            .iter()
            .find(|w| w.id == webhook_id)
            .map(|w| w.secret.clone()))
    }
}
