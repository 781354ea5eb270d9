//! The compiled-artifact cache, `<data-dir>/plugin-cache/DIGEST.cwasm`: a
//! plugin's component compiled once, by the hex SHA-256 of its bytes, so a
//! restart does not compile it again.
//!
//! An artifact is written only for a plugin that loaded and started (its
//! `init` succeeded), so a refused upload or a broken file leaves none; and
//! the artifacts that no loaded plugin uses any more are collected at
//! start-up and whenever a plugin is removed or replaced.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use wasmtime::component::Component;

/// The file extension of artifacts.
const EXTENSION: &str = "cwasm";
/// The extension of an artifact being written (renamed into place when complete).
const PARTIAL: &str = "cwasm.partial";

/// Where the artifact of the component `digest` is kept in `dir`.
pub fn path(dir: &Path, digest: &str) -> PathBuf {
    dir.join(format!("{digest}.{EXTENSION}"))
}

/// Keeps `component`'s artifact in `dir`, unless it is there already. A
/// failure is only logged: the cache spares time, it is never needed.
pub fn keep(dir: &Path, digest: &str, component: &Component) {
    let path = path(dir, digest);
    if path.exists() {
        return;
    }
    let written = component
        .serialize()
        .map_err(std::io::Error::other)
        .and_then(|artifact| {
            std::fs::create_dir_all(dir)?;
            // Written aside and renamed, so a concurrent reader never sees half a file.
            let partial = dir.join(format!("{digest}.{PARTIAL}"));
            std::fs::write(&partial, artifact)?;
            std::fs::rename(&partial, &path)
        });
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot cache a compiled plugin");
    }
}

/// Removes the artifacts in `dir` whose digest is not in `used`, and any
/// partial ones left by a crash; returns how many files went.
pub fn collect_unused(dir: &Path, used: &HashSet<String>) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let unused = match name.strip_suffix(&format!(".{EXTENSION}")) {
            Some(digest) => !used.contains(digest),
            // A partial file of an artifact that is not being written now:
            // one being written is younger than a minute.
            None => name.ends_with(&format!(".{PARTIAL}")) && is_stale(&entry),
        };
        if !unused {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove an unused compiled plugin")
            }
        }
    }
    if removed > 0 {
        tracing::debug!(removed, dir = %dir.display(), "unused compiled plugins collected");
    }
    removed
}

fn is_stale(entry: &std::fs::DirEntry) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age > std::time::Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_artifacts_in_use_are_kept() {
        let dir = std::env::temp_dir().join(format!("wasap-artifacts-{}", crate::random::hex(8)));
        let engine = wasmtime::Engine::default();
        let component = Component::new(&engine, "(component)").unwrap();
        keep(dir.as_path(), "aaaa", &component);
        keep(dir.as_path(), "bbbb", &component);
        std::fs::write(dir.as_path().join("unrelated.txt"), b"x").unwrap();
        assert!(path(dir.as_path(), "aaaa").exists() && path(dir.as_path(), "bbbb").exists());
        let used = HashSet::from(["aaaa".to_owned()]);
        assert_eq!(collect_unused(dir.as_path(), &used), 1);
        assert!(path(dir.as_path(), "aaaa").exists());
        assert!(!path(dir.as_path(), "bbbb").exists());
        assert!(dir.as_path().join("unrelated.txt").exists());
        assert_eq!(collect_unused(&dir.join("missing"), &used), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
