//! Inbound traffic of one instance: fetch the media, then publish, in order.
//!
//! A media message is published only once its file is stored (or its download
//! has failed, which is noted in the event: the message itself is never
//! lost). Downloads run here, on a task of their own per instance, so a slow
//! download delays only the events behind it on the same instance, never the
//! instance's lifecycle or another instance.

use std::time::Duration;

use tokio::sync::mpsc;
use tracing::Instrument;

use crate::engine::InboundEvent;
use crate::events::{Bus, EventKind, new_event};
use crate::media::{MediaLimits, MediaStore};

/// Inbound events an instance may have waiting for their media.
const QUEUE: usize = 1024;
/// Longest a single media download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Starts the inbound worker of instance `instance_id`; events sent to the
/// returned queue are published in the order they were sent.
pub(crate) fn start(
    instance_id: String,
    bus: Bus,
    media: MediaStore,
    limits: MediaLimits,
) -> mpsc::Sender<InboundEvent> {
    let (sender, mut receiver) = mpsc::channel::<InboundEvent>(QUEUE);
    // At error level, so the span is on whenever any line inside it is.
    let span = tracing::error_span!("inbound", instance = %instance_id);
    let publish = async move {
        while let Some(inbound) = receiver.recv().await {
            let kind = complete(inbound, &media, limits).await;
            bus.publish(new_event(&instance_id, kind)).await;
        }
    };
    tokio::spawn(publish.instrument(span));
    sender
}

/// The event as it is published: with its media stored, or the error noted.
async fn complete(inbound: InboundEvent, store: &MediaStore, limits: MediaLimits) -> EventKind {
    let (EventKind::Message(mut message), Some(fetch)) = (inbound.kind.clone(), inbound.media) else {
        return inbound.kind;
    };
    let limit = limits.for_content(&message.content);
    let Some(media) = message.content.media_mut() else {
        return EventKind::Message(message);
    };
    let outcome = match tokio::time::timeout(DOWNLOAD_TIMEOUT, fetch.fetch(limit)).await {
        Err(_) => Err("the download timed out".to_owned()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(bytes)) => store.save(&bytes, &media.mime_type).await.map_err(|e| e.to_string()),
    };
    match outcome {
        Ok(stored) => {
            media.media_path = Some(stored.media_path);
            media.size = Some(stored.size);
            media.sha256_hex = Some(stored.sha256_hex);
        }
        Err(error) => {
            tracing::warn!(message = %message.id, %error, "incoming media not stored");
            media.download_error = Some(error);
        }
    }
    EventKind::Message(message)
}
