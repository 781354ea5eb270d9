//! Tickets of incoming media on the real engine ([`MediaFetch::ticket`]): the
//! media message (its CDN path, keys and hashes) encoded as a `wa::Message`
//! that carries only it, and fetching from a ticket after a restart, through
//! whichever client the instance has by then.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use whatsapp_rust::Client;
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::codec::{message_decode, message_to_vec};
use whatsapp_rust::waproto::whatsapp as wa;

use super::inbound;
use crate::engine::{EngineError, MediaFetch};
use crate::events::from_whatsapp::WaMedia;

/// How long a resumed download waits for the instance's client to log in.
const LOGIN_WAIT: Duration = Duration::from_secs(60);
/// How often it looks meanwhile.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// The client of each instance's latest session, by instance id.
pub(super) type Clients = Arc<Mutex<HashMap<String, Weak<Client>>>>;

/// `media` as a ticket.
pub(super) fn encode(media: &WaMedia) -> bytes::Bytes {
    let mut message = wa::Message::default();
    match media {
        WaMedia::Image(m) => message.image_message = MessageField::some(m.clone()),
        WaMedia::Video(m) => message.video_message = MessageField::some(m.clone()),
        WaMedia::Audio(m) => message.audio_message = MessageField::some(m.clone()),
        WaMedia::Document(m) => message.document_message = MessageField::some(m.clone()),
        WaMedia::Sticker(m) => message.sticker_message = MessageField::some(m.clone()),
    }
    bytes::Bytes::from(message_to_vec(&message))
}

/// The media a ticket names, if it is one.
fn decode(ticket: &[u8]) -> Option<WaMedia> {
    let message = message_decode(ticket).ok()?;
    if let Some(m) = message.image_message.as_option() {
        return Some(WaMedia::Image(m.clone()));
    }
    if let Some(m) = message.video_message.as_option() {
        return Some(WaMedia::Video(m.clone()));
    }
    if let Some(m) = message.audio_message.as_option() {
        return Some(WaMedia::Audio(m.clone()));
    }
    if let Some(m) = message.document_message.as_option() {
        return Some(WaMedia::Document(m.clone()));
    }
    message.sticker_message.as_option().map(|m| WaMedia::Sticker(m.clone()))
}

/// A fetcher for `ticket` of `instance_id`, or `None` when it is not one.
pub(super) fn resume(clients: &Clients, instance_id: &str, ticket: &[u8]) -> Option<Arc<dyn MediaFetch>> {
    Some(Arc::new(Resumed {
        clients: clients.clone(),
        instance_id: instance_id.to_owned(),
        media: decode(ticket)?,
    }))
}

/// A download resumed from its ticket: through the instance's client once it
/// has logged in (after a restart the journal is replayed before it has).
struct Resumed {
    clients: Clients,
    instance_id: String,
    media: WaMedia,
}

#[async_trait]
impl MediaFetch for Resumed {
    async fn fetch(&self, max_bytes: u64) -> Result<bytes::Bytes, EngineError> {
        let deadline = tokio::time::Instant::now() + LOGIN_WAIT;
        loop {
            let client = self
                .clients
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&self.instance_id)
                .and_then(Weak::upgrade);
            if let Some(client) = client.filter(|client| client.is_logged_in()) {
                return inbound::media_fetch(Arc::downgrade(&client), self.media.clone())
                    .fetch(max_bytes)
                    .await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::NotConnected);
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }

    fn ticket(&self) -> Option<bytes::Bytes> {
        Some(encode(&self.media))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_names_its_media_again() {
        let media = WaMedia::Document(wa::message::DocumentMessage {
            direct_path: Some("/v/t62/doc".to_owned()),
            media_key: Some(vec![7; 32]),
            file_length: Some(1234),
            file_name: Some("report.pdf".to_owned()),
            ..Default::default()
        });
        assert_eq!(decode(&encode(&media)), Some(media));
        assert_eq!(decode(b"not a message"), None);
    }
}
