//! Turning a file's bytes into the media message to send, the same way for
//! every sender (an uploaded file, a URL fetched for the API, a URL a plugin
//! asked for): the kind is the one given or the one the content shows, the
//! kind's size limit applies, and the MIME type is the declared one unless it
//! is missing or the generic `application/octet-stream`, then the sniffed one.

use bytes::Bytes;

use super::media_kind::sniff;
use super::voice_note::{self, NotOggOpus};
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

/// Why a file cannot be sent as asked.
#[derive(Debug, thiserror::Error)]
pub enum Unsendable {
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error("a sticker must be a WebP image (image/webp)")]
    StickerNotWebp,
    #[error(transparent)]
    VoiceNote(#[from] NotOggOpus),
    #[error("only images and videos can be sent view-once")]
    ViewOnce,
}

/// Why media could not be taken from a URL.
#[derive(Debug, thiserror::Error)]
pub enum MediaUrlError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("the media URL answered with an empty body")]
    Empty,
    #[error(transparent)]
    Unsendable(#[from] Unsendable),
}

/// A file name a client gives, at most (bytes).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// Whether `name` may be a sent file's name: at most
/// [`MAX_FILE_NAME_BYTES`], on one line (no control characters).
pub fn file_name_ok(name: &str) -> bool {
    name.len() <= MAX_FILE_NAME_BYTES && !name.chars().any(char::is_control)
}

/// How a file is to be sent, beyond its bytes.
#[derive(Debug, Clone, Default)]
pub struct MediaOptions {
    /// The kind to send it as; the sniffed one when `None`.
    pub kind: Option<MediaKind>,
    pub caption: Option<String>,
    /// Overrides the file's own name.
    pub file_name: Option<String>,
    /// The recipient can open it once (images and videos).
    pub view_once: bool,
}

/// The media message for `file`, sent as `kind` (or the sniffed kind).
pub fn build(
    file: MediaFile,
    kind: Option<MediaKind>,
    caption: Option<String>,
    limits: &MediaLimits,
) -> Result<OutgoingMedia, Unsendable> {
    let options = MediaOptions {
        kind,
        caption,
        ..MediaOptions::default()
    };
    build_with(file, options, limits)
}

/// The media message for `file`, sent as `options` say: a sticker must be
/// WebP, a voice note Ogg Opus (its length read from it), and only images
/// and videos go view-once.
pub fn build_with(file: MediaFile, options: MediaOptions, limits: &MediaLimits) -> Result<OutgoingMedia, Unsendable> {
    let (sniffed_kind, sniffed_mime) = sniff(&file.data);
    let kind = options.kind.unwrap_or(sniffed_kind);
    let limit = limits.for_kind(kind);
    if file.data.len() as u64 > limit {
        return Err(TooLarge { limit }.into());
    }
    if options.view_once && !matches!(kind, MediaKind::Image | MediaKind::Video) {
        return Err(Unsendable::ViewOnce);
    }
    let mut seconds = None;
    let mime_type = match kind {
        MediaKind::Sticker if sniffed_mime != "image/webp" => return Err(Unsendable::StickerNotWebp),
        MediaKind::Sticker => sniffed_mime.to_owned(),
        MediaKind::Voice => {
            seconds = Some(voice_note::inspect(&file.data)?.seconds);
            // The type WhatsApp's players look for, whatever was declared.
            "audio/ogg; codecs=opus".to_owned()
        }
        _ => file
            .declared_type
            .filter(|t| !t.is_empty() && t != "application/octet-stream")
            .unwrap_or_else(|| sniffed_mime.to_owned()),
    };
    Ok(OutgoingMedia {
        kind,
        data: file.data,
        mime_type,
        file_name: options.file_name.or(file.file_name),
        caption: options.caption.filter(|c| !c.is_empty()),
        // Resolved by the Messenger, which knows who a mention names.
        mentions: Vec::new(),
        view_once: options.view_once,
        seconds,
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
        let options = MediaOptions {
            kind,
            caption,
            file_name,
            view_once: false,
        };
        self.fetch_with(url, options).await
    }

    /// The media message for the file at `url`, sent as `options` say.
    pub async fn fetch_with(&self, url: &str, options: MediaOptions) -> Result<OutgoingMedia, MediaUrlError> {
        let max_bytes = options
            .kind
            .map_or(self.limits.largest(), |kind| self.limits.for_kind(kind));
        let fetched = self.fetcher.fetch(url, max_bytes).await?;
        if fetched.data.is_empty() {
            return Err(MediaUrlError::Empty);
        }
        let file = MediaFile {
            data: fetched.data,
            declared_type: fetched.mime_type,
            file_name: fetched.file_name,
        };
        Ok(build_with(file, options, &self.limits)?)
    }
}
