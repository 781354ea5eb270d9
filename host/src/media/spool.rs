//! The spool: where an uploaded file is written while it arrives, so a
//! large upload costs disk rather than memory for as long as the client
//! takes to send it.
//!
//! A spool file is created in `<data dir>/spool` (0600, like everything in
//! the data directory) and unlinked at once, so it has no name: it is gone
//! when its handle is dropped, and a crash cannot leave it behind.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::disk::{self, LowDisk};

/// Why a file could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot take the upload: {0}")]
    LowDisk(#[from] LowDisk),
    #[error("cannot spool the upload: {0}")]
    Io(#[from] std::io::Error),
}

/// The spool directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    /// Free bytes an upload may not eat into (0: no floor).
    min_free_bytes: u64,
}

impl Spool {
    /// The spool in `<data_dir>/spool`, created 0700 if missing.
    pub fn open(data_dir: &Path, min_free_bytes: u64) -> std::io::Result<Spool> {
        let dir = data_dir.join("spool");
        // Ours, so a looser mode can always be tightened; if not, the data
        // directory around it is private anyway.
        let _ = crate::private_fs::ensure_private_dir(&dir)?;
        Ok(Spool { dir, min_free_bytes })
    }

    /// A new, empty spool file; refused while the disk is under its floor.
    pub async fn create(&self) -> Result<SpoolFile, SpoolError> {
        disk::check_room(&self.dir, 0, self.min_free_bytes)?;
        let path = self.dir.join(format!("upload-{}", crate::random::hex(16)));
        let file = crate::private_fs::new_file_options().read(true).open(&path).await?;
        // Nameless from here on: the handle is the only way to the data.
        tokio::fs::remove_file(&path).await?;
        Ok(SpoolFile { file, len: 0 })
    }
}

/// A file being spooled; its data goes when it is dropped.
#[derive(Debug)]
pub struct SpoolFile {
    file: tokio::fs::File,
    len: u64,
}

impl SpoolFile {
    /// Appends `data`.
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data).await?;
        self.len += data.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole file in memory, for the send (the engines take the bytes).
    pub async fn into_bytes(mut self) -> std::io::Result<Bytes> {
        self.file.flush().await?;
        self.file.seek(SeekFrom::Start(0)).await?;
        let mut data = Vec::with_capacity(self.len as usize);
        self.file.read_to_end(&mut data).await?;
        Ok(Bytes::from(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spooled_data_reads_back_and_leaves_no_file() {
        let data_dir = std::env::temp_dir().join(format!("wasap-spool-{}", crate::random::hex(8)));
        let spool = Spool::open(&data_dir, 0).unwrap();
        let mut file = spool.create().await.unwrap();
        assert!(file.is_empty());
        file.write(b"hello ").await.unwrap();
        file.write(b"world").await.unwrap();
        assert_eq!(file.len(), 11);
        assert_eq!(
            std::fs::read_dir(data_dir.join("spool")).unwrap().count(),
            0,
            "the spool file has no name"
        );
        assert_eq!(file.into_bytes().await.unwrap().as_ref(), b"hello world");
        let full = Spool::open(&data_dir, u64::MAX).unwrap();
        assert!(matches!(full.create().await, Err(SpoolError::LowDisk(_))));
        std::fs::remove_dir_all(data_dir).unwrap();
    }
}
