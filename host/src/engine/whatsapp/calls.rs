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

/// A `<terminate>` for a call not ringing (yet): its id, reason and time.
struct EndedEarly {
    call_id: String,
    reason: Option<String>,
    timestamp: i64,
}

/// The calls ringing on one session, oldest first, and the calls that
/// stopped before they rang. whatsapp-rust handles `<call>` stanzas each on a
/// task of its own, so a caller who hangs up at once can have the client
/// report the terminate before the offer; the offer then comes as a call
/// that has already stopped.
#[derive(Default)]
pub(super) struct RingingCalls {
    calls: Mutex<Calls>,
}

/// What [`RingingCalls`] guards.
#[derive(Default)]
struct Calls {
    ringing: VecDeque<Ringing>,
    ended_early: VecDeque<EndedEarly>,
}

impl RingingCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Call `ringing` rings, unless it stopped before: then how it stopped.
    fn ring(&self, ringing: Ringing) -> Option<EndedEarly> {
        let Calls {
            ringing: calls,
            ended_early,
        } = &mut *self.lock();
        if let Some(at) = ended_early.iter().position(|e| e.call_id == ringing.offer.id) {
            return ended_early.remove(at);
        }
        calls.retain(|call| call.offer.id != ringing.offer.id);
        if calls.len() >= RINGING_CAPACITY {
            calls.pop_front();
        }
        calls.push_back(ringing);
        None
    }

    /// Call `call_id`, not ringing, was terminated: kept (bounded) for an
    /// offer that may still come.
    fn ended_early(&self, call_id: &str, reason: Option<&str>, timestamp: i64) {
        let ended = &mut self.lock().ended_early;
        if ended.len() >= RINGING_CAPACITY {
            ended.pop_front();
        }
        ended.push_back(EndedEarly {
            call_id: call_id.to_owned(),
            reason: reason.map(str::to_owned),
            timestamp,
        });
    }

    /// Takes call `call_id` off the ringing ones, when `from` (if given) is its caller
    /// (by phone number or LID).
    fn stop(&self, call_id: &str, from: Option<&str>) -> Option<Ringing> {
        let calls = &mut self.lock().ringing;
        let at = calls.iter().position(|call| {
            call.offer.id == call_id
                && from.is_none_or(|from| call.offer.from == from || call.offer.from_lid.as_deref() == Some(from))
        })?;
        calls.remove(at)
    }
}

/// What the bridge hands the journal for a `<call>`: an offer (now ringing; followed by
/// how it stopped when its terminate came first), or how a ringing call stopped; nothing
/// for the other call actions, for a terminate whose offer has not come, and for a call
/// this session rejected (WhatsApp tells the instance nothing more about it).
pub(super) fn incoming(calls: &RingingCalls, call: &IncomingCall) -> Vec<InboundEvent> {
    if let Some(offer) = from_whatsapp::call_offer(call) {
        let ended = calls.ring(Ringing {
            offer: offer.clone(),
            peer: call.from.clone(),
            creator: call.action.call_creator().clone(),
        });
        let mut events = vec![inbound(EventKind::CallOffer(offer.clone()))];
        if let Some(ended) = ended {
            events.push(inbound(from_whatsapp::stopped(
                offer,
                ended.reason.as_deref(),
                ended.timestamp,
            )));
        }
        return events;
    }
    let Some((call_id, reason)) = from_whatsapp::terminated(call) else {
        return Vec::new();
    };
    match calls.stop(call_id, None) {
        Some(ringing) => vec![inbound(from_whatsapp::stopped(
            ringing.offer,
            reason,
            call.timestamp.timestamp(),
        ))],
        None => {
            calls.ended_early(call_id, reason, call.timestamp.timestamp());
            Vec::new()
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ringing(id: &str) -> Ringing {
        let caller: Jid = "6281@s.whatsapp.net".parse().unwrap();
        Ringing {
            offer: Call {
                id: id.to_owned(),
                from: caller.to_string(),
                from_lid: None,
                from_phone: None,
                group: None,
                is_video: false,
                is_group: false,
                timestamp: 1,
                reason: None,
                auto_rejected: false,
            },
            peer: caller.clone(),
            creator: caller,
        }
    }

    #[test]
    fn a_call_terminated_before_its_offer_comes_stopped_and_never_rings() {
        let calls = RingingCalls::default();
        calls.ended_early("early", Some("timeout"), 7);
        let ended = calls.ring(ringing("early")).expect("it had stopped");
        assert_eq!((ended.reason.as_deref(), ended.timestamp), (Some("timeout"), 7));
        assert!(calls.stop("early", None).is_none(), "it does not ring");
        // Taken once: the same id offered again rings.
        assert!(calls.ring(ringing("early")).is_none());
        assert!(calls.stop("early", None).is_some());
    }

    #[test]
    fn early_ends_are_bounded() {
        let calls = RingingCalls::default();
        for n in 0..RINGING_CAPACITY + 1 {
            calls.ended_early(&format!("c{n}"), None, 0);
        }
        assert!(calls.ring(ringing("c0")).is_none(), "the oldest was forgotten");
        assert!(calls.ring(ringing(&format!("c{RINGING_CAPACITY}"))).is_some());
    }
}
