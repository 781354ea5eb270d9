//! Directories and files only the server's own user may read: the data
//! directory and everything the server keeps in it (the SQLite database with
//! the WhatsApp device keys and webhook secrets, received media, the admin
//! token, the global webhook secret, spooled uploads).
//!
//! Directories are created 0700 and files 0600 by the code paths that
//! create them, whatever the process umask (a server started inside another
//! process, as the tests do, gets the same modes). A data directory left
//! looser by an older version is tightened at start; what is inside it is
//! then out of others' reach too. On other platforms these are plain
//! creations.

use std::path::Path;

/// Mode of the directories the server creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files the server creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode 0700.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}

/// Async [`create_dir_all`].
pub async fn create_dir_all_async(dir: &Path) -> std::io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir).await
}

/// Options that create a new file with mode 0600 (and fail if it exists).
pub fn new_file_options() -> tokio::fs::OpenOptions {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
}

/// What [`ensure_private_dir`] did to a directory that was there already.
#[derive(Debug)]
pub enum Tightening {
    /// Created now, or already private.
    Unneeded,
    /// The group or others had access; now they have none.
    Done,
    /// The group or others have access and the mode could not be changed
    /// (the directory belongs to another user, say): the caller decides
    /// whether to go on.
    Refused(std::io::Error),
}

/// Creates `dir` 0700 when missing, or takes away the group's and others'
/// access to it when it has any.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<Tightening> {
    if !dir.exists() {
        create_dir_all(dir)?;
        return Ok(Tightening::Unneeded);
    }
    Ok(match tighten(dir, DIR_MODE) {
        Ok(true) => Tightening::Done,
        Ok(false) => Tightening::Unneeded,
        Err(e) => Tightening::Refused(e),
    })
}

/// Takes away the group's and others' access to the file at `path`, if it
/// exists; `Ok(true)` when its mode changed.
pub fn tighten_file(path: &Path) -> std::io::Result<bool> {
    match std::fs::metadata(path) {
        Ok(_) => tighten(path, FILE_MODE),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Sets `mode` on `path` when the group or others have any access to it.
#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode();
    if current & 0o077 == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(true)
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _mode: u32) -> std::io::Result<bool> {
    Ok(false)
}

/// Creates the SQLite database file at `path` with mode 0600 when it does
/// not exist yet, and tightens it and its `-wal` and `-shm` files when they
/// do. SQLite gives the WAL and shared-memory files it creates the mode of
/// the database file, so this is what keeps all three private.
pub fn prepare_sqlite_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    match options.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        match tighten_file(path) {
            Ok(true) => tracing::info!(path = %path.display(), "made a database file private (0600)"),
            Ok(false) => {}
            // Another user's file we may write to: it works, but say so.
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot make a database file private (0600)"),
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_database_files_end_up_private() {
        let root = std::env::temp_dir().join(format!("wasap-private-{}", crate::random::hex(8)));
        let dir = root.join("a/b");
        assert!(matches!(ensure_private_dir(&dir), Ok(Tightening::Unneeded)));
        assert_eq!((mode(&root.join("a")), mode(&dir)), (0o700, 0o700));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            matches!(ensure_private_dir(&dir), Ok(Tightening::Done)),
            "a loose directory is tightened"
        );
        assert_eq!(mode(&dir), 0o700);
        assert!(matches!(ensure_private_dir(&dir), Ok(Tightening::Unneeded)));

        let db = dir.join("wasap.db");
        prepare_sqlite_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::write(dir.join("wasap.db-wal"), b"").unwrap();
        std::fs::set_permissions(dir.join("wasap.db-wal"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare_sqlite_file(&db).unwrap();
        assert_eq!((mode(&db), mode(&dir.join("wasap.db-wal"))), (0o600, 0o600));
        std::fs::remove_dir_all(root).unwrap();
    }
}
