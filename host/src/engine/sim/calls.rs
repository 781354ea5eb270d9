//! The simulated network's calls: a contact calls an instance
//! (`POST /sim/instances/{id}/call`), the call rings until the contact hangs
//! up, it rings out, it is answered or declined on the account's phone
//! (`POST /sim/instances/{id}/hang-up`), or the instance rejects it. A
//! rejection is recorded with what the instance sent (kind `call_reject`),
//! as the caller's phone would see it; WhatsApp tells the instance nothing
//! more about a call it rejected.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::incoming::new_message_id;
use super::network::{SentRecord, SimError, SimNetwork};
use crate::engine::{EngineError, InboundEvent};
use crate::events::{Call, EventKind};

/// Calls one instance may have ringing at once; the oldest is forgotten past it.
const RINGING_CAPACITY: usize = 1_000;

/// How a ringing call stops (`POST /sim/instances/{id}/hang-up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallEnd {
    /// The caller gave up before it was answered: `call_missed`.
    HungUp,
    /// It rang out: `call_missed`.
    Timeout,
    /// Answered on the account's phone: `call_ended`.
    AcceptedElsewhere,
    /// Declined on the account's phone: `call_ended`.
    RejectedElsewhere,
}

impl CallEnd {
    fn reason(self) -> &'static str {
        match self {
            CallEnd::HungUp => "hung_up",
            CallEnd::Timeout => "timeout",
            CallEnd::AcceptedElsewhere => "accepted_elsewhere",
            CallEnd::RejectedElsewhere => "rejected_elsewhere",
        }
    }
}

/// The calls ringing on each instance, in the order they came.
#[derive(Default)]
pub(super) struct SimCalls {
    ringing: Mutex<HashMap<String, VecDeque<Call>>>,
}

impl SimCalls {
    fn ring(&self, instance_id: &str, call: Call) {
        let mut ringing = self.ringing.lock().unwrap_or_else(|p| p.into_inner());
        let calls = ringing.entry(instance_id.to_owned()).or_default();
        if calls.len() >= RINGING_CAPACITY {
            calls.pop_front();
        }
        calls.push_back(call);
    }

    /// Takes the ringing call `call_id` (from `from`, when given) off the instance.
    fn stop(&self, instance_id: &str, call_id: &str, from: Option<&str>) -> Option<Call> {
        let mut ringing = self.ringing.lock().unwrap_or_else(|p| p.into_inner());
        let calls = ringing.get_mut(instance_id)?;
        let at = calls
            .iter()
            .position(|call| call.id == call_id && from.is_none_or(|from| call.from == from))?;
        calls.remove(at)
    }

    pub(super) fn forget(&self, instance_id: &str) {
        self.ringing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(instance_id);
    }
}

impl SimNetwork {
    /// Contact `from` (a JID) calls the instance, in `group` for a group call;
    /// returns once the offer is journalled, with the call's id.
    pub async fn call(
        &self,
        instance_id: &str,
        from: String,
        is_video: bool,
        group: Option<String>,
    ) -> Result<String, SimError> {
        let session = self.session(instance_id)?;
        let call = Call {
            id: format!("CALL{}", new_message_id()),
            from_lid: self.lid_of(&from),
            from_phone: from.strip_suffix("@s.whatsapp.net").map(str::to_owned),
            from,
            is_group: group.is_some(),
            group,
            is_video,
            timestamp: crate::clock::now_secs(),
            reason: None,
            auto_rejected: false,
        };
        self.calls().ring(instance_id, call.clone());
        let id = call.id.clone();
        session
            .deliver(InboundEvent {
                kind: EventKind::CallOffer(call),
                media: None,
            })
            .await?;
        Ok(id)
    }

    /// The ringing call `call_id` stops as `how` says; returns once that is
    /// journalled. `None` when no such call is ringing (it was rejected, or
    /// has stopped already).
    pub async fn hang_up(&self, instance_id: &str, call_id: &str, how: CallEnd) -> Result<Option<()>, SimError> {
        let session = self.session(instance_id)?;
        let Some(call) = self.calls().stop(instance_id, call_id, None) else {
            return Ok(None);
        };
        let call = Call {
            reason: Some(how.reason().to_owned()),
            timestamp: crate::clock::now_secs(),
            ..call
        };
        let kind = match how {
            CallEnd::HungUp | CallEnd::Timeout => EventKind::CallMissed(call),
            CallEnd::AcceptedElsewhere | CallEnd::RejectedElsewhere => EventKind::CallEnded(call),
        };
        session.deliver(InboundEvent { kind, media: None }).await?;
        Ok(Some(()))
    }

    /// The instance rejects the ringing call `call_id` from `from`: the caller
    /// sees it declined (recorded as a `call_reject` sent to them).
    pub(super) fn reject_call(&self, instance_id: &str, call_id: &str, from: &str) -> Result<(), EngineError> {
        self.calls()
            .stop(instance_id, call_id, Some(from))
            .ok_or_else(|| EngineError::CallNotFound(call_id.to_owned()))?;
        // Not a message: nothing waits for its record to be durable.
        let _ = self.record_sent(
            instance_id,
            SentRecord {
                to: from.to_owned(),
                message_id: new_message_id(),
                kind: "call_reject",
                target_id: Some(call_id.to_owned()),
                ..SentRecord::default()
            },
        );
        Ok(())
    }
}
