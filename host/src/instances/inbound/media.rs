//! Fetching the media of a journalled message before it is published.
//!
//! A media message is published only once its file is stored (or its
//! download has failed, which is noted in the event: the message itself is
//! never lost). Downloads run in the instance's staging worker, so a slow
//! download delays only the events behind it on the same instance, never its
//! journal (WhatsApp's acks), its lifecycle, or another instance.

use std::time::Duration;

use crate::engine::MediaFetch;
use crate::events::EventKind;
use crate::media::{MediaLimits, MediaStore};

/// Longest a single media download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a message's media was not downloaded when the server has no way to
/// fetch it any more (journalled before a restart).
pub(super) const LOST_IN_RESTART: &str = "the server restarted before the file was downloaded";

/// Whether `kind` is a message whose media is neither stored nor known to have failed.
pub(super) fn needs_download(kind: &EventKind) -> bool {
    match kind {
        EventKind::Message(message) => message
            .content
            .media()
            .is_some_and(|media| media.media_path.is_none() && media.download_error.is_none()),
        _ => false,
    }
}

/// The event as it is published: with its media stored, or the error noted
/// (too large, the download failed, or the disk is under its free-space
/// floor); `fetch` is `None` when there is no way to download it any more.
pub(super) async fn complete(
    instance_id: &str,
    kind: EventKind,
    fetch: Option<&dyn MediaFetch>,
    store: &MediaStore,
    limits: MediaLimits,
) -> EventKind {
    if !needs_download(&kind) {
        return kind;
    }
    let EventKind::Message(mut message) = kind else {
        return kind;
    };
    let limit = limits.for_content(&message.content);
    let Some(media) = message.content.media_mut() else {
        return EventKind::Message(message);
    };
    let outcome = match fetch {
        None => Err(LOST_IN_RESTART.to_owned()),
        Some(fetch) => match tokio::time::timeout(DOWNLOAD_TIMEOUT, fetch.fetch(limit)).await {
            Err(_) => Err("the download timed out".to_owned()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(bytes)) => store
                .save(instance_id, &bytes, &media.mime_type)
                .await
                .map_err(|e| e.to_string()),
        },
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
