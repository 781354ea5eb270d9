//! [`MediaStore`]: the media directory, `<data dir>/media`, where received
//! files are written and looked up.
//!
//! Each instance's files are in a directory of their own,
//! `media/<key>/<key>-<secs>-<random>.<ext>`, where `<key>` is 64 bits of
//! the SHA-256 of the instance id: the file name alone says where the file
//! is (URLs stay `statics/media/<file>`, one segment), and deleting an
//! instance deletes its directory. Files stored before this layout
//! (`media/<secs>-<random>.<ext>`) are still served, and still go by
//! retention, but belong to no instance.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::disk::{self, LowDisk};
use super::retention::Retention;
use super::{URL_PREFIX, extension_for};

/// Hex digits of an instance's key.
const KEY_LEN: usize = 16;

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia {
    /// The generated file name.
    pub file_name: String,
    /// `statics/media/<file>`: relative URL path it is served at.
    pub media_path: String,
    pub size: u64,
    pub sha256_hex: String,
}

/// Why a file was not stored.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file has {size} bytes, more than the {limit} allowed")]
    TooLarge { size: u64, limit: u64 },
    #[error("not stored: {0}")]
    LowDisk(#[from] LowDisk),
    #[error("cannot write the file: {0}")]
    Io(#[from] std::io::Error),
}

/// The media directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaStore {
    dir: PathBuf,
    max_bytes: u64,
    /// Free bytes new media may not eat into (0: no floor).
    min_free_bytes: u64,
    retention: Retention,
}

impl MediaStore {
    /// The store in `<data_dir>/media`, created (0700) if missing; files
    /// over `max_bytes` are refused. It keeps no free-space floor and
    /// everything until [`with_min_free_bytes`](Self::with_min_free_bytes)
    /// and [`with_retention`](Self::with_retention) say otherwise.
    pub fn open(data_dir: &Path, max_bytes: u64) -> std::io::Result<MediaStore> {
        let dir = data_dir.join("media");
        // Ours, so a looser mode can always be tightened; if not, the data
        // directory around it is private anyway.
        let _ = crate::private_fs::ensure_private_dir(&dir)?;
        Ok(MediaStore {
            dir,
            max_bytes,
            min_free_bytes: 0,
            retention: Retention::KEEP_ALL,
        })
    }

    /// New media is refused while storing it would leave less than `bytes` free.
    pub fn with_min_free_bytes(mut self, bytes: u64) -> MediaStore {
        self.min_free_bytes = bytes;
        self
    }

    /// What [`start_retention`](Self::start_retention) keeps.
    pub fn with_retention(mut self, retention: Retention) -> MediaStore {
        self.retention = retention;
        self
    }

    /// The media directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts the retention sweeps; they run until the task is aborted.
    pub fn start_retention(&self) -> tokio::task::JoinHandle<()> {
        super::retention::start(self.dir.clone(), self.retention)
    }

    /// Stores `bytes`, received by `instance_id`, as a new file named for
    /// `mime_type`. The file is written under a temporary name and renamed
    /// into place, so a reader never sees half a file and a crash leaves no
    /// partial file under a served name.
    pub async fn save(&self, instance_id: &str, bytes: &[u8], mime_type: &str) -> Result<StoredMedia, MediaError> {
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(MediaError::TooLarge {
                size,
                limit: self.max_bytes,
            });
        }
        let dir = self.dir.join(instance_key(instance_id));
        crate::private_fs::create_dir_all_async(&dir).await?;
        disk::check_room(&dir, size, self.min_free_bytes)?;
        let file_name = format!(
            "{}-{}-{}.{}",
            instance_key(instance_id),
            crate::clock::now_secs(),
            crate::random::hex(16),
            extension_for(mime_type)
        );
        let temporary = dir.join(format!(".{file_name}.part"));
        let result = async {
            use tokio::io::AsyncWriteExt;
            let mut file = crate::private_fs::new_file_options().open(&temporary).await?;
            file.write_all(bytes).await?;
            file.flush().await?;
            drop(file);
            tokio::fs::rename(&temporary, dir.join(&file_name)).await
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(e.into());
        }
        Ok(StoredMedia {
            media_path: format!("{URL_PREFIX}/{file_name}"),
            file_name,
            size,
            sha256_hex: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// The path of a served file, if `file_name` is one this store could have
    /// generated (no separators, no leading dot) and it exists.
    pub fn path_of(&self, file_name: &str) -> Option<PathBuf> {
        let valid = !file_name.is_empty()
            && file_name.len() <= 128
            && !file_name.starts_with('.')
            && file_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !valid {
            return None;
        }
        let path = match owner_key(file_name) {
            Some(key) => self.dir.join(key).join(file_name),
            None => self.dir.join(file_name),
        };
        path.is_file().then_some(path)
    }

    /// Deletes every file instance `instance_id` received; how many there were.
    pub async fn remove_instance(&self, instance_id: &str) -> std::io::Result<usize> {
        let dir = self.dir.join(instance_key(instance_id));
        let count = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.count(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        tokio::fs::remove_dir_all(&dir).await?;
        Ok(count)
    }
}

/// The directory key of an instance: 64 bits of the SHA-256 of its id, in hex.
fn instance_key(instance_id: &str) -> String {
    let digest = Sha256::digest(instance_id.as_bytes());
    hex::encode(&digest[..KEY_LEN / 2])
}

/// The instance key a file name starts with, for names of the per-instance
/// layout (`<key>-<secs>-<random>.<ext>`); `None` for the older flat names
/// (`<secs>-<random>.<ext>`).
fn owner_key(file_name: &str) -> Option<&str> {
    let (key, rest) = file_name.split_once('-')?;
    let is_key = key.len() == KEY_LEN && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (is_key && rest.contains('-')).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mime_for;

    #[tokio::test]
    async fn files_get_generated_names_and_are_found_only_by_them() {
        let dir = std::env::temp_dir().join(format!("wasap-media-{}", crate::random::hex(8)));
        let store = MediaStore::open(&dir, 1024).unwrap();
        let stored = store
            .save("shop", b"\xff\xd8\xffjpeg", "image/jpeg; charset=binary")
            .await
            .unwrap();
        assert!(stored.file_name.ends_with(".jpg"));
        assert!(stored.file_name.starts_with(&format!("{}-", instance_key("shop"))));
        assert_eq!(stored.media_path, format!("statics/media/{}", stored.file_name));
        assert_eq!(stored.size, 7);
        let path = store.path_of(&stored.file_name).expect("stored file is found");
        assert_eq!(path.parent().unwrap(), dir.join("media").join(instance_key("shop")));
        assert_eq!(std::fs::read(path).unwrap(), b"\xff\xd8\xffjpeg");
        assert_eq!(mime_for(&stored.file_name), "image/jpeg");
        for bad in ["", "../etc/passwd", ".hidden", "a/b", "missing.jpg"] {
            assert!(store.path_of(bad).is_none(), "{bad}");
        }
        let too_big = store.save("shop", &[0u8; 2048], "image/png").await;
        assert!(matches!(
            too_big,
            Err(MediaError::TooLarge {
                size: 2048,
                limit: 1024
            })
        ));
        let full = store.clone().with_min_free_bytes(u64::MAX);
        assert!(matches!(
            full.save("shop", b"x", "image/png").await,
            Err(MediaError::LowDisk(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn flat_names_of_older_servers_are_still_served() {
        let dir = std::env::temp_dir().join(format!("wasap-media-{}", crate::random::hex(8)));
        let store = MediaStore::open(&dir, 1024).unwrap();
        let flat = format!("1700000000-{}.pdf", crate::random::hex(16));
        std::fs::write(dir.join("media").join(&flat), b"%PDF").unwrap();
        assert_eq!(owner_key(&flat), None);
        assert_eq!(store.path_of(&flat), Some(dir.join("media").join(&flat)));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn deleting_an_instance_deletes_its_files_only() {
        let dir = std::env::temp_dir().join(format!("wasap-media-{}", crate::random::hex(8)));
        let store = MediaStore::open(&dir, 1024).unwrap();
        let a1 = store.save("a", b"1", "image/png").await.unwrap();
        let a2 = store.save("a", b"2", "image/png").await.unwrap();
        let b = store.save("b", b"3", "image/png").await.unwrap();
        assert_eq!(store.remove_instance("a").await.unwrap(), 2);
        assert!(store.path_of(&a1.file_name).is_none() && store.path_of(&a2.file_name).is_none());
        assert!(store.path_of(&b.file_name).is_some());
        assert_eq!(store.remove_instance("a").await.unwrap(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
