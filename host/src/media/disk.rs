//! Free space on the file system that holds the media directory, to keep a
//! floor of free space that new media may not eat into.

use std::path::Path;

/// Why a file was not written: the disk is too full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the media disk has {free} bytes free, less than the {floor} bytes kept free")]
pub struct LowDisk {
    pub free: u64,
    pub floor: u64,
}

/// Checks that writing `size` more bytes under `dir` leaves at least `floor`
/// bytes free (`floor` 0: no check). When the free space cannot be read the
/// write goes ahead: the file system will refuse it if it must.
pub fn check_room(dir: &Path, size: u64, floor: u64) -> Result<(), LowDisk> {
    if floor == 0 {
        return Ok(());
    }
    match available_bytes(dir) {
        Ok(free) if free.saturating_sub(size) < floor => Err(LowDisk { free, floor }),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the free space of the media disk");
            Ok(())
        }
    }
}

/// Bytes an unprivileged user may still write on the file system of `path`.
#[cfg(unix)]
pub fn available_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call, and
    // `stat` points to writable memory the size of a `statvfs`.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled in `stat`.
    let stat = unsafe { stat.assume_init() };
    // The field types differ between platforms (u32 or u64): widen both.
    #[allow(clippy::unnecessary_cast)]
    let (blocks, block_size) = (stat.f_bavail as u64, stat.f_frsize as u64);
    Ok(blocks.saturating_mul(block_size))
}

/// Without `statvfs`, free space is not known: no floor is kept.
#[cfg(not(unix))]
pub fn available_bytes(_path: &Path) -> std::io::Result<u64> {
    Ok(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_read_and_the_floor_applied() {
        let dir = std::env::temp_dir();
        let free = available_bytes(&dir).unwrap();
        assert!(free > 0);
        assert_eq!(check_room(&dir, 1, 0), Ok(()));
        assert_eq!(check_room(&dir, 0, 1), Ok(()));
        assert_eq!(
            check_room(&dir, 0, u64::MAX).map_err(|e| e.floor),
            Err(u64::MAX),
            "a floor above the disk's size refuses everything"
        );
    }
}
