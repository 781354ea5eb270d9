//! What the richer sends carried, as their recipient got them, on both
//! engines: a text's link preview, the forwarded flag, the users a text or
//! a caption mentions. On the real engine the simulated contact decrypted
//! each message; on the sim engine it is the network's record.

use serde_json::Value;
use whatsapp_rust::waproto::whatsapp as wa;

use super::Driver;
use crate::WAIT;
use crate::file_server::fixtures::sha256_hex;

/// A link preview as the recipient got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedPreview {
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// SHA-256 of the JPEG thumbnail, hex.
    pub thumbnail_sha256: Option<String>,
}

/// One message an instance sent, as its recipient got it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Carried {
    pub message_id: String,
    /// `text`, `image`, `video`, `audio`, `document`, `sticker`, `location`, `contact`.
    pub kind: String,
    pub text: Option<String>,
    pub caption: Option<String>,
    /// The users the text or caption mentions (JIDs).
    pub mentions: Vec<String>,
    pub forwarded: bool,
    pub preview: Option<CarriedPreview>,
}

impl Driver {
    /// What `to` (a phone number or a group JID) received from the
    /// instance, once it received at least `min` messages (waiting up to
    /// [`WAIT`]).
    pub async fn carried_to(&self, to: &str, min: usize) -> Vec<Carried> {
        match &self.simulator {
            None => {
                let to_jid = if to.contains('@') {
                    to.to_owned()
                } else {
                    format!("{to}@s.whatsapp.net")
                };
                let deadline = tokio::time::Instant::now() + WAIT;
                let mut total = 0;
                loop {
                    // Each look waits for one more send than the last one saw.
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let (status, body) = self
                        .api
                        .get(&self.route(&format!("sent?min={}&wait_ms={}", total + 1, left.as_millis())))
                        .await;
                    assert_eq!(status, 200, "{body}");
                    let all = body["messages"].as_array().expect("the sent messages");
                    let carried: Vec<Carried> = all
                        .iter()
                        .filter(|m| m["to"] == to_jid.as_str())
                        .map(from_record)
                        .collect();
                    if carried.len() >= min || left.is_zero() {
                        assert!(carried.len() >= min, "{to} got {} of {min}: {body}", carried.len());
                        return carried;
                    }
                    total = all.len();
                }
            }
            Some(simulator) => simulator
                .contact(to)
                .wait_received_count(min, WAIT)
                .await
                .unwrap_or_else(|e| panic!("{to}: {e}; received {:#?}", simulator.contact(to).received()))
                .into_iter()
                .map(|m| from_message(m.id, &m.message))
                .collect(),
        }
    }
}

impl Driver {
    /// What the instance sent to `group`, as member `member` (a phone
    /// number) got it, once there are at least `min` such messages.
    pub async fn carried_in_group(&self, group: &str, member: &str, min: usize) -> Vec<Carried> {
        match &self.simulator {
            None => self.carried_to(group, min).await,
            Some(simulator) => {
                let contact = simulator.contact(member);
                let in_group = |all: Vec<wasap_whatsapp_sim::ReceivedMessage>| -> Vec<Carried> {
                    all.into_iter()
                        .filter(|m| m.chat == group)
                        .map(|m| from_message(m.id, &m.message))
                        .collect()
                };
                let got = contact
                    .wait_received_count(min, WAIT)
                    .await
                    .unwrap_or_else(|e| panic!("{member}: {e}; received {:#?}", contact.received()));
                let got = in_group(got);
                assert!(got.len() >= min, "{member} got {} of {min} in {group}", got.len());
                got
            }
        }
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn from_record(m: &Value) -> Carried {
    Carried {
        message_id: text(&m["message_id"]).unwrap_or_default(),
        kind: text(&m["kind"]).unwrap_or_default(),
        text: text(&m["text"]),
        caption: text(&m["caption"]),
        mentions: m["mentions"]
            .as_array()
            .map(|all| all.iter().filter_map(text).collect())
            .unwrap_or_default(),
        forwarded: m["forwarded"] == true,
        preview: m.get("link_preview").filter(|p| p.is_object()).map(|p| CarriedPreview {
            url: text(&p["url"]).unwrap_or_default(),
            title: text(&p["title"]),
            description: text(&p["description"]),
            thumbnail_sha256: text(&p["thumbnail_sha256"]),
        }),
    }
}

fn from_message(message_id: String, m: &wa::Message) -> Carried {
    let mut carried = Carried {
        message_id,
        ..Carried::default()
    };
    let context = if let Some(t) = m.conversation.as_ref() {
        carried.kind = "text".to_owned();
        carried.text = Some(t.clone());
        None
    } else if let Some(t) = m.extended_text_message.as_option() {
        carried.kind = "text".to_owned();
        carried.text = t.text.clone();
        if let Some(url) = &t.matched_text {
            carried.preview = Some(CarriedPreview {
                url: url.clone(),
                title: t.title.clone(),
                description: t.description.clone(),
                thumbnail_sha256: t.jpeg_thumbnail.as_deref().map(sha256_hex),
            });
        }
        t.context_info.as_option()
    } else if let Some(i) = m.image_message.as_option() {
        carried.kind = "image".to_owned();
        carried.caption = i.caption.clone();
        i.context_info.as_option()
    } else if let Some(v) = m.video_message.as_option() {
        carried.kind = "video".to_owned();
        carried.caption = v.caption.clone();
        v.context_info.as_option()
    } else if let Some(d) = m.document_message.as_option() {
        carried.kind = "document".to_owned();
        carried.caption = d.caption.clone();
        d.context_info.as_option()
    } else if let Some(a) = m.audio_message.as_option() {
        carried.kind = "audio".to_owned();
        a.context_info.as_option()
    } else if let Some(s) = m.sticker_message.as_option() {
        carried.kind = "sticker".to_owned();
        s.context_info.as_option()
    } else if let Some(l) = m.location_message.as_option() {
        carried.kind = "location".to_owned();
        l.context_info.as_option()
    } else if let Some(c) = m.contact_message.as_option() {
        carried.kind = "contact".to_owned();
        c.context_info.as_option()
    } else if let Some(c) = m.contacts_array_message.as_option() {
        carried.kind = "contact".to_owned();
        c.context_info.as_option()
    } else {
        None
    };
    if let Some(context) = context {
        carried.mentions = context.mentioned_jid.clone();
        carried.forwarded = context.is_forwarded == Some(true);
    }
    carried
}
