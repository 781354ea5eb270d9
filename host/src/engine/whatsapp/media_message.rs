//! The WhatsApp message for an uploaded file, by kind: what whatsapp-rust's
//! `media` builders make, plus what they leave out (stickers, voice notes'
//! push-to-talk flag and length, view-once).

use whatsapp_rust::media;
use whatsapp_rust::upload::UploadResponse;
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::engine::MediaKind;

/// What an uploaded file is sent with.
pub(super) struct Presentation {
    pub kind: MediaKind,
    pub mime_type: String,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub view_once: bool,
    pub seconds: Option<u32>,
    /// The users the caption mentions (JIDs).
    pub mentions: Vec<String>,
}

/// The message for `upload`, presented as `how` says.
pub(super) fn media_message(upload: UploadResponse, how: Presentation) -> wa::Message {
    let Presentation {
        kind,
        mime_type,
        caption,
        file_name,
        view_once,
        seconds,
        mentions,
    } = how;
    let mimetype = Some(mime_type).filter(|m| !m.is_empty());
    let mut message = match kind {
        MediaKind::Image => media::image_message(
            upload,
            media::ImageOptions {
                caption,
                mimetype,
                ..Default::default()
            },
        ),
        MediaKind::Video => media::video_message(
            upload,
            media::VideoOptions {
                caption,
                mimetype,
                ..Default::default()
            },
        ),
        MediaKind::Audio | MediaKind::Voice => media::audio_message(
            upload,
            media::AudioOptions {
                mimetype,
                duration_seconds: seconds,
                ptt: Some(kind == MediaKind::Voice),
                ..Default::default()
            },
        ),
        MediaKind::Document => media::document_message(
            upload,
            media::DocumentOptions {
                mimetype,
                title: file_name.clone(),
                file_name,
                caption,
                ..Default::default()
            },
        ),
        MediaKind::Sticker => wa::Message {
            sticker_message: MessageField::some(wa::message::StickerMessage {
                url: Some(upload.url),
                direct_path: Some(upload.direct_path),
                media_key: Some(upload.media_key.to_vec()),
                file_sha256: Some(upload.file_sha256.to_vec()),
                file_enc_sha256: Some(upload.file_enc_sha256.to_vec()),
                file_length: Some(upload.file_length),
                media_key_timestamp: Some(upload.media_key_timestamp),
                mimetype: Some(mimetype.unwrap_or_else(|| "image/webp".to_owned())),
                ..Default::default()
            }),
            ..Default::default()
        },
    };
    if !mentions.is_empty()
        && let Some(context) = super::outgoing::context_mut(&mut message)
    {
        context.mentioned_jid = mentions;
    }
    if view_once {
        // As phones send it: flagged on the media, wrapped in viewOnceMessageV2.
        if let Some(image) = message.image_message.as_option_mut() {
            image.view_once = Some(true);
        }
        if let Some(video) = message.video_message.as_option_mut() {
            video.view_once = Some(true);
        }
        message = wa::Message {
            view_once_message_v2: MessageField::some(wa::message::FutureProofMessage {
                message: MessageField::some(message),
            }),
            ..Default::default()
        };
    }
    message
}
