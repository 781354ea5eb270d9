//! Hot reload: the plugins directory is watched, and a plugin whose files
//! (`NAME.toml`, `NAME.wasm`, `NAME.disabled`) change is reloaded once the
//! changes settle. Loading happens off the event path (the registry compiles
//! on a blocking thread) and the chain swaps the new version in atomically.
//!
//! Only changes of content count: a file created, written, renamed or
//! removed. Opening, reading and closing a file, and changing its metadata
//! (`touch`), are not changes: reacting to them made a reload, whose reading
//! of the files is itself such an event, trigger the next one, forever. And
//! the registry does not load files again whose digest and manifest are the
//! running version's, so an upload's own writes cost no second load.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::event::{EventKind, ModifyKind};
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
    let (rescan_tx, mut rescans) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        // Events were lost (the kernel's queue overflowed): look at every plugin.
        Ok(event) if event.need_rescan() => {
            let _ = rescan_tx.try_send(());
        }
        Ok(event) if !changes_content(&event.kind) => {}
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
        loop {
            let first = tokio::select! {
                name = names.recv() => match name {
                    Some(name) => vec![name],
                    None => break,
                },
                Some(()) = rescans.recv() => match registry.upgrade() {
                    Some(registry) => registry.known_names(),
                    None => break,
                },
            };
            let mut batch: BTreeSet<String> = first.into_iter().collect();
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
                tracing::debug!(plugin = %name, "plugin files changed; reloading");
                registry.reload(&name).await;
            }
        }
    });
    Ok(watcher)
}

/// Whether an event of `kind` can change what a plugin's files hold.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        // `Any`: a backend that cannot tell what changed (never an access).
        EventKind::Modify(modify) => matches!(modify, ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any),
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// The plugin a file belongs to, for the files that make a plugin.
fn plugin_name(path: &Path) -> Option<String> {
    let extension = path.extension()?.to_str()?;
    if !matches!(extension, "toml" | "wasm" | "disabled") {
        return None;
    }
    Some(path.file_stem()?.to_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};

    use super::*;

    #[test]
    fn only_changes_of_content_reload() {
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Remove(RemoveKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
        ] {
            assert!(changes_content(&kind), "{kind:?}");
        }
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::WriteTime)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            EventKind::Any,
        ] {
            assert!(!changes_content(&kind), "{kind:?}");
        }
        assert_eq!(plugin_name(Path::new("/d/echo.wasm")).as_deref(), Some("echo"));
        assert_eq!(plugin_name(Path::new("/d/echo.wasm.partial")), None);
    }
}
