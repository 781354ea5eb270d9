//! What a `wa::Message` carries, as canonical [`Content`] plus its message-level flags.
//!
//! This file owns unwrapping (device-sent, ephemeral, every view-once variant,
//! documentWithCaption, edited and the other future-proof wrappers), reading `contextInfo`
//! (reply, forwarded, disappearing-messages setting) and mapping each kind of content.

use whatsapp_rust::download::Downloadable;
use whatsapp_rust::types::message::MessageInfo;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::waproto::whatsapp::message::protocol_message::Type as ProtocolType;

use crate::events::{Content, DisappearingMode, Ephemeral, Media, Quoted};

/// Wrappers nest (a device-sent copy of an ephemeral view-once image is three deep); real
/// messages never go near this bound, which only stops a hostile message from looping us.
const MAX_WRAPPER_DEPTH: usize = 16;

/// A media message still to be downloaded: the unwrapped waproto message, which carries
/// the CDN path and keys whatsapp-rust's `Client::download` needs.
#[derive(Debug, Clone, PartialEq)]
pub enum WaMedia {
    Image(wa::message::ImageMessage),
    Video(wa::message::VideoMessage),
    Audio(wa::message::AudioMessage),
    Document(wa::message::DocumentMessage),
    Sticker(wa::message::StickerMessage),
}

impl WaMedia {
    /// What whatsapp-rust downloads from.
    pub fn downloadable(&self) -> &dyn Downloadable {
        match self {
            WaMedia::Image(m) => m,
            WaMedia::Video(m) => m,
            WaMedia::Audio(m) => m,
            WaMedia::Document(m) => m,
            WaMedia::Sticker(m) => m,
        }
    }

    /// The file size the sender announced, checked against limits before downloading.
    pub fn declared_length(&self) -> Option<u64> {
        self.downloadable().file_length()
    }
}

/// What [`convert`] found, before the envelope is added.
pub(super) struct Converted {
    pub content: Body,
    pub media: Option<WaMedia>,
    pub quoted: Option<Quoted>,
    pub forwarded: bool,
    pub view_once: bool,
    pub ephemeral: Option<Ephemeral>,
}

/// The content, or a revoke whose chat and ownership depend on the envelope.
pub(super) enum Body {
    Content(Content),
    Revoke { target_id: String, key_from_me: bool },
}

/// The content of a message; `None` for kinds the model does not carry.
pub(super) fn convert(message: &wa::Message, info: &MessageInfo) -> Option<Converted> {
    let unwrapped = unwrap(message);
    let base = unwrapped.base;
    let (body, media) = body(base)?;
    let context = context_info(base);
    let quoted = context.and_then(|ctx| {
        let id = ctx.stanza_id.as_deref().filter(|id| !id.is_empty())?;
        let text = ctx.quoted_message.as_option().map(text_of).unwrap_or_default();
        Some(Quoted {
            id: id.to_owned(),
            text,
        })
    });
    let forwarded =
        context.is_some_and(|ctx| ctx.is_forwarded.unwrap_or(false) || ctx.forwarding_score.unwrap_or(0) > 0);
    let ephemeral = context
        .and_then(ephemeral_of)
        // A bare text in an ephemeral chat has no contextInfo; whatsapp-rust still reads
        // the timer off the stanza.
        .or_else(|| {
            info.ephemeral_expiration
                .filter(|e| *e > 0)
                .map(|expiration| Ephemeral {
                    expiration,
                    setting_timestamp: 0,
                    disappearing_mode: None,
                })
        });
    Some(Converted {
        content: body,
        media,
        quoted,
        forwarded,
        view_once: unwrapped.view_once || media_view_once(base),
        ephemeral,
    })
}

struct Unwrapped<'a> {
    base: &'a wa::Message,
    /// A view-once wrapper was peeled on the way.
    view_once: bool,
}

/// The content of `message` with every wrapper peeled (for the kinds that
/// are read elsewhere, like poll votes).
pub(super) fn base_of(message: &wa::Message) -> &wa::Message {
    unwrap(message).base
}

/// Peels every wrapper around the content, in whatever order they nest.
fn unwrap(message: &wa::Message) -> Unwrapped<'_> {
    let mut current = message;
    let mut view_once = false;
    for _ in 0..MAX_WRAPPER_DEPTH {
        if let Some(inner) = current
            .device_sent_message
            .as_option()
            .and_then(|d| d.message.as_option())
        {
            current = inner;
            continue;
        }
        let view_once_wrappers = [
            &current.view_once_message,
            &current.view_once_message_v2,
            &current.view_once_message_v2_extension,
        ];
        if let Some(inner) = view_once_wrappers.into_iter().find_map(future_proof) {
            view_once = true;
            current = inner;
            continue;
        }
        // Wrappers that add nothing the model carries: their inner message is the content.
        let plain_wrappers = [
            &current.ephemeral_message,
            &current.document_with_caption_message,
            &current.edited_message,
            &current.group_mentioned_message,
            &current.bot_invoke_message,
            &current.bot_forwarded_message,
            &current.lottie_sticker_message,
            &current.spoiler_message,
            &current.associated_child_message,
        ];
        match plain_wrappers.into_iter().find_map(future_proof) {
            Some(inner) => current = inner,
            None => break,
        }
    }
    Unwrapped {
        base: current,
        view_once,
    }
}

fn future_proof(
    wrapper: &whatsapp_rust::waproto::buffa::MessageField<wa::message::FutureProofMessage>,
) -> Option<&wa::Message> {
    wrapper.as_option().and_then(|w| w.message.as_option())
}

/// The content of an unwrapped message, and its media to download.
fn body(base: &wa::Message) -> Option<(Body, Option<WaMedia>)> {
    let content = |content| Some((Body::Content(content), None));
    if let Some(protocol) = base.protocol_message.as_option() {
        return protocol_body(protocol).map(|body| (body, None));
    }
    if let Some(reaction) = base.reaction_message.as_option() {
        let target_id = reaction
            .key
            .as_option()
            .and_then(|k| k.id.clone())
            .filter(|id| !id.is_empty())?;
        return content(Content::Reaction {
            emoji: reaction.text.clone().unwrap_or_default(),
            target_id,
        });
    }
    if let Some(text) = base.conversation.as_deref().filter(|t| !t.is_empty()) {
        return content(Content::Text { text: text.to_owned() });
    }
    if let Some(ext) = base.extended_text_message.as_option() {
        return content(Content::Text {
            text: ext.text.clone().unwrap_or_default(),
        });
    }
    if let Some(m) = base.image_message.as_option() {
        let media = media(&m.mimetype, "image/jpeg", &m.caption, &None, m.file_length);
        return Some((Body::Content(Content::Image(media)), Some(WaMedia::Image(m.clone()))));
    }
    // A round video note (`ptvMessage`) is a video like any other to receivers.
    if let Some(m) = base.video_message.as_option().or(base.ptv_message.as_option()) {
        let media = media(&m.mimetype, "video/mp4", &m.caption, &None, m.file_length);
        return Some((Body::Content(Content::Video(media)), Some(WaMedia::Video(m.clone()))));
    }
    if let Some(m) = base.audio_message.as_option() {
        let media = media(&m.mimetype, "audio/ogg", &None, &None, m.file_length);
        return Some((Body::Content(Content::Audio(media)), Some(WaMedia::Audio(m.clone()))));
    }
    if let Some(m) = base.document_message.as_option() {
        let file_name = m.file_name.clone().or_else(|| m.title.clone());
        let media = media(
            &m.mimetype,
            "application/octet-stream",
            &m.caption,
            &file_name,
            m.file_length,
        );
        return Some((
            Body::Content(Content::Document(media)),
            Some(WaMedia::Document(m.clone())),
        ));
    }
    if let Some(m) = base.sticker_message.as_option() {
        let media = media(&m.mimetype, "image/webp", &None, &None, m.file_length);
        return Some((
            Body::Content(Content::Sticker(media)),
            Some(WaMedia::Sticker(m.clone())),
        ));
    }
    if let Some(contact) = base.contact_message.as_option() {
        return content(Content::Contact {
            display_name: contact.display_name.clone().unwrap_or_default(),
            vcard: contact.vcard.clone().unwrap_or_default(),
        });
    }
    if let Some(array) = base.contacts_array_message.as_option() {
        // The model has one card per message; several cards travel as one vCard text,
        // which vCard readers split on BEGIN/END.
        let vcard = array
            .contacts
            .iter()
            .filter_map(|c| c.vcard.as_deref())
            .collect::<Vec<_>>()
            .join("\n");
        let display_name = array
            .display_name
            .clone()
            .or_else(|| array.contacts.first().and_then(|c| c.display_name.clone()))
            .unwrap_or_default();
        return content(Content::Contact { display_name, vcard });
    }
    if let Some(l) = base.location_message.as_option() {
        return content(Content::Location {
            latitude: l.degrees_latitude.unwrap_or_default(),
            longitude: l.degrees_longitude.unwrap_or_default(),
            name: l.name.clone(),
            address: l.address.clone(),
            thumbnail_base64: l.jpeg_thumbnail.as_deref().filter(|t| !t.is_empty()).map(base64),
        });
    }
    if let Some(l) = base.live_location_message.as_option() {
        // A live location's only words are its caption; it stands in for the name.
        return content(Content::Location {
            latitude: l.degrees_latitude.unwrap_or_default(),
            longitude: l.degrees_longitude.unwrap_or_default(),
            name: l.caption.clone().filter(|c| !c.is_empty()),
            address: None,
            thumbnail_base64: l.jpeg_thumbnail.as_deref().filter(|t| !t.is_empty()).map(base64),
        });
    }
    None
}

/// Revokes and edits; the other protocol messages (key shares, history sync, settings)
/// are plumbing, not messages.
fn protocol_body(protocol: &wa::message::ProtocolMessage) -> Option<Body> {
    let key = protocol.key.as_option();
    let target_id = key.and_then(|k| k.id.clone()).filter(|id| !id.is_empty())?;
    match protocol.r#type? {
        ProtocolType::REVOKE => Some(Body::Revoke {
            target_id,
            key_from_me: key.and_then(|k| k.from_me).unwrap_or(false),
        }),
        ProtocolType::MESSAGE_EDIT => {
            let edited = protocol.edited_message.as_option()?;
            Some(Body::Content(Content::Edited {
                target_id,
                text: text_of(edited),
            }))
        }
        _ => None,
    }
}

fn media(
    mime_type: &Option<String>,
    default_mime: &str,
    caption: &Option<String>,
    file_name: &Option<String>,
    size: Option<u64>,
) -> Media {
    Media {
        mime_type: mime_type
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| default_mime.to_owned()),
        caption: caption.clone().filter(|c| !c.is_empty()),
        file_name: file_name.clone().filter(|n| !n.is_empty()),
        media_path: None,
        size,
        // The hash of the decrypted file, set once it is downloaded and
        // stored; the sender's `fileSha256` is only a claim until then (and
        // whatsapp-rust checks the download against it). A file that cannot
        // be fetched has no hash, on either engine.
        sha256_hex: None,
        download_error: None,
    }
}

/// The words of a (quoted or edited) message: its text or caption, empty when none.
fn text_of(message: &wa::Message) -> String {
    let base = unwrap(message).base;
    let text = base
        .conversation
        .as_deref()
        .filter(|t| !t.is_empty())
        .or_else(|| base.extended_text_message.as_option().and_then(|m| m.text.as_deref()))
        .or_else(|| base.image_message.as_option().and_then(|m| m.caption.as_deref()))
        .or_else(|| base.video_message.as_option().and_then(|m| m.caption.as_deref()))
        .or_else(|| base.document_message.as_option().and_then(|m| m.caption.as_deref()));
    text.unwrap_or_default().to_owned()
}

/// The `contextInfo` of the content (each content message carries its own).
fn context_info(base: &wa::Message) -> Option<&wa::ContextInfo> {
    macro_rules! first_context {
        ($($field:ident),+ $(,)?) => {
            None$(.or_else(|| base.$field.as_option().and_then(|m| m.context_info.as_option())))+
        };
    }
    first_context!(
        extended_text_message,
        image_message,
        video_message,
        ptv_message,
        audio_message,
        document_message,
        sticker_message,
        contact_message,
        contacts_array_message,
        location_message,
        live_location_message,
    )
}

fn ephemeral_of(ctx: &wa::ContextInfo) -> Option<Ephemeral> {
    let expiration = ctx.expiration.filter(|e| *e > 0)?;
    Some(Ephemeral {
        expiration,
        setting_timestamp: ctx.ephemeral_setting_timestamp.unwrap_or_default(),
        disappearing_mode: ctx.disappearing_mode.as_option().map(|mode| DisappearingMode {
            initiator: mode.initiator.map_or(0, |i| i as u32),
            trigger: mode.trigger.map_or(0, |t| t as u32),
            initiated_by_me: mode.initiated_by_me.unwrap_or(false),
        }),
    })
}

/// View-once media sent without a wrapper: the flag sits on the media itself.
fn media_view_once(base: &wa::Message) -> bool {
    let flag = |f: Option<bool>| f.unwrap_or(false);
    base.image_message.as_option().is_some_and(|m| flag(m.view_once))
        || base.video_message.as_option().is_some_and(|m| flag(m.view_once))
        || base.audio_message.as_option().is_some_and(|m| flag(m.view_once))
}

/// Standard base64 with padding (RFC 4648), for location thumbnails; small enough that a
/// dependency is not worth it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(input.as_bytes()), expected);
        }
        assert_eq!(super::base64(&[0xff, 0xd8, 0xff]), "/9j/");
    }
}
