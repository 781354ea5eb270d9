//! Media files: incoming ones kept under `<data dir>/media` with generated
//! names and served at `/statics/media/<file>`, and the limits, spool and
//! transfer bounds of the files sent.
//!
//! A file name carries 128 random bits, so knowing it is the permission to read
//! it (docs/API.md: no token, no listing). Names are generated here, never taken
//! from the sender, so no path from WhatsApp reaches the file system.
//!
//! - [`store`]: the media directory (per-instance layout, writing, lookup);
//! - [`retention`]: the sweeps that delete media by age and total size;
//! - [`disk`]: the free-space floor new files may not eat into;
//! - [`range`]: single byte ranges of a download;
//! - [`spool`]: uploads written to disk while they arrive;
//! - [`transfers`]: the bound on uploads and `mediaUrl` fetches in flight;
//! - [`limits`]: size limits by kind.

pub mod disk;
mod limits;
pub mod range;
pub mod retention;
pub mod spool;
mod store;
pub mod transfers;

pub use limits::MediaLimits;
pub use retention::Retention;
pub use spool::{Spool, SpoolError, SpoolFile};
pub use store::{MediaError, MediaStore, StoredMedia};
pub use transfers::{Busy, TransferLimits, TransferPermit, Transfers};

/// Where a served file's URL path starts (`media_path` in the gowa format).
pub const URL_PREFIX: &str = "statics/media";

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

/// Whether a served file is an image a browser may show inline (the others
/// are sent as attachments, so a browser never renders them on our origin).
pub fn is_image(file_name: &str) -> bool {
    mime_for(file_name).starts_with("image/")
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

    #[test]
    fn types_map_to_one_extension_and_back() {
        assert_eq!(extension_for("image/jpeg; charset=binary"), "jpg");
        assert_eq!(extension_for("APPLICATION/PDF"), "pdf");
        assert_eq!(extension_for("application/x-unknown"), "bin");
        assert_eq!(mime_for("a-b.webp"), "image/webp");
        assert_eq!(mime_for("a-b.exe"), "application/octet-stream");
        assert!(is_image("a-b.png") && is_image("a-b.gif"));
        assert!(!is_image("a-b.pdf") && !is_image("a-b.bin") && !is_image("a-b.txt"));
    }
}
