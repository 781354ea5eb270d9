//! The chain an event goes through: the enabled plugins in manifest order,
//! each seeing the events it subscribes to for the instances it runs for.
//!
//! `drop` ends the event; `replace` hands the new event to the next plugin;
//! a failure (trap, fuel, deadline, memory, or an outcome the host refuses)
//! applies the plugin's failure policy: fail-open passes the event on
//! unchanged, fail-closed drops it. A plugin that fails
//! [`QUARANTINE_AFTER`] times in a row is quarantined: skipped until it is
//! reloaded or enabled again. The built-in outputs never are: quarantining
//! one would stop the webhooks or the WebSocket frames of every tenant, for
//! a failure that is the host's (a full pool, say) rather than theirs; their
//! failures are alerted instead (see [`super::alerts`]).
//!
//! The list of plugins is swapped as a whole, and each event takes one
//! snapshot of it, so an event is handled entirely by the old or entirely by
//! the new version of a reloaded plugin.

use std::sync::{Arc, RwLock};

use futures::FutureExt as _;

use wasap_plugin_manifest::{ChannelKind, FailurePolicy, Manifest};

use super::bindings::types;
use super::runner::{Failure, RunningPlugin};
use crate::events::Event;
use crate::messaging::actions::MAX_READ_IDS;

/// Failures in a row that quarantine a plugin.
pub const QUARANTINE_AFTER: u32 = 5;
/// Actions one outcome may carry.
const MAX_ACTIONS: usize = 16;

/// An action a plugin asked for, already checked against its manifest.
pub struct PluginAction {
    pub plugin: Arc<RunningPlugin>,
    pub action: types::Action,
}

/// A plugin that failed on an event.
pub struct PluginFailure {
    pub plugin: String,
    /// Whether the plugin is a built-in output.
    pub builtin: bool,
    pub failure: Failure,
    /// Whether this failure quarantined it.
    pub quarantined: bool,
}

/// What came out of the chain.
#[derive(Default)]
pub struct ChainOutcome {
    /// The event as the last plugin left it; `None` when it was dropped.
    pub event: Option<Event>,
    pub actions: Vec<PluginAction>,
    pub failures: Vec<PluginFailure>,
}

/// The enabled plugins, in chain order.
#[derive(Default)]
pub struct Chain {
    plugins: RwLock<Arc<[Arc<RunningPlugin>]>>,
}

impl Chain {
    /// The plugins now in the chain.
    pub fn snapshot(&self) -> Arc<[Arc<RunningPlugin>]> {
        self.plugins.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the whole chain; plugins are ordered by `order`, then name.
    pub fn set(&self, mut plugins: Vec<Arc<RunningPlugin>>) {
        plugins.sort_by(|a, b| {
            let (a, b) = (&a.loaded.manifest, &b.loaded.manifest);
            a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name))
        });
        *self.plugins.write().unwrap_or_else(|e| e.into_inner()) = plugins.into();
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    /// Passes each of `events` through the chain, in order, on the plugin
    /// runtime (one hand-over for them all); their outcomes in the same order.
    pub async fn run_all(self: &Arc<Self>, events: Vec<Event>) -> Vec<ChainOutcome> {
        let chain = self.clone();
        let work = async move {
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events {
                outcomes.push(chain.run(event).await);
            }
            outcomes
        };
        match super::runtime::run(work).await {
            Ok(outcomes) => outcomes,
            // A panic in a plugin call is caught where it happens (a trap);
            // one anywhere else is a host bug, and goes on up as before.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("the plugin runtime dropped a batch of events: {e}"),
        }
    }

    /// Passes `event` through the chain, on the caller's thread.
    pub async fn run(&self, event: Event) -> ChainOutcome {
        let plugins = self.snapshot();
        let mut outcome = ChainOutcome::default();
        let mut current = event;
        // The event in WIT terms, made once and shared by every plugin until
        // one replaces it (a conversion copies every string of the event).
        let mut lowered: Option<types::Event> = None;
        for plugin in plugins.iter() {
            let manifest = &plugin.loaded.manifest;
            if plugin.is_quarantined()
                || !manifest.wants_event(current.name())
                || !manifest.runs_for(&current.instance_id)
            {
                continue;
            }
            let wit_event = lowered.get_or_insert_with(|| current.clone().into());
            let call = std::panic::AssertUnwindSafe(plugin.handle(wit_event)).catch_unwind();
            let called = call.await.unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err((Failure::Trap(format!("the plugin's call ended abnormally: {what}")), 0))
            });
            let answer = match called {
                Ok((answer, _fuel)) => check(manifest, &current, answer).map_err(|failure| {
                    let in_a_row = plugin.stats.record_bad_output(&failure);
                    (failure, in_a_row)
                }),
                Err(failed) => Err(failed),
            };
            match answer {
                Ok((verdict, actions)) => {
                    outcome.actions.extend(actions.into_iter().map(|action| PluginAction {
                        plugin: plugin.clone(),
                        action,
                    }));
                    match verdict {
                        Verdict::Continue => {}
                        Verdict::Drop => return outcome,
                        Verdict::Replace(event) => {
                            current = *event;
                            lowered = None;
                        }
                    }
                }
                Err((failure, in_a_row)) => {
                    plugin.drain();
                    let quarantined = in_a_row >= QUARANTINE_AFTER && !plugin.is_builtin() && plugin.quarantine();
                    outcome.failures.push(PluginFailure {
                        plugin: manifest.name.clone(),
                        builtin: plugin.is_builtin(),
                        failure,
                        quarantined,
                    });
                    if manifest.failure == FailurePolicy::Closed {
                        return outcome;
                    }
                }
            }
        }
        outcome.event = Some(current);
        outcome
    }
}

/// A verdict in the host's own terms.
pub enum Verdict {
    Continue,
    Drop,
    Replace(Box<Event>),
}

/// Checks an outcome against the event and the plugin's manifest: a
/// replacement must keep the event's id and instance, and every action must
/// be granted. Anything else refuses the whole outcome.
pub fn check(
    manifest: &Manifest,
    event: &Event,
    outcome: types::Outcome,
) -> Result<(Verdict, Vec<types::Action>), Failure> {
    let bad = |message: String| Err(Failure::BadOutput(message));
    if outcome.actions.len() > MAX_ACTIONS {
        return bad(format!("{} actions (at most {MAX_ACTIONS})", outcome.actions.len()));
    }
    for action in &outcome.actions {
        check_action(manifest, event, action).map_err(Failure::BadOutput)?;
    }
    let verdict = match outcome.verdict {
        types::Verdict::Continue => Verdict::Continue,
        types::Verdict::Drop => Verdict::Drop,
        types::Verdict::Replace(replacement) => {
            let replacement = Event::from(replacement);
            if replacement.id != event.id || replacement.instance_id != event.instance_id {
                return bad("a replacement must keep the event's id and instance".to_owned());
            }
            Verdict::Replace(Box::new(replacement))
        }
    };
    Ok((verdict, outcome.actions))
}

fn check_action(manifest: &Manifest, event: &Event, action: &types::Action) -> Result<(), String> {
    let caps = &manifest.capabilities;
    if super::moderation::check(caps.moderate, event, action)? {
        return Ok(());
    }
    match action {
        // Everything the instance says to WhatsApp: messages (at once or
        // through its send queue), and the actions on earlier messages and chats.
        types::Action::SendText(_)
        | types::Action::SendMedia(_)
        | types::Action::React(_)
        | types::Action::Edit(_)
        | types::Action::Revoke(_)
        | types::Action::MarkRead(_)
        | types::Action::ChatState(_)
        | types::Action::SendLocation(_)
        | types::Action::SendContacts(_)
        | types::Action::SendPoll(_)
        | types::Action::Forward(_)
        | types::Action::DeleteForMe(_)
        | types::Action::Queue(_) => {
            if !caps.send {
                return Err("sending messages is not granted (capabilities.send)".to_owned());
            }
            if event.instance_id.is_empty() {
                return Err("a server-wide event has no instance to send from".to_owned());
            }
            if let types::Action::MarkRead(read) = action
                && !(1..=MAX_READ_IDS).contains(&read.message_ids.len())
            {
                return Err(format!(
                    "mark-read names {} messages (1 to {MAX_READ_IDS})",
                    read.message_ids.len()
                ));
            }
        }
        types::Action::Webhook(request) => {
            let Some(grant) = &caps.webhook else {
                return Err("webhook requests are not granted (capabilities.webhook)".to_owned());
            };
            match &request.target {
                types::WebhookTarget::Subscribers if !grant.subscribers => {
                    return Err("webhooks to the instance's subscribers are not granted".to_owned());
                }
                types::WebhookTarget::Url(url) => {
                    let allowed = reqwest::Url::parse(url).is_ok_and(|u| {
                        wasap_plugin_manifest::Capabilities::url_allowed(
                            &grant.hosts,
                            u.scheme(),
                            u.host_str().unwrap_or_default(),
                            u.port_or_known_default(),
                        )
                    });
                    if !allowed {
                        return Err(format!(
                            "webhook target {url:?} is not in the allow-list (scheme, host and port)"
                        ));
                    }
                }
                types::WebhookTarget::Subscribers => {}
            }
        }
        // Checked above.
        types::Action::GroupParticipants(_) | types::Action::BlockContact(_) | types::Action::RejectCall(_) => {}
        types::Action::Publish(publish) => {
            let (kind, own) = match &publish.channel {
                types::Channel::Global => (ChannelKind::Global, true),
                types::Channel::Instance(id) => (ChannelKind::Instance, *id == event.instance_id),
            };
            if !caps.publish.contains(&kind) {
                return Err(format!("publishing to {kind:?} channels is not granted"));
            }
            if !own {
                return Err("a plugin publishes only to the channel of the event's own instance".to_owned());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
