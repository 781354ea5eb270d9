//! The admin API token: configured, or generated once and kept in the data
//! directory. The global webhook secret is resolved the same way
//! ([`resolve_in_file`]), so neither ever has a weak default.

use std::io::Write;
use std::path::{Path, PathBuf};

/// File in the data directory that keeps a generated admin token.
const TOKEN_FILE: &str = "admin_token";

/// Where the admin token came from, so start-up can say so.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `WASAP_API_TOKEN` / `--api-token`.
    Configured,
    /// Generated now, on first start: the only time it is printed.
    Generated(PathBuf),
    /// Generated on an earlier start and read back.
    Stored(PathBuf),
}

/// The admin token in effect, and where it came from.
pub fn resolve(configured: Option<&str>, data_dir: &Path) -> std::io::Result<(String, TokenSource)> {
    resolve_in_file(configured, data_dir, TOKEN_FILE)
}

/// A secret that is `configured`, or else kept in `file` of the data
/// directory, generated (256 random bits) on first use.
pub fn resolve_in_file(
    configured: Option<&str>,
    data_dir: &Path,
    file: &str,
) -> std::io::Result<(String, TokenSource)> {
    if let Some(token) = configured.map(str::trim).filter(|t| !t.is_empty()) {
        return Ok((token.to_owned(), TokenSource::Configured));
    }
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(stored) if !stored.trim().is_empty() => {
            return Ok((stored.trim().to_owned(), TokenSource::Stored(path)));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token = generate();
    std::fs::create_dir_all(data_dir)?;
    write_private(&path, &token)?;
    Ok((token, TokenSource::Generated(path)))
}

/// Below this length a configured admin token draws a warning at start-up
/// (a generated one has 64 hex characters).
pub const MIN_CHARS: usize = 32;

/// What is wrong with a configured admin token, if anything, as the end of a
/// sentence that starts with where it came from.
pub fn weakness(token: &str) -> Option<String> {
    let length = token.chars().count();
    (length < MIN_CHARS).then(|| {
        format!(
            "is {length} characters long, shorter than {MIN_CHARS}: it can be guessed; \
             use a long random token (e.g. `openssl rand -hex 32`)"
        )
    })
}

/// A token with 256 random bits, hex-encoded.
pub fn generate() -> String {
    crate::random::hex(32)
}

/// Writes `contents` to a file only its owner can read.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_configured_tokens_are_called_weak() {
        assert!(weakness("secret").is_some_and(|w| w.contains("6 characters") && w.contains("32")));
        assert!(weakness(&"x".repeat(31)).is_some());
        assert_eq!(weakness(&"x".repeat(32)), None);
        assert_eq!(weakness(&generate()), None, "a generated token is never weak");
    }

    #[test]
    fn generated_token_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("wasap-token-{}", generate()));
        let (first, source) = resolve(None, &dir).unwrap();
        assert_eq!(first.len(), 64);
        assert!(matches!(source, TokenSource::Generated(_)));
        let (second, source) = resolve(None, &dir).unwrap();
        assert_eq!(first, second);
        assert!(matches!(source, TokenSource::Stored(_)));
        let (configured, source) = resolve(Some("abc"), &dir).unwrap();
        assert_eq!((configured.as_str(), source), ("abc", TokenSource::Configured));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
