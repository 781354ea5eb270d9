//! The driver's media, both ways: a contact sends the instance a file of any
//! kind ([`Driver::media_from`]), and what the instance sent a contact is read
//! back as that contact got it ([`Driver::media_sent_to`]).
//!
//! Where the engines differ, they differ here and only here:
//! - WhatsApp's messages carry a caption on images, videos and documents and
//!   a file name on documents only (an audio or sticker message has no
//!   caption field, an image or video no file name). The sim engine keeps
//!   whatever it is given, so both directions report on it only what WhatsApp
//!   would have carried;
//! - a voice note is an audio message marked `ptt` on WhatsApp; the sim
//!   engine has no such mark on what a contact sends (wasap's events have
//!   none either), so a contact's voice note is a plain audio file there,
//!   while the instance's voice notes carry it on both engines;
//! - on the real engine the contact fetches the file from the simulator's
//!   media server and decrypts it, checking every hash the message announced;
//!   the sim engine reports the SHA-256 of what the session was given.

use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use wasap_whatsapp_sim::MediaKind;

use super::Driver;
use crate::WAIT;

/// A file a contact sends: the simulator's own type, which the real engine's
/// contact sends as it is and the sim engine's route gets as JSON.
pub use wasap_whatsapp_sim::OutgoingMedia as MediaFile;

/// What the tests ask of a [`MediaFile`] besides its fields.
pub trait MediaFileExt {
    fn kind_name(&self) -> &'static str;
    fn carried_caption(&self) -> Option<String>;
    fn carried_file_name(&self) -> Option<String>;
    fn sha256_hex(&self) -> String;
}

impl MediaFileExt for MediaFile {
    /// `image`, `video`, `audio`, `document` or `sticker`.
    fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// The caption as WhatsApp carries it: images, videos and documents only.
    fn carried_caption(&self) -> Option<String> {
        carried_caption(self.kind, self.caption.clone())
    }

    /// The file name as WhatsApp carries it: documents only.
    fn carried_file_name(&self) -> Option<String> {
        carried_file_name(self.kind, self.file_name.clone())
    }

    fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.data))
    }
}

fn carried_caption(kind: MediaKind, caption: Option<String>) -> Option<String> {
    caption.filter(|_| matches!(kind, MediaKind::Image | MediaKind::Video | MediaKind::Document))
}

fn carried_file_name(kind: MediaKind, name: Option<String>) -> Option<String> {
    name.filter(|_| kind == MediaKind::Document)
}

/// A media message an instance sent, as its recipient got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMedia {
    pub message_id: String,
    pub kind: MediaKind,
    /// SHA-256 of the file the recipient got (decrypted, on the real engine).
    pub sha256_hex: String,
    pub mime_type: Option<String>,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    /// An audio message sent as a voice note (push-to-talk).
    pub voice_note: bool,
    /// A voice note's length in seconds.
    pub seconds: Option<u32>,
    /// Sent view-once.
    pub view_once: bool,
}

impl Driver {
    /// Contact `from` (named `push_name`) sends the instance `media`; the message's id.
    pub async fn media_from(&self, from: &str, push_name: &str, media: &MediaFile) -> String {
        match &self.simulator {
            None => {
                let mut file = json!({
                    "base64": base64::engine::general_purpose::STANDARD.encode(&media.data),
                    "mime_type": media.mime_type,
                });
                if let Some(name) = media.carried_file_name() {
                    file["file_name"] = json!(name);
                }
                let mut body =
                    json!({ "from": from, "push_name": push_name, "kind": media.kind_name(), "media": file });
                if let Some(caption) = media.carried_caption() {
                    body["caption"] = json!(caption);
                }
                if media.view_once {
                    body["view_once"] = json!(true);
                }
                let (status, answer) = self.api.post(&self.route("incoming"), body.clone()).await;
                assert_eq!(status, 200, "{} → {answer}", media.kind_name());
                answer["message_id"].as_str().expect("the message id").to_owned()
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(from);
                contact.set_push_name(push_name);
                contact.send_media(&user, media).await.expect("the contact sends")
            }
        }
    }

    /// The media messages contact `to` received from the instance, once the
    /// instance sent at least `min` messages of any kind (waiting up to
    /// [`WAIT`]); on the real engine, the contact fetched and decrypted each.
    pub async fn media_sent_to(&self, to: &str, min: usize) -> Vec<SentMedia> {
        match &self.simulator {
            None => {
                let (status, body) = self
                    .api
                    .get(&self.route(&format!("sent?min={min}&wait_ms={}", WAIT.as_millis())))
                    .await;
                assert_eq!(status, 200, "{body}");
                let to_jid = format!("{to}@s.whatsapp.net");
                let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
                body["messages"]
                    .as_array()
                    .expect("the sent messages")
                    .iter()
                    .filter(|m| m["to"] == to_jid.as_str())
                    .filter_map(|m| {
                        let kind = MediaKind::ALL.into_iter().find(|k| m["kind"] == k.name())?;
                        Some(SentMedia {
                            message_id: text(&m["message_id"]).unwrap_or_default(),
                            kind,
                            sha256_hex: text(&m["media_sha256"]).unwrap_or_default(),
                            mime_type: text(&m["mime_type"]),
                            caption: carried_caption(kind, text(&m["caption"])),
                            file_name: carried_file_name(kind, text(&m["file_name"])),
                            voice_note: m["voice_note"] == true,
                            seconds: m["seconds"].as_u64().and_then(|s| u32::try_from(s).ok()),
                            view_once: m["view_once"] == true,
                        })
                    })
                    .collect()
            }
            Some(simulator) => {
                // What this instance's account sent, as the sim engine's log is this instance's.
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(to);
                contact
                    .wait_media_from(&user, min, WAIT)
                    .await
                    .unwrap_or_else(|e| panic!("{to}: {e}; received {:#?}", contact.received()))
                    .into_iter()
                    .map(|(message, media)| SentMedia {
                        message_id: message.id,
                        kind: media.kind,
                        sha256_hex: media.sha256_hex,
                        mime_type: media.mime_type,
                        caption: media.caption,
                        file_name: media.file_name,
                        voice_note: media.voice_note,
                        seconds: media.seconds,
                        view_once: media.view_once,
                    })
                    .collect()
            }
        }
    }
}
