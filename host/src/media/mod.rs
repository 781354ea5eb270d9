//! Incoming media files: kept under `<data dir>/media` with generated names
//! and served at `/statics/media/<file>`.
//!
//! A file name carries 128 random bits, so knowing it is the permission to read
//! it (docs/API.md: no token, no listing). Names are generated here, never taken
//! from the sender, so no path from WhatsApp reaches the file system. A file
//! is written under a temporary name and renamed into place, so a reader never
//! sees half a file and a crash leaves no partial file under a served name.

mod limits;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use limits::MediaLimits;

/// Where a served file's URL path starts (`media_path` in the gowa format).
pub const URL_PREFIX: &str = "statics/media";

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
    #[error("cannot write the file: {0}")]
    Io(#[from] std::io::Error),
}

/// The media directory.
#[derive(Debug, Clone)]
pub struct MediaStore {
    dir: PathBuf,
    max_bytes: u64,
}

impl MediaStore {
    /// The store in `<data_dir>/media`, created if missing; files over
    /// `max_bytes` are refused.
    pub fn open(data_dir: &Path, max_bytes: u64) -> std::io::Result<MediaStore> {
        let dir = data_dir.join("media");
        std::fs::create_dir_all(&dir)?;
        Ok(MediaStore { dir, max_bytes })
    }

    /// Stores `bytes` as a new file named for `mime_type`.
    pub async fn save(&self, bytes: &[u8], mime_type: &str) -> Result<StoredMedia, MediaError> {
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(MediaError::TooLarge {
                size,
                limit: self.max_bytes,
            });
        }
        let file_name = format!(
            "{}-{}.{}",
            crate::clock::now_secs(),
            crate::random::hex(16),
            extension_for(mime_type)
        );
        let temporary = self.dir.join(format!(".{file_name}.part"));
        let result = async {
            tokio::fs::write(&temporary, bytes).await?;
            tokio::fs::rename(&temporary, self.dir.join(&file_name)).await
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
        let path = self.dir.join(file_name);
        (valid && path.is_file()).then_some(path)
    }
}

/// A file extension for a MIME type (`bin` when unknown).
pub fn extension_for(mime_type: &str) -> &'static str {
    let essence = mime_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    MIME_EXTENSIONS
        .iter()
        .find(|(mime, _)| *mime == essence)
        .map(|(_, ext)| *ext)
        .unwrap_or("bin")
}

/// The MIME type to serve a file with, from its extension.
pub fn mime_for(file_name: &str) -> &'static str {
    let ext = file_name.rsplit('.').next().unwrap_or("");
    MIME_EXTENSIONS
        .iter()
        .find(|(_, e)| *e == ext)
        .map(|(mime, _)| *mime)
        .unwrap_or("application/octet-stream")
}

/// The types WhatsApp media comes in, each with the one extension it is stored under.
const MIME_EXTENSIONS: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
    ("image/gif", "gif"),
    ("video/mp4", "mp4"),
    ("video/3gpp", "3gp"),
    ("audio/ogg", "ogg"),
    ("audio/mpeg", "mp3"),
    ("audio/mp4", "m4a"),
    ("audio/aac", "aac"),
    ("application/pdf", "pdf"),
    ("text/plain", "txt"),
    ("text/vcard", "vcf"),
    ("application/zip", "zip"),
    ("application/msword", "doc"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    ("application/vnd.ms-excel", "xls"),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ("application/octet-stream", "bin"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_get_generated_names_and_are_found_only_by_them() {
        let dir = std::env::temp_dir().join(format!("wasap-media-{}", crate::random::hex(8)));
        let store = MediaStore::open(&dir, 1024).unwrap();
        let stored = store
            .save(b"\xff\xd8\xffjpeg", "image/jpeg; charset=binary")
            .await
            .unwrap();
        assert!(stored.file_name.ends_with(".jpg"));
        assert_eq!(stored.media_path, format!("statics/media/{}", stored.file_name));
        assert_eq!(stored.size, 7);
        let path = store.path_of(&stored.file_name).expect("stored file is found");
        assert_eq!(std::fs::read(path).unwrap(), b"\xff\xd8\xffjpeg");
        assert_eq!(mime_for(&stored.file_name), "image/jpeg");
        for bad in ["", "../etc/passwd", ".hidden", "a/b", "missing.jpg"] {
            assert!(store.path_of(bad).is_none(), "{bad}");
        }
        let too_big = store.save(&[0u8; 2048], "image/png").await;
        assert!(matches!(
            too_big,
            Err(MediaError::TooLarge {
                size: 2048,
                limit: 1024
            })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
