//! Rejecting calls automatically, a per-instance setting (off by default): a
//! bot cannot answer a call, so every call offer is rejected once it is
//! journalled, and the caller optionally gets a text (`reject_calls_message`).
//!
//! The instance's inbound sink is wrapped ([`CallReject::wrap`]), as for
//! auto-read: while the setting is on, a call offer is marked
//! `auto_rejected` before it is journalled (so its events say so), and once
//! the journal has it, it goes to a task of the instance's that rejects it
//! through the live session's [`Session::reject_call`] and then sends the
//! text. Best-effort like auto-read: the queue to the task is bounded, and an
//! offer that finds it full, or finds the instance offline, rings on.
//!
//! [`Session::reject_call`]: crate::engine::Session::reject_call

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::shared::SharedState;
use crate::engine::{InboundClosed, InboundEvent, InboundSink, OutgoingText};
use crate::events::{Call, EventKind};

/// Offers whose reject may wait for the instance's task.
const QUEUE: usize = 256;

/// One instance's call setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectCalls {
    pub on: bool,
    /// Sent to the caller after each automatic reject; none when `None`.
    pub message: Option<String>,
}

/// One instance's auto-reject setting and the queue to its reject task.
pub(crate) struct CallReject {
    setting: RwLock<RejectCalls>,
    rejects: mpsc::Sender<(Call, Option<String>)>,
}

impl CallReject {
    /// The setting, set to `setting`, and the task that rejects through
    /// `shared`'s live session; the task ends with the last clone.
    pub(crate) fn start(instance_id: &str, setting: RejectCalls, shared: Arc<SharedState>) -> Arc<CallReject> {
        let (rejects, queue) = mpsc::channel(QUEUE);
        let span = tracing::error_span!("call_reject", instance = %instance_id);
        tokio::spawn(tracing::Instrument::instrument(reject_calls(queue, shared), span));
        Arc::new(CallReject {
            setting: RwLock::new(setting),
            rejects,
        })
    }

    pub(crate) fn get(&self) -> RejectCalls {
        self.setting.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set(&self, setting: RejectCalls) {
        *self.setting.write().unwrap_or_else(|p| p.into_inner()) = setting;
    }

    /// `sink`, with the call offers of what it journals rejected while the
    /// setting is on.
    pub(crate) fn wrap(self: &Arc<Self>, sink: Arc<dyn InboundSink>) -> Arc<dyn InboundSink> {
        Arc::new(Sink {
            inner: sink,
            call_reject: self.clone(),
        })
    }
}

/// The instance's inbound sink, rejecting the calls it journalled.
struct Sink {
    inner: Arc<dyn InboundSink>,
    call_reject: Arc<CallReject>,
}

#[async_trait]
impl InboundSink for Sink {
    async fn accept(&self, mut events: Vec<InboundEvent>) -> Result<(), InboundClosed> {
        let setting = self.call_reject.get();
        let mut offers = Vec::new();
        if setting.on {
            for event in &mut events {
                if let EventKind::CallOffer(call) = &mut event.kind {
                    call.auto_rejected = true;
                    offers.push(call.clone());
                }
            }
        }
        self.inner.accept(events).await?;
        // Journalled: now they may be rejected.
        for offer in offers {
            if self
                .call_reject
                .rejects
                .try_send((offer, setting.message.clone()))
                .is_err()
            {
                tracing::warn!("too many calls waiting to be rejected; this one rings on");
            }
        }
        Ok(())
    }

    async fn pass_on(&self, kind: EventKind) {
        self.inner.pass_on(kind).await;
    }

    fn holding(&self, change: isize) {
        self.inner.holding(change);
    }
}

/// Rejects the calls that arrive on `queue`, and sends each caller the text,
/// until every sender is gone.
async fn reject_calls(mut queue: mpsc::Receiver<(Call, Option<String>)>, shared: Arc<SharedState>) {
    while let Some((call, message)) = queue.recv().await {
        let Some(session) = shared.online_session() else {
            tracing::debug!(call = %call.id, "offline; the call is not rejected");
            continue;
        };
        if let Err(e) = session.reject_call(&call.id, &call.from).await {
            tracing::warn!(call = %call.id, error = %e, "cannot reject a call");
            continue;
        }
        tracing::info!(call = %call.id, "call rejected automatically");
        let Some(text) = message else { continue };
        // A call in a group is answered in the caller's own chat, not the group's.
        if let Err(e) = session.send_text(&call.from, OutgoingText::plain(text)).await {
            shared.activity().send_failed();
            tracing::warn!(call = %call.id, error = %e, "cannot send the text after rejecting a call");
        }
    }
}
