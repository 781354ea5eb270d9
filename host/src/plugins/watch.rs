//! Hot reload: the plugins directory is watched, and a plugin whose files
//! (`NAME.toml`, `NAME.wasm`, `NAME.disabled`) change is reloaded once the
//! changes settle. Loading happens off the event path (the registry compiles
//! on a blocking thread) and the chain swaps the new version in atomically.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::registry::Registry;

/// Changes closer together than this are one change (an editor's or a
/// copy's several writes).
const SETTLE: Duration = Duration::from_millis(150);
/// Changed names waiting to be handled.
const QUEUE: usize = 1024;

/// Starts watching the registry's directory (creating it if needed). The
/// watching stops when the returned watcher is dropped.
pub fn watch(registry: &Arc<Registry>) -> notify::Result<notify::RecommendedWatcher> {
    std::fs::create_dir_all(registry.dir()).map_err(notify::Error::io)?;
    let (changed, mut names) = mpsc::channel::<String>(QUEUE);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(event) => {
            for name in event.paths.iter().filter_map(|path| plugin_name(path)) {
                if changed.try_send(name).is_err() {
                    tracing::warn!("too many plugin file changes at once; some wait for the next change");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "watching the plugins directory failed"),
    })?;
    watcher.watch(registry.dir(), RecursiveMode::NonRecursive)?;
    let registry: Weak<Registry> = Arc::downgrade(registry);
    tokio::spawn(async move {
        while let Some(first) = names.recv().await {
            let mut batch = BTreeSet::from([first]);
            let settled = tokio::time::sleep(SETTLE);
            tokio::pin!(settled);
            loop {
                tokio::select! {
                    () = &mut settled => break,
                    next = names.recv() => match next {
                        Some(name) => {
                            batch.insert(name);
                            settled.as_mut().reset(tokio::time::Instant::now() + SETTLE);
                        }
                        None => break,
                    },
                }
            }
            let Some(registry) = registry.upgrade() else { break };
            for name in batch {
                tracing::info!(plugin = %name, "plugin files changed; reloading");
                registry.reload(&name).await;
            }
        }
    });
    Ok(watcher)
}

/// The plugin a file belongs to, for the files that make a plugin.
fn plugin_name(path: &Path) -> Option<String> {
    let extension = path.extension()?.to_str()?;
    if !matches!(extension, "toml" | "wasm" | "disabled") {
        return None;
    }
    Some(path.file_stem()?.to_str()?.to_owned())
}
