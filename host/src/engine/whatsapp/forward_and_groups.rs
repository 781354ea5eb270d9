//! The real session's media uploads (for a send or a forward), forwards
//! (earlier content sent again, flagged as forwarded, a file uploaded anew)
//! and group queries (a group's metadata, as whatsapp-rust asks WhatsApp for
//! it).

use std::time::Duration;

use whatsapp_rust::UploadOptions;
use whatsapp_rust::features::GroupError;
use whatsapp_rust::request::IqError;
use whatsapp_rust::wacore::download::MediaType;
use whatsapp_rust::wacore_binary::JidExt;
use whatsapp_rust::waproto::whatsapp as wa;

use super::media_message::{Presentation, media_message};
use super::outgoing::{contacts_message, location_message, mark_forwarded, text_message};
use super::session::{MEDIA_TIMEOUT, REQUEST_TIMEOUT, WhatsappSession, recipient};
use crate::engine::{
    EngineError, ForwardedContent, GroupInfo, MediaKind, OutgoingForward, OutgoingMedia, OutgoingText, SentMessage,
};

impl WhatsappSession {
    /// Sends `forward`'s content to `to`, marked as forwarded.
    pub(super) async fn send_forward(&self, to: &str, forward: OutgoingForward) -> Result<SentMessage, EngineError> {
        self.require_logged_in()?;
        let jid = recipient(to)?;
        let (mut message, limit) = match forward.content {
            ForwardedContent::Text(text) => (text_message(OutgoingText::plain(text)), REQUEST_TIMEOUT),
            ForwardedContent::Location(place) => (location_message(place), REQUEST_TIMEOUT),
            ForwardedContent::Contacts(cards) => (contacts_message(cards), REQUEST_TIMEOUT),
            ForwardedContent::Media(media) => self.uploaded(media).await?,
        };
        mark_forwarded(&mut message, forward.score);
        self.send(jid, message, limit).await
    }

    /// Group `group`'s metadata, fresh from WhatsApp; `None` when WhatsApp
    /// says there is no such group or the account is not in it.
    pub(super) async fn query_group(&self, group: &str) -> Result<Option<GroupInfo>, EngineError> {
        self.require_logged_in()?;
        let jid = recipient(group)?;
        if !jid.is_group() {
            return Err(EngineError::InvalidRecipient(group.to_owned()));
        }
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, self.client.groups().get_metadata(&jid))
            .await
            .map_err(|_| EngineError::Timeout)?;
        let metadata = match answer {
            Ok(metadata) => metadata,
            Err(GroupError::Iq(IqError::ServerError { code: 403 | 404, .. })) => return Ok(None),
            Err(e) => return Err(EngineError::Protocol(format!("group query failed: {e}"))),
        };
        Ok(Some(self.group_info_of(metadata)))
    }
}

impl WhatsappSession {
    /// Uploads `media`'s file and makes its message; with the time left to
    /// send it.
    pub(super) async fn uploaded(&self, media: OutgoingMedia) -> Result<(wa::Message, Duration), EngineError> {
        let OutgoingMedia {
            kind,
            data,
            mime_type,
            file_name,
            caption,
            mentions,
            view_once,
            seconds,
        } = media;
        let media_type = match kind {
            MediaKind::Image => MediaType::Image,
            MediaKind::Video => MediaType::Video,
            MediaKind::Audio | MediaKind::Voice => MediaType::Audio,
            MediaKind::Document => MediaType::Document,
            MediaKind::Sticker => MediaType::Sticker,
        };
        let started = tokio::time::Instant::now();
        let upload = tokio::time::timeout(
            MEDIA_TIMEOUT,
            self.client.upload(data.to_vec(), media_type, UploadOptions::default()),
        )
        .await
        .map_err(|_| EngineError::Timeout)?
        .map_err(|e| EngineError::Protocol(format!("media upload failed: {e:#}")))?;
        let message = media_message(
            upload,
            Presentation {
                kind,
                mime_type,
                caption,
                file_name,
                view_once,
                seconds,
                mentions,
            },
        );
        let left = MEDIA_TIMEOUT.saturating_sub(started.elapsed()).max(REQUEST_TIMEOUT);
        Ok((message, left))
    }
}
