//! whatsapp-rust's inbound traffic as [`InboundEvent`]s, and fetching their media.
//!
//! The conversion itself is [`crate::events::from_whatsapp`] (the one place that maps
//! whatsapp-rust events to the canonical model); this file owns what needs the live
//! client: attaching a [`MediaFetch`] that downloads through it, and knowing our own JID
//! for delete-for-me.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use whatsapp_rust::Client;
use whatsapp_rust::types::events::{
    DeleteMessageForMeUpdate, GroupUpdate, InboundMessage, Receipt, UndecryptableMessage,
};

use crate::engine::{EngineError, InboundEvent, MediaFetch};
use crate::events::from_whatsapp::{self, WaMedia};

/// How long one media download may take before it is given up.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// An incoming message, or `None` for the ones the model does not carry.
pub(super) fn message(inbound: &InboundMessage, client: Weak<Client>) -> Option<InboundEvent> {
    let converted = from_whatsapp::message(inbound)?;
    Some(InboundEvent {
        kind: converted.kind,
        media: converted
            .media
            .map(|media| Arc::new(WhatsappMedia { client, media }) as Arc<dyn MediaFetch>),
    })
}

/// A delivery, read or played receipt for messages we sent.
pub(super) fn receipt(receipt: &Receipt) -> Option<InboundEvent> {
    Some(InboundEvent {
        kind: from_whatsapp::receipt(receipt)?,
        media: None,
    })
}

/// A message the client could not decrypt (or WhatsApp's placeholder for one). The client
/// has already asked the sender to send it again; a successful retry arrives as a message.
pub(super) fn undecryptable(event: &UndecryptableMessage) -> InboundEvent {
    InboundEvent {
        kind: from_whatsapp::undecryptable(event),
        media: None,
    }
}

/// Participants joining, leaving, promoted or demoted in a group, or its info and
/// settings changing.
pub(super) fn group_update(update: &GroupUpdate) -> Option<InboundEvent> {
    Some(InboundEvent {
        kind: from_whatsapp::group_update(update)?,
        media: None,
    })
}

/// A group's photo set or removed (a user's picture is not an event).
pub(super) fn group_photo(update: &whatsapp_rust::types::events::PictureUpdate) -> Option<InboundEvent> {
    Some(InboundEvent {
        kind: from_whatsapp::photo_update(update)?,
        media: None,
    })
}

/// A message deleted for this account only, on another of its devices.
pub(super) fn deleted_for_me(update: &DeleteMessageForMeUpdate, client: Option<&Client>) -> Option<InboundEvent> {
    let own = client
        .and_then(|c| c.pn().or_else(|| c.lid()))
        .map(|jid| jid.to_non_ad().to_string())
        .unwrap_or_default();
    Some(InboundEvent {
        kind: from_whatsapp::deleted_for_me(update, &own)?,
        media: None,
    })
}

/// A fetcher of `media` through `client`.
pub(super) fn media_fetch(client: Weak<Client>, media: WaMedia) -> Arc<dyn MediaFetch> {
    Arc::new(WhatsappMedia { client, media })
}

/// One incoming media file, downloaded (and decrypted) through the session's client.
struct WhatsappMedia {
    /// Weak: a queued event must not keep a closed session's client alive.
    client: Weak<Client>,
    media: WaMedia,
}

#[async_trait]
impl MediaFetch for WhatsappMedia {
    async fn fetch(&self, max_bytes: u64) -> Result<bytes::Bytes, EngineError> {
        // Refuse what the sender announced as too large before spending the bandwidth.
        if self.media.declared_length().is_some_and(|len| len > max_bytes) {
            return Err(EngineError::MediaTooLarge { limit: max_bytes });
        }
        let client = self.client.upgrade().ok_or(EngineError::NotConnected)?;
        let data = tokio::time::timeout(DOWNLOAD_TIMEOUT, client.download(self.media.downloadable()))
            .await
            .map_err(|_| EngineError::Timeout)?
            .map_err(|e| EngineError::Protocol(format!("downloading media: {e}")))?;
        // The announced length is the sender's word; the file is checked too.
        if data.len() as u64 > max_bytes {
            return Err(EngineError::MediaTooLarge { limit: max_bytes });
        }
        Ok(bytes::Bytes::from(data))
    }

    /// The media message itself: after a restart the download resumes from
    /// it (`media_ticket.rs`).
    fn ticket(&self) -> Option<bytes::Bytes> {
        Some(super::media_ticket::encode(&self.media))
    }
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::waproto::whatsapp as wa;

    use super::*;

    #[tokio::test]
    async fn media_announced_over_the_limit_is_refused_without_a_client() {
        let media = WhatsappMedia {
            client: Weak::new(),
            media: WaMedia::Image(wa::message::ImageMessage {
                file_length: Some(2_000),
                ..Default::default()
            }),
        };
        assert!(matches!(
            media.fetch(1_000).await,
            Err(EngineError::MediaTooLarge { limit: 1_000 })
        ));
        // Within the limit it gets as far as needing the (gone) client.
        assert!(matches!(media.fetch(5_000).await, Err(EngineError::NotConnected)));
    }
}
