//! [`MediaLimits`]: how large a media file may be, by kind, for files received
//! (downloads stop at the limit) and files sent (by upload or by URL).

use crate::engine::MediaKind;
use crate::events::Content;

/// A sticker sent, at most: WhatsApp refuses larger ones (500 KB animated,
/// 100 KB static; the smaller bound is the phone's to enforce).
pub const MAX_STICKER_BYTES: u64 = 500 * 1024;

/// Size limits of media files, received or sent, by kind.
#[derive(Debug, Clone, Copy)]
pub struct MediaLimits {
    pub image: u64,
    pub video: u64,
    pub audio: u64,
    pub document: u64,
}

impl MediaLimits {
    /// The largest of the limits.
    pub fn largest(&self) -> u64 {
        self.image.max(self.video).max(self.audio).max(self.document)
    }

    /// The limit for files sent as `kind`.
    pub fn for_kind(&self, kind: MediaKind) -> u64 {
        match kind {
            MediaKind::Image => self.image,
            MediaKind::Video => self.video,
            MediaKind::Audio | MediaKind::Voice => self.audio,
            MediaKind::Document => self.document,
            // WhatsApp's own bound on a sticker: 500 KB for an animated one.
            MediaKind::Sticker => self.image.min(MAX_STICKER_BYTES),
        }
    }

    /// The limit for an incoming message's media.
    pub fn for_content(&self, content: &Content) -> u64 {
        match content {
            Content::Image(_) | Content::Sticker(_) => self.image,
            Content::Video(_) => self.video,
            Content::Audio(_) => self.audio,
            _ => self.document,
        }
    }
}
