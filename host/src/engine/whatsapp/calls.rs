//! Calls on the real engine: the bridge's side (a `<call>` offer, terminate or missed
//! call as an inbound event, and the calls still ringing) and the session's (rejecting one
//! through `client.voip().reject_call`).
//!
//! A reject needs what the offer named (the device the `<call>` came from, and the call's
//! creator), and the events that stop a call name only its id, so the session keeps the
//! ringing calls, bounded, from their offer until they stop or are rejected.

use std::collections::VecDeque;
use std::sync::Mutex;

use whatsapp_rust::Jid;
use whatsapp_rust::types::call::{CallEndedElsewhere, ElsewhereOutcome, IncomingCall, MissedCall};

use super::session::{REQUEST_TIMEOUT, WhatsappSession};
use crate::engine::{EngineError, InboundEvent};
use crate::events::{Call, EventKind, from_whatsapp};

/// Calls one session keeps ringing at once; the oldest is forgotten past it.
const RINGING_CAPACITY: usize = 256;

/// A call that rings: its canonical offer, and whom a reject goes to.
struct Ringing {
    offer: Call,
    /// The `<call>` stanza's sender (the caller's device).
    peer: Jid,
    creator: Jid,
}

/// The calls ringing on one session, oldest first.
#[derive(Default)]
pub(super) struct RingingCalls {
    calls: Mutex<VecDeque<Ringing>>,
}

impl RingingCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Ringing>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ring(&self, ringing: Ringing) {
        let mut calls = self.lock();
        calls.retain(|call| call.offer.id != ringing.offer.id);
        if calls.len() >= RINGING_CAPACITY {
            calls.pop_front();
        }
        calls.push_back(ringing);
    }

    /// Takes call `call_id` off the ringing ones, when `from` (if given) is its caller
    /// (by phone number or LID).
    fn stop(&self, call_id: &str, from: Option<&str>) -> Option<Ringing> {
        let mut calls = self.lock();
        let at = calls.iter().position(|call| {
            call.offer.id == call_id
                && from.is_none_or(|from| call.offer.from == from || call.offer.from_lid.as_deref() == Some(from))
        })?;
        calls.remove(at)
    }
}

/// What the bridge hands the journal for a `<call>`: an offer (now ringing), or how a
/// ringing call stopped; `None` for the other call actions and for a call this session
/// never saw ring (or rejected: WhatsApp tells the instance nothing more about it).
pub(super) fn incoming(calls: &RingingCalls, call: &IncomingCall) -> Option<InboundEvent> {
    if let Some(offer) = from_whatsapp::call_offer(call) {
        calls.ring(Ringing {
            offer: offer.clone(),
            peer: call.from.clone(),
            creator: call.action.call_creator().clone(),
        });
        return Some(inbound(EventKind::CallOffer(offer)));
    }
    let (call_id, reason) = from_whatsapp::terminated(call)?;
    let ringing = calls.stop(call_id, None)?;
    Some(inbound(from_whatsapp::stopped(
        ringing.offer,
        reason,
        call.timestamp.timestamp(),
    )))
}

/// A call that rang while the instance was offline.
pub(super) fn missed(missed: &MissedCall) -> InboundEvent {
    inbound(from_whatsapp::missed_offline(missed))
}

/// A ringing call answered or declined on another of the account's devices (what the
/// client reports with its `voip` feature; without it, a `<terminate>` says the same).
pub(super) fn ended_elsewhere(calls: &RingingCalls, ended: &CallEndedElsewhere) -> Option<InboundEvent> {
    let ringing = calls.stop(&ended.call_id, None)?;
    let reason = match ended.outcome {
        ElsewhereOutcome::Accepted => "accepted_elsewhere",
        _ => "rejected_elsewhere",
    };
    Some(inbound(from_whatsapp::stopped(
        ringing.offer,
        Some(reason),
        ended.timestamp.timestamp(),
    )))
}

fn inbound(kind: EventKind) -> InboundEvent {
    InboundEvent { kind, media: None }
}

/// Rejects the ringing call `call_id` from `from`: WhatsApp tells the caller it was declined.
pub(super) async fn reject(session: &WhatsappSession, call_id: &str, from: &str) -> Result<(), EngineError> {
    session.require_logged_in()?;
    let ringing = session
        .shared
        .calls
        .stop(call_id, Some(from))
        .ok_or_else(|| EngineError::CallNotFound(call_id.to_owned()))?;
    tokio::time::timeout(
        REQUEST_TIMEOUT,
        session
            .client
            .voip()
            .reject_call(call_id, &ringing.peer, &ringing.creator),
    )
    .await
    .map_err(|_| EngineError::Timeout)?
    .map_err(|e| EngineError::Protocol(format!("reject call failed: {e}")))
}
