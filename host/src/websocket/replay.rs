//! What a client that connects with `?after=<cursor>` missed: the frames of
//! the inbound journal's entries after its cursor, read page by page, before
//! the live stream (docs/API.md, "WebSockets", "Replay").
//!
//! The connection is registered with the hub before the first page is read,
//! so nothing published meanwhile is lost: it waits in the connection's
//! queue. Live frames of entries the replay has already sent are then
//! skipped by their cursor, so nothing comes twice and nothing out of order
//! (an instance's entries reach the hub in seq order).
//!
//! Replayed frames are made here as the built-in websocket output makes them
//! (the `sudevwa` envelope of `wasap-events`, to the channel it gives each
//! kind: [`channel_of`]), from the event as it was journalled, before the
//! plugins ran: a plugin that changed or stopped an event changed only its
//! live frame, and frames other plugins publish are not replayed.

use super::{Channel, Frame};
use crate::events::{Event, EventKind, sudevwa};
use crate::store::{Store, StoreError};

/// Journal entries read per page.
const PAGE: i64 = 256;

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Entries after the cursor were pruned (while the replay ran).
    #[error("cursor expired: entries after it were removed by the journal's retention")]
    Expired,
    #[error("cannot read the inbound journal: {0}")]
    Store(#[from] StoreError),
}

/// The replay of one connection.
pub struct Replay {
    store: Store,
    channel: Channel,
    /// The seq of the last entry read (the client's cursor to begin with).
    after: i64,
    done: bool,
}

impl Replay {
    /// The replay of the entries after `after` that belong on `channel`.
    pub fn new(store: Store, channel: Channel, after: i64) -> Replay {
        Replay {
            store,
            channel,
            after,
            done: false,
        }
    }

    /// The seq of the last entry read: live frames at or below it were sent
    /// (or skipped) by the replay.
    pub fn last(&self) -> i64 {
        self.after
    }

    /// The frames of the next page of entries; `None` once the replay has
    /// read the whole journal after the cursor.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Frame>>, ReplayError> {
        let instance = match &self.channel {
            // The journal holds instance traffic only (messages, receipts,
            // group events: what WhatsApp delivers), none of which goes to
            // `/ws`: reading it would scan every instance's history for
            // nothing. The cursor was checked when the connection opened.
            Channel::Global => return Ok(None),
            Channel::Instance(_) if self.done => return Ok(None),
            Channel::Instance(id) => Some(id.as_str()),
        };
        let read = self.store.journal_read(instance, self.after, PAGE).await?;
        // Read first, then look at the horizon: a prune that removed entries
        // after the cursor before the read is seen here, so no gap passes
        // unnoticed.
        if self.store.journal_horizon(instance).await? > self.after {
            return Err(ReplayError::Expired);
        }
        self.done = (read.rows_read as i64) < PAGE;
        if let Some(last) = read.last_seq {
            self.after = last;
        }
        let frames = read
            .entries
            .iter()
            .filter(|entry| channel_of(&entry.event).as_ref() == Some(&self.channel))
            .filter_map(|entry| frame_of(&entry.event, entry.seq))
            .collect();
        Ok(Some(frames))
    }
}

/// The frame of `event`, journalled at `seq`, as the built-in websocket
/// output publishes it (the `sudevwa` envelope) with its cursor; `None` for
/// events that format does not carry (reactions, edits, ...).
pub fn frame_of(event: &Event, seq: i64) -> Option<Frame> {
    let text = String::from_utf8(sudevwa::to_vec(event)?).ok()?;
    Some(Frame::journalled(&text, seq))
}

/// The channel the built-in websocket output publishes `event` to
/// (`plugins/builtin/websocket`; the two are compared in the tests).
pub fn channel_of(event: &Event) -> Option<Channel> {
    match &event.kind {
        EventKind::Message(_)
        | EventKind::MessageUndecryptable(_)
        | EventKind::Receipt(_)
        | EventKind::GroupParticipants(_)
        | EventKind::GroupUpdate(_)
        | EventKind::PollVote(_)
        | EventKind::CallOffer(_)
        | EventKind::CallMissed(_)
        | EventKind::CallEnded(_)
        // Never journalled, so never replayed; given its live channel all the same.
        | EventKind::ChatState(_) => {
            (!event.instance_id.is_empty()).then(|| Channel::Instance(event.instance_id.clone()))
        }
        EventKind::Qr { .. }
        | EventKind::StatusChanged { .. }
        | EventKind::Paired { .. }
        | EventKind::LoggedOut { .. }
        | EventKind::Offline { .. }
        | EventKind::System { .. } => Some(Channel::Global),
        // Published to /ws by the host itself, never journalled.
        EventKind::PluginError { .. } | EventKind::QueueJob(_) => None,
        // A kind added later: not replayed until it is given a channel here
        // (the tests name every kind, so a new one fails them).
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
