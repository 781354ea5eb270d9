//! Turning a file's bytes into the media message to send, the same way for
//! every sender (an uploaded file, a URL fetched for the API, a URL a plugin
//! asked for): the kind is the one given or the one the content shows, the
//! kind's size limit applies, and the MIME type is the declared one unless it
//! is missing or the generic `application/octet-stream`, then the sniffed one.

use bytes::Bytes;

use super::media_kind::sniff;
use crate::engine::{MediaKind, OutgoingMedia};
use crate::media::MediaLimits;
use crate::outbound::{FetchError, Fetcher};

/// A file to send, as received.
pub struct MediaFile {
    pub data: Bytes,
    /// The type the sender declared (form part or response `Content-Type`).
    pub declared_type: Option<String>,
    pub file_name: Option<String>,
}

/// The file is over its kind's limit.
#[derive(Debug, thiserror::Error)]
#[error("the file is larger than the {limit} bytes allowed for its kind")]
pub struct TooLarge {
    pub limit: u64,
}

/// Why media could not be taken from a URL.
#[derive(Debug, thiserror::Error)]
pub enum MediaUrlError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("the media URL answered with an empty body")]
    Empty,
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

/// The media message for `file`, sent as `kind` (or the sniffed kind).
pub fn build(
    file: MediaFile,
    kind: Option<MediaKind>,
    caption: Option<String>,
    limits: &MediaLimits,
) -> Result<OutgoingMedia, TooLarge> {
    let (sniffed_kind, sniffed_mime) = sniff(&file.data);
    let kind = kind.unwrap_or(sniffed_kind);
    let limit = limits.for_kind(kind);
    if file.data.len() as u64 > limit {
        return Err(TooLarge { limit });
    }
    let mime_type = file
        .declared_type
        .filter(|t| !t.is_empty() && t != "application/octet-stream")
        .unwrap_or_else(|| sniffed_mime.to_owned());
    Ok(OutgoingMedia {
        kind,
        data: file.data,
        mime_type,
        file_name: file.file_name,
        caption: caption.filter(|c| !c.is_empty()),
    })
}

/// Fetches media from URLs under the outbound-URL policy and the media size
/// limits. Cheap to clone.
#[derive(Clone)]
pub struct MediaFromUrl {
    pub fetcher: Fetcher,
    pub limits: MediaLimits,
}

impl MediaFromUrl {
    /// The media message for the file at `url`. The size cap while fetching
    /// is the kind's limit when the kind is given, else the largest one.
    pub async fn fetch(
        &self,
        url: &str,
        kind: Option<MediaKind>,
        caption: Option<String>,
        file_name: Option<String>,
    ) -> Result<OutgoingMedia, MediaUrlError> {
        let max_bytes = kind.map_or(self.limits.largest(), |kind| self.limits.for_kind(kind));
        let fetched = self.fetcher.fetch(url, max_bytes).await?;
        if fetched.data.is_empty() {
            return Err(MediaUrlError::Empty);
        }
        let file = MediaFile {
            data: fetched.data,
            declared_type: fetched.mime_type,
            file_name: file_name.or(fetched.file_name),
        };
        Ok(build(file, kind, caption, &self.limits)?)
    }
}
