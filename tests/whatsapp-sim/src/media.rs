//! Media as the simulated phones handle it: a contact encrypts a file with
//! WhatsApp's media encryption (`wacore::upload::encrypt_media`), puts it on
//! the media server and sends the message that points at it (url, direct
//! path, media key, both hashes, length, MIME type, caption, file name), in
//! the wrappers phones use (`documentWithCaptionMessage` for a captioned
//! document, `viewOnceMessageV2` for view once); and it fetches and decrypts
//! (`DownloadUtils::verify_and_decrypt`) the media a client sent it, checking
//! every hash the message announced.

use buffa::MessageField;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wacore::download::{DownloadUtils, MediaType};
use waproto::whatsapp as wa;

use crate::error::{Result, SimError};
use crate::{Contact, ReceivedMessage};

/// The kinds of media message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    /// An audio file, or a voice note ([`OutgoingMedia::voice_note`]).
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    pub const ALL: [MediaKind; 5] = [
        MediaKind::Image,
        MediaKind::Video,
        MediaKind::Audio,
        MediaKind::Document,
        MediaKind::Sticker,
    ];

    /// The key derivation and upload path WhatsApp uses for the kind.
    pub fn media_type(self) -> MediaType {
        match self {
            MediaKind::Image => MediaType::Image,
            MediaKind::Video => MediaType::Video,
            MediaKind::Audio => MediaType::Audio,
            MediaKind::Document => MediaType::Document,
            MediaKind::Sticker => MediaType::Sticker,
        }
    }

    /// `image`, `video`, … (wasap's event kinds use the same words).
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

/// A file a contact sends. WhatsApp's messages carry a caption on images,
/// videos and documents and a file name on documents only; the other kinds
/// drop what they have no field for, as a phone would.
#[derive(Debug, Clone, Deserialize)]
pub struct OutgoingMedia {
    pub kind: MediaKind,
    #[serde(skip)]
    pub data: Vec<u8>,
    pub mime_type: String,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub file_name: Option<String>,
    /// An audio message recorded as a voice note (`ptt`).
    #[serde(default)]
    pub voice_note: bool,
    /// View once (images, videos and audio): flagged on the media and
    /// wrapped in `viewOnceMessageV2`, as phones send it.
    #[serde(default)]
    pub view_once: bool,
}

impl OutgoingMedia {
    pub fn new(kind: MediaKind, data: impl Into<Vec<u8>>, mime_type: &str) -> OutgoingMedia {
        OutgoingMedia {
            kind,
            data: data.into(),
            mime_type: mime_type.to_owned(),
            caption: None,
            file_name: None,
            voice_note: false,
            view_once: false,
        }
    }

    pub fn caption(mut self, caption: &str) -> OutgoingMedia {
        self.caption = Some(caption.to_owned());
        self
    }

    pub fn file_name(mut self, name: &str) -> OutgoingMedia {
        self.file_name = Some(name.to_owned());
        self
    }

    pub fn voice_note(mut self) -> OutgoingMedia {
        self.voice_note = true;
        self
    }

    pub fn view_once(mut self) -> OutgoingMedia {
        self.view_once = true;
        self
    }
}

/// A file encrypted and stored on the media server: what a media message
/// points at.
#[derive(Debug, Clone)]
pub struct UploadedMedia {
    pub url: String,
    pub direct_path: String,
    pub media_key: [u8; 32],
    pub file_sha256: [u8; 32],
    pub file_enc_sha256: [u8; 32],
    pub file_length: u64,
    pub media_key_timestamp: i64,
}

/// Media a client sent to a simulated account, fetched and decrypted.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedMedia {
    pub kind: MediaKind,
    /// The decrypted file.
    #[serde(skip)]
    pub data: Vec<u8>,
    pub sha256_hex: String,
    pub size: usize,
    pub mime_type: Option<String>,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub voice_note: bool,
    /// A voice note's length, as its message announced it.
    pub seconds: Option<u32>,
    /// Sent view-once (flagged on the media, or wrapped as view-once).
    pub view_once: bool,
}

/// The media message `media` makes once uploaded as `uploaded`.
pub fn media_message(media: &OutgoingMedia, uploaded: UploadedMedia) -> wa::Message {
    let UploadedMedia {
        url,
        direct_path,
        media_key,
        file_sha256,
        file_enc_sha256,
        file_length,
        media_key_timestamp,
    } = uploaded;
    let (url, direct_path) = (Some(url), Some(direct_path));
    let (media_key, file_sha256, file_enc_sha256) = (
        Some(media_key.to_vec()),
        Some(file_sha256.to_vec()),
        Some(file_enc_sha256.to_vec()),
    );
    let (file_length, media_key_timestamp) = (Some(file_length), Some(media_key_timestamp));
    let mimetype = Some(media.mime_type.clone());
    let caption = media.caption.clone();
    let view_once = Some(media.view_once).filter(|v| *v);
    let mut message = wa::Message::default();
    match media.kind {
        MediaKind::Image => {
            message.image_message = MessageField::some(wa::message::ImageMessage {
                url,
                direct_path,
                media_key,
                file_sha256,
                file_enc_sha256,
                file_length,
                media_key_timestamp,
                mimetype,
                caption,
                view_once,
                ..Default::default()
            })
        }
        MediaKind::Video => {
            message.video_message = MessageField::some(wa::message::VideoMessage {
                url,
                direct_path,
                media_key,
                file_sha256,
                file_enc_sha256,
                file_length,
                media_key_timestamp,
                mimetype,
                caption,
                view_once,
                ..Default::default()
            })
        }
        MediaKind::Audio => {
            message.audio_message = MessageField::some(wa::message::AudioMessage {
                url,
                direct_path,
                media_key,
                file_sha256,
                file_enc_sha256,
                file_length,
                media_key_timestamp,
                mimetype,
                ptt: Some(media.voice_note),
                view_once,
                ..Default::default()
            })
        }
        MediaKind::Document => {
            message.document_message = MessageField::some(wa::message::DocumentMessage {
                url,
                direct_path,
                media_key,
                file_sha256,
                file_enc_sha256,
                file_length,
                media_key_timestamp,
                mimetype,
                caption,
                title: media.file_name.clone(),
                file_name: media.file_name.clone(),
                ..Default::default()
            })
        }
        MediaKind::Sticker => {
            message.sticker_message = MessageField::some(wa::message::StickerMessage {
                url,
                direct_path,
                media_key,
                file_sha256,
                file_enc_sha256,
                file_length,
                media_key_timestamp,
                mimetype,
                ..Default::default()
            })
        }
    }
    // Phones send a document with a caption inside `documentWithCaptionMessage`.
    if media.kind == MediaKind::Document && media.caption.is_some() {
        message = wa::Message {
            document_with_caption_message: MessageField::some(wa::message::FutureProofMessage {
                message: MessageField::some(message),
            }),
            ..Default::default()
        };
    }
    if media.view_once {
        message = wa::Message {
            view_once_message_v2: MessageField::some(wa::message::FutureProofMessage {
                message: MessageField::some(message),
            }),
            ..Default::default()
        };
    }
    message
}

impl Contact {
    /// Encrypts `data` as WhatsApp does for `kind` and stores it on the media
    /// server, as the phone's upload would.
    pub fn upload_media(&self, kind: MediaKind, data: &[u8]) -> Result<UploadedMedia> {
        let encrypted = wacore::upload::encrypt_media(data, kind.media_type())
            .map_err(|e| SimError::Protocol(format!("encrypting media: {e}")))?;
        let mms_type = kind.media_type().mms_type();
        let (direct_path, url) = self.inner.media.store(mms_type, Bytes::from(encrypted.data_to_upload));
        Ok(UploadedMedia {
            url,
            direct_path,
            media_key: encrypted.media_key,
            file_sha256: encrypted.file_sha256,
            file_enc_sha256: encrypted.file_enc_sha256,
            file_length: data.len() as u64,
            media_key_timestamp: wacore::time::now_secs(),
        })
    }

    /// Uploads `media` and sends its message to every linked device of `to`;
    /// returns the message id.
    pub async fn send_media(&self, to: &str, media: &OutgoingMedia) -> Result<String> {
        let uploaded = self.upload_media(media.kind, &media.data)?;
        self.send_message(to, &media_message(media, uploaded)).await
    }

    /// Fetches the media of a message this contact received from the media
    /// server and decrypts it, checking the encrypted file's hash, the MAC,
    /// the plaintext's hash and its length against what the message says.
    pub fn download_media(&self, received: &ReceivedMessage) -> Result<ReceivedMedia> {
        let found = fields(&received.message)
            .ok_or_else(|| SimError::Protocol(format!("message {} carries no media", received.id)))?;
        let bad = |what: &str| SimError::Protocol(format!("media of {}: {what}", received.id));
        let direct_path = found.direct_path.ok_or_else(|| bad("no direct path"))?;
        let media_key = found.media_key.ok_or_else(|| bad("no media key"))?;
        let blob = self
            .inner
            .media
            .blob(direct_path)
            .ok_or_else(|| bad(&format!("nothing stored at {direct_path}")))?;
        if blob.mms_type != found.kind.media_type().mms_type() {
            return Err(bad(&format!("uploaded as {}, sent as {:?}", blob.mms_type, found.kind)));
        }
        if found.file_enc_sha256 != Some(&blob.enc_sha256[..]) {
            return Err(bad("the encrypted file is not the one the message names"));
        }
        let data = DownloadUtils::verify_and_decrypt(&blob.data, media_key, found.kind.media_type())
            .map_err(|e| bad(&format!("cannot decrypt: {e}")))?;
        let sha256: [u8; 32] = Sha256::digest(&data).into();
        if found.file_sha256 != Some(&sha256[..]) {
            return Err(bad("the decrypted file does not match its announced hash"));
        }
        if found.file_length != Some(data.len() as u64) {
            return Err(bad(&format!(
                "announced {:?} bytes, decrypted {}",
                found.file_length,
                data.len()
            )));
        }
        Ok(ReceivedMedia {
            kind: found.kind,
            sha256_hex: hex::encode(sha256),
            size: data.len(),
            data,
            mime_type: found.mime_type.map(str::to_owned),
            caption: found.caption.map(str::to_owned),
            file_name: found.file_name.map(str::to_owned),
            voice_note: found.voice_note,
            seconds: found.seconds,
            view_once: found.view_once,
        })
    }

    /// Every media message this contact received, decrypted, in order.
    pub fn received_media(&self) -> Result<Vec<(ReceivedMessage, ReceivedMedia)>> {
        self.decrypt_all(self.received())
    }

    /// Waits until this contact received at least `min` messages of any kind
    /// from the devices of account `sender` (a phone number); returns the
    /// media ones among them, decrypted, in order.
    pub async fn wait_media_from(
        &self,
        sender: &str,
        min: usize,
        timeout: std::time::Duration,
    ) -> Result<Vec<(ReceivedMessage, ReceivedMedia)>> {
        let pn = self.pn.clone();
        let from_sender = |m: &ReceivedMessage| m.category.is_none() && m.from.split(['@', ':']).next() == Some(sender);
        let received = self
            .inner
            .wait_for(timeout, &format!("{min} messages from {sender} to {pn}"), |w| {
                let inbox: Vec<ReceivedMessage> = w
                    .accounts
                    .get(&pn)?
                    .inbox
                    .iter()
                    .filter(|m| from_sender(m))
                    .cloned()
                    .collect();
                (inbox.len() >= min).then_some(inbox)
            })
            .await?;
        self.decrypt_all(received)
    }

    fn decrypt_all(&self, received: Vec<ReceivedMessage>) -> Result<Vec<(ReceivedMessage, ReceivedMedia)>> {
        received
            .into_iter()
            .filter(|m| fields(&m.message).is_some())
            .map(|m| {
                let media = self.download_media(&m)?;
                Ok((m, media))
            })
            .collect()
    }
}

/// What a media message says about its file.
struct Fields<'a> {
    kind: MediaKind,
    direct_path: Option<&'a str>,
    media_key: Option<&'a [u8]>,
    file_sha256: Option<&'a [u8]>,
    file_enc_sha256: Option<&'a [u8]>,
    file_length: Option<u64>,
    mime_type: Option<&'a str>,
    caption: Option<&'a str>,
    file_name: Option<&'a str>,
    voice_note: bool,
    seconds: Option<u32>,
    view_once: bool,
}

/// The media fields of a message, through the wrappers a media message
/// travels in (view once, a document with a caption).
fn fields(message: &wa::Message) -> Option<Fields<'_>> {
    let wrapped = [
        &message.view_once_message,
        &message.view_once_message_v2,
        &message.document_with_caption_message,
        &message.ephemeral_message,
    ]
    .into_iter()
    .find_map(|w| w.as_option().and_then(|w| w.message.as_option()));
    if let Some(inner) = wrapped {
        let once = message.view_once_message.is_set() || message.view_once_message_v2.is_set();
        return fields(inner).map(|f| Fields {
            view_once: f.view_once || once,
            ..f
        });
    }
    macro_rules! common {
        ($m:expr, $kind:expr) => {
            Fields {
                kind: $kind,
                direct_path: $m.direct_path.as_deref(),
                media_key: $m.media_key.as_deref(),
                file_sha256: $m.file_sha256.as_deref(),
                file_enc_sha256: $m.file_enc_sha256.as_deref(),
                file_length: $m.file_length,
                mime_type: $m.mimetype.as_deref(),
                caption: None,
                file_name: None,
                voice_note: false,
                seconds: None,
                view_once: false,
            }
        };
    }
    if let Some(m) = message.image_message.as_option() {
        return Some(Fields {
            caption: m.caption.as_deref(),
            view_once: m.view_once.unwrap_or(false),
            ..common!(m, MediaKind::Image)
        });
    }
    if let Some(m) = message.video_message.as_option() {
        return Some(Fields {
            caption: m.caption.as_deref(),
            view_once: m.view_once.unwrap_or(false),
            ..common!(m, MediaKind::Video)
        });
    }
    if let Some(m) = message.audio_message.as_option() {
        return Some(Fields {
            voice_note: m.ptt.unwrap_or(false),
            seconds: m.seconds,
            view_once: m.view_once.unwrap_or(false),
            ..common!(m, MediaKind::Audio)
        });
    }
    if let Some(m) = message.document_message.as_option() {
        return Some(Fields {
            caption: m.caption.as_deref(),
            file_name: m.file_name.as_deref(),
            ..common!(m, MediaKind::Document)
        });
    }
    if let Some(m) = message.sticker_message.as_option() {
        return Some(common!(m, MediaKind::Sticker));
    }
    None
}
