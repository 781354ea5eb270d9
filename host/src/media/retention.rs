//! Media retention: how long received media is kept and how much of it.
//!
//! A sweep runs at start and then every [`Retention::interval`]: it deletes
//! the files older than [`Retention::max_age`], then, while the files left
//! add up to more than [`Retention::max_total_bytes`], the oldest of them.
//! Age is the file's modification time (when it was stored). Temporary files
//! of a store that a crash interrupted are deleted once they are an hour old.
//! A file deleted here answers 404 from then on.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Temporary files (`.name.part`) older than this were left by a crash.
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// What is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Files older than this go; `None` keeps them however old.
    pub max_age: Option<Duration>,
    /// The oldest files go while all of them add up to more; `None`: no cap.
    pub max_total_bytes: Option<u64>,
    /// Time between two sweeps.
    pub interval: Duration,
}

impl Retention {
    /// Keeps everything (and sweeps rarely): for stores that nothing sweeps.
    pub const KEEP_ALL: Retention = Retention {
        max_age: None,
        max_total_bytes: None,
        interval: Duration::from_secs(3600),
    };
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub removed: usize,
    pub freed_bytes: u64,
    /// Bytes of media kept.
    pub kept_bytes: u64,
}

struct Entry {
    path: PathBuf,
    modified: SystemTime,
    size: u64,
}

/// One sweep of the media directory `dir` (its files and those of its
/// per-instance directories), as of `now`.
pub fn sweep(dir: &Path, retention: &Retention, now: SystemTime) -> Swept {
    let mut swept = Swept::default();
    let mut kept = Vec::new();
    for entry in entries(dir) {
        let age = now.duration_since(entry.modified).unwrap_or_default();
        let temporary = entry
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let expired = if temporary {
            age > STALE_TEMPORARY
        } else {
            retention.max_age.is_some_and(|max| age > max)
        };
        if expired {
            remove(&entry, &mut swept);
        } else if !temporary {
            kept.push(entry);
        }
    }
    let mut total: u64 = kept.iter().map(|e| e.size).sum();
    if let Some(cap) = retention.max_total_bytes
        && total > cap
    {
        kept.sort_by_key(|e| e.modified);
        for entry in &kept {
            if total <= cap {
                break;
            }
            if remove(entry, &mut swept) {
                total -= entry.size;
            }
        }
    }
    swept.kept_bytes = total;
    swept
}

fn remove(entry: &Entry, swept: &mut Swept) -> bool {
    match std::fs::remove_file(&entry.path) {
        Ok(()) => {
            swept.removed += 1;
            swept.freed_bytes += entry.size;
            true
        }
        // Gone already (its instance was deleted meanwhile): nothing to do.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            tracing::warn!(path = %entry.path.display(), error = %e, "cannot delete an old media file");
            false
        }
    }
}

/// The regular files of `dir` and of its subdirectories (one level: the
/// per-instance directories).
fn entries(dir: &Path) -> Vec<Entry> {
    let mut found = Vec::new();
    let Ok(top) = std::fs::read_dir(dir) else {
        return found;
    };
    for item in top.flatten() {
        let Ok(kind) = item.file_type() else { continue };
        if kind.is_dir() {
            if let Ok(inner) = std::fs::read_dir(item.path()) {
                found.extend(inner.flatten().filter_map(file_entry));
            }
        } else {
            found.extend(file_entry(item));
        }
    }
    found
}

fn file_entry(item: std::fs::DirEntry) -> Option<Entry> {
    let metadata = item.metadata().ok()?;
    metadata.is_file().then(|| Entry {
        path: item.path(),
        modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        size: metadata.len(),
    })
}

/// Sweeps `dir` now and then every `retention.interval`, on a blocking
/// thread, until the returned task is aborted.
pub fn start(dir: PathBuf, retention: Retention) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (dir_now, retention_now) = (dir.clone(), retention);
            let swept = tokio::task::spawn_blocking(move || sweep(&dir_now, &retention_now, SystemTime::now())).await;
            match swept {
                Ok(swept) if swept.removed > 0 => tracing::info!(
                    removed = swept.removed,
                    freed_bytes = swept.freed_bytes,
                    kept_bytes = swept.kept_bytes,
                    "media retention deleted old files"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "the media retention sweep failed"),
            }
            tokio::time::sleep(retention.interval).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, size: usize, age_secs: u64, now: SystemTime) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, vec![1u8; size]).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(now - Duration::from_secs(age_secs)).unwrap();
        path
    }

    #[test]
    fn old_files_go_then_the_oldest_until_under_the_cap() {
        let dir = std::env::temp_dir().join(format!("wasap-retention-{}", crate::random::hex(8)));
        let sub = dir.join("0123456789abcdef");
        std::fs::create_dir_all(&sub).unwrap();
        let now = SystemTime::now();
        let ancient = file(&dir, "a.jpg", 10, 100_000, now);
        let old = file(&sub, "b.jpg", 10, 5_000, now);
        let older = file(&dir, "c.jpg", 10, 6_000, now);
        let young = file(&sub, "d.jpg", 10, 10, now);
        let crashed = file(&sub, ".e.jpg.part", 10, 7_200, now);
        let writing = file(&sub, ".f.jpg.part", 10, 1, now);
        let retention = Retention {
            max_age: Some(Duration::from_secs(50_000)),
            max_total_bytes: Some(15),
            interval: Duration::from_secs(1),
        };
        let swept = sweep(&dir, &retention, now);
        assert_eq!(
            swept,
            Swept {
                removed: 4,
                freed_bytes: 40,
                kept_bytes: 10
            }
        );
        for gone in [&ancient, &older, &old, &crashed] {
            assert!(!gone.exists(), "{}", gone.display());
        }
        assert!(young.exists() && writing.exists());
        assert_eq!(
            sweep(&dir, &Retention::KEEP_ALL, now),
            Swept {
                removed: 0,
                freed_bytes: 0,
                kept_bytes: 10
            }
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
