//! What kind of media a file is: from the kind's name when the sender gives
//! one, else from the file's first bytes (images, videos and audio by their
//! signatures, anything else is sent as a document). The MIME type follows
//! the same sniffing when the upload did not name one (or named the generic
//! `application/octet-stream`).

use std::str::FromStr;

use crate::engine::MediaKind;

/// A name that is not a media kind's.
#[derive(Debug, thiserror::Error)]
#[error("unknown media kind {0:?}: image, video, audio, document, sticker or voice")]
pub struct UnknownMediaKind(pub String);

/// A kind by its name ([`MediaKind::as_str`]), in any case and with
/// surrounding whitespace, since clients write it by hand.
impl FromStr for MediaKind {
    type Err = UnknownMediaKind;

    fn from_str(name: &str) -> Result<MediaKind, UnknownMediaKind> {
        let name = name.trim();
        [
            MediaKind::Image,
            MediaKind::Video,
            MediaKind::Audio,
            MediaKind::Document,
            MediaKind::Sticker,
            MediaKind::Voice,
        ]
        .into_iter()
        .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| UnknownMediaKind(name.to_owned()))
    }
}

/// A file's kind and MIME type, as far as its content tells.
pub fn sniff(bytes: &[u8]) -> (MediaKind, &'static str) {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| bytes.get(offset..offset + magic.len()) == Some(magic);
    if starts(b"\xff\xd8\xff") {
        (MediaKind::Image, "image/jpeg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        (MediaKind::Image, "image/png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        (MediaKind::Image, "image/gif")
    } else if starts(b"RIFF") && at(8, b"WEBP") {
        (MediaKind::Image, "image/webp")
    } else if at(4, b"ftyp") {
        // ISO base media: the brand tells audio-only M4A from video.
        if at(8, b"M4A ") || at(8, b"M4B ") {
            (MediaKind::Audio, "audio/mp4")
        } else if at(8, b"3gp") {
            (MediaKind::Video, "video/3gpp")
        } else {
            (MediaKind::Video, "video/mp4")
        }
    } else if starts(b"OggS") {
        (MediaKind::Audio, "audio/ogg")
    } else if starts(b"ID3") || starts(b"\xff\xfb") || starts(b"\xff\xf3") || starts(b"\xff\xf2") {
        (MediaKind::Audio, "audio/mpeg")
    } else if starts(b"\xff\xf1") || starts(b"\xff\xf9") {
        (MediaKind::Audio, "audio/aac")
    } else if starts(b"%PDF-") {
        (MediaKind::Document, "application/pdf")
    } else if starts(b"PK\x03\x04") {
        (MediaKind::Document, "application/zip")
    } else {
        (MediaKind::Document, "application/octet-stream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_parsed_by_name_in_any_case() {
        assert_eq!(" Image ".parse::<MediaKind>().ok(), Some(MediaKind::Image));
        assert_eq!("VIDEO".parse::<MediaKind>().ok(), Some(MediaKind::Video));
        assert_eq!("audio".parse::<MediaKind>().ok(), Some(MediaKind::Audio));
        assert_eq!("Document".parse::<MediaKind>().ok(), Some(MediaKind::Document));
        assert_eq!("sticker".parse::<MediaKind>().ok(), Some(MediaKind::Sticker));
        assert_eq!(" Voice".parse::<MediaKind>().ok(), Some(MediaKind::Voice));
        for name in ["", "ptt", "images", "ımage"] {
            assert!(name.parse::<MediaKind>().is_err(), "{name:?}");
        }
    }

    #[test]
    fn common_formats_are_recognised() {
        let cases: &[(&[u8], MediaKind, &str)] = &[
            (b"\xff\xd8\xff\xe0\x00\x10JFIF", MediaKind::Image, "image/jpeg"),
            (b"\x89PNG\r\n\x1a\n\x00", MediaKind::Image, "image/png"),
            (b"RIFF\x24\x00\x00\x00WEBPVP8 ", MediaKind::Image, "image/webp"),
            (b"\x00\x00\x00\x18ftypmp42\x00", MediaKind::Video, "video/mp4"),
            (b"\x00\x00\x00\x18ftypM4A \x00", MediaKind::Audio, "audio/mp4"),
            (b"OggS\x00\x02", MediaKind::Audio, "audio/ogg"),
            (b"ID3\x04\x00", MediaKind::Audio, "audio/mpeg"),
            (b"%PDF-1.7\n", MediaKind::Document, "application/pdf"),
            (b"hello world", MediaKind::Document, "application/octet-stream"),
            (b"", MediaKind::Document, "application/octet-stream"),
        ];
        for (bytes, kind, mime) in cases {
            assert_eq!(sniff(bytes), (*kind, *mime), "{bytes:?}");
        }
    }
}
