//! The simulated network's shared state: live sessions, contacts and what was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::groups::{SimGroup, SimGroups};
use super::session::SimSession;
use crate::engine::{EngineEvent, InboundEvent, NumberCheck};

/// Sent messages kept per instance for `/sim/.../sent`; older ones are dropped.
const SENT_LOG_CAPACITY: usize = 10_000;
/// Contacts registered through `/sim/contacts`, at most.
const CONTACTS_CAPACITY: usize = 100_000;

/// A contact registered with the simulated network.
#[derive(Debug, Clone)]
pub struct SimContact {
    pub on_whatsapp: bool,
    pub push_name: Option<String>,
    /// The contact's LID (`…@lid`), which sends to it answer with.
    pub lid: Option<String>,
}

/// One message an instance sent, as the simulated network received it; also
/// its read receipts and chat states, which are not messages but go out too.
/// Read back from the database at start (`sent_log.rs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentRecord {
    pub to: String,
    /// When the network took it: unix milliseconds on the server's clock
    /// (which `POST /sim/clock` moves forward).
    pub at_ms: i64,
    /// The message's id; for a read receipt or a chat state, the id the
    /// simulated network gave the record.
    pub message_id: String,
    /// `text`, `image`, `video`, `audio` (also a voice note), `document`,
    /// `sticker`, `location`
    /// (`location`), `contact` (`contacts`), `poll` (`poll`); `reaction`, `edit`,
    /// `revoke` (messages acting on `target_id`; by a group admin: `admin`,
    /// `target_sender`); `delete_for_me` (an app state change of the
    /// account's own, not a message, for `target_id`); `read` (a read
    /// receipt for `read_ids`), `chat_state` (`state`).
    #[serde(deserialize_with = "super::sent_log::static_str")]
    pub kind: &'static str,
    /// The text; for an edit, the new text.
    pub text: Option<String>,
    pub caption: Option<String>,
    /// Hex SHA-256 of the media bytes, for byte-exact checks.
    pub media_sha256: Option<String>,
    pub reply_to: Option<String>,
    pub mime_type: Option<String>,
    pub file_name: Option<String>,
    /// The message a reaction, edit, revoke or deletion for me acts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// A revoke of another member's message by a group admin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
    /// The author of the message an admin revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_sender: Option<String>,
    /// A reaction's emoji (empty: the reaction is withdrawn).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// An audio message is a voice note (push-to-talk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_note: Option<bool>,
    /// A voice note's length in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    /// The media can be opened once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_once: Option<bool>,
    /// The users a text mentions (JIDs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mentions: Option<Vec<String>>,
    /// The messages a read receipt reports read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_ids: Option<Vec<String>>,
    /// A chat state: `typing`, `recording` or `paused`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::sent_log::static_str_opt"
    )]
    pub state: Option<&'static str>,
    /// A location's place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<SentLocation>,
    /// The cards of a contact message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<SentContact>>,
    /// A poll's question, options and how many a voter may pick.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll: Option<super::polls::SentPoll>,
    /// The message was sent as a forward (WhatsApp's "Forwarded" label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<bool>,
    /// A text's link preview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_preview: Option<SentLinkPreview>,
}

/// A link preview as the simulated network received it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentLinkPreview {
    /// The link, as matched in the text.
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Hex SHA-256 of the JPEG thumbnail, for byte-exact checks.
    pub thumbnail_sha256: Option<String>,
}

/// A location as the simulated network received it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentLocation {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A contact card as the simulated network received it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentContact {
    pub display_name: String,
    pub vcard: String,
}

/// How the simulated network ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimDrop {
    /// The socket drops: the instance reconnects with backoff.
    Dropped,
    /// Another client took the device's connection over.
    StreamReplaced,
    /// The account is banned for `seconds`.
    TemporaryBan { seconds: u64 },
    /// WhatsApp refuses this client version.
    ClientOutdated,
}

/// Why a simulated action could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("instance {0} has no open connection")]
    NoSession(String),
    #[error("instance {0} is not waiting for a QR scan")]
    NotPairing(String),
    #[error("instance {0} is not connected")]
    NotConnected(String),
    #[error("too many simulated contacts")]
    TooManyContacts,
    #[error("{0}")]
    Invalid(String),
    /// The simulated network's own records (pairing, polls, offline queue,
    /// address book) could not be written.
    #[error("cannot save the simulated network's state: {0}")]
    Store(String),
}

/// The simulated network. Cheap to clone; clones share everything.
#[derive(Clone, Default)]
pub struct SimNetwork {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: Mutex<HashMap<String, Arc<SimSession>>>,
    contacts: Mutex<HashMap<String, SimContact>>,
    /// The phone number of each registered contact's LID (`lids.rs`).
    lid_owners: Mutex<HashMap<String, String>>,
    sent: Mutex<HashMap<String, super::sent_records::SentRecords>>,
    groups: SimGroups,
    /// Calls ringing on each instance (`calls.rs`).
    calls: super::calls::SimCalls,
    /// Accounts' about, photo, blocklist and privacy (`profiles.rs`).
    profiles: super::profiles::SimProfiles,
    /// Woken at every send, for [`SimNetwork::wait_sent`].
    sent_signal: tokio::sync::Notify,
    /// The server's clock, which stamps the records and which
    /// `POST /sim/clock` moves.
    clock: crate::clock::Clock,
    /// Where the record of sent messages outlives the process; `None` for a
    /// network without a database (unit tests).
    durable: Option<super::sent_log::SentLog>,
    /// Answers to sends held back, per instance (`held_sends.rs`).
    holds: super::held_sends::SendHolds,
    /// The server's offline queue of each device (by device id), outliving
    /// its sessions: what one session handed over and had not acknowledged
    /// is what the next one delivers again (`offline.rs`).
    offline: Mutex<HashMap<i32, super::offline::OfflineQueue>>,
}

impl SimNetwork {
    pub fn new() -> SimNetwork {
        SimNetwork::default()
    }

    /// A network whose record of sent messages is kept in `store`: what
    /// WhatsApp took before a restart of the server is still there after
    /// it (the newest [`SENT_LOG_CAPACITY`] per instance).
    pub async fn with_store(store: crate::store::Store) -> Result<SimNetwork, crate::store::StoreError> {
        let (durable, logs) = super::sent_log::SentLog::open(store, SENT_LOG_CAPACITY).await?;
        let network = SimNetwork {
            inner: Arc::new(Inner {
                durable: Some(durable),
                ..Inner::default()
            }),
        };
        *lock(&network.inner.sent) = logs
            .into_iter()
            .map(|(instance_id, records)| (instance_id, super::sent_records::SentRecords::new(records)))
            .collect();
        Ok(network)
    }

    /// The clock the network stamps its records with; the server's, for
    /// everything a test moves (the send queue).
    pub fn clock(&self) -> crate::clock::Clock {
        self.inner.clock.clone()
    }

    /// Whether the instance has sent a message with id `message_id`.
    pub(super) fn has_sent(&self, instance_id: &str, message_id: &str) -> bool {
        lock(&self.inner.sent)
            .get(instance_id)
            .is_some_and(|log| log.has(message_id))
    }

    pub(super) fn register(&self, instance_id: &str, session: Arc<SimSession>) {
        let previous = lock(&self.inner.sessions).insert(instance_id.to_owned(), session);
        if let Some(previous) = previous {
            previous.mark_closed();
        }
    }

    /// Forgets `session` if it is still the instance's current one.
    pub(super) fn unregister(&self, instance_id: &str, session: &SimSession) {
        let mut sessions = lock(&self.inner.sessions);
        if sessions
            .get(instance_id)
            .is_some_and(|current| std::ptr::eq(current.as_ref(), session))
        {
            sessions.remove(instance_id);
        }
    }

    /// The offline queue of `device`: the one its earlier sessions used,
    /// or a new one.
    pub(super) fn offline_queue(&self, device: &crate::store::DeviceBackend) -> super::offline::OfflineQueue {
        lock(&self.inner.offline)
            .entry(device.device_id())
            .or_insert_with(|| super::offline::OfflineQueue::start(device.clone()))
            .clone()
    }

    pub(super) fn session(&self, instance_id: &str) -> Result<Arc<SimSession>, SimError> {
        lock(&self.inner.sessions)
            .get(instance_id)
            .cloned()
            .ok_or_else(|| SimError::NoSession(instance_id.to_owned()))
    }

    /// The phone scans the instance's current QR (or confirms its pair code).
    pub async fn scan(&self, instance_id: &str, phone: &str, push_name: Option<String>) -> Result<String, SimError> {
        self.session(instance_id)?.complete_pairing(phone, push_name).await
    }

    /// Ends the instance's connection the way `how` says; the device stays linked.
    pub async fn disconnect(&self, instance_id: &str, how: SimDrop) -> Result<(), SimError> {
        let session = self.session(instance_id)?;
        self.unregister(instance_id, &session);
        let event = match how {
            SimDrop::Dropped => EngineEvent::Disconnected {
                reason: "connection dropped by the simulated network".to_owned(),
            },
            SimDrop::StreamReplaced => EngineEvent::StreamReplaced,
            SimDrop::TemporaryBan { seconds } => EngineEvent::TemporaryBan {
                reason: "simulated temporary ban".to_owned(),
                expires_in: std::time::Duration::from_secs(seconds),
            },
            SimDrop::ClientOutdated => EngineEvent::ClientOutdated,
        };
        session.drop_connection(event).await;
        Ok(())
    }

    /// Makes the instance's current session panic the next time it is asked
    /// to announce its presence: a stand-in for a bug in one instance's code
    /// path, to show it stays contained.
    pub fn panic_on_next_presence(&self, instance_id: &str) -> Result<(), SimError> {
        self.session(instance_id)?.panic_on_next_presence();
        Ok(())
    }

    /// WhatsApp's side of the instance's connection goes silent: the socket
    /// stays open but nothing comes over it any more (a "connected but deaf"
    /// session), until the instance reconnects.
    pub fn silence(&self, instance_id: &str) -> Result<(), SimError> {
        self.session(instance_id)?.go_silent();
        Ok(())
    }

    /// The phone removes the linked device.
    pub async fn unlink(&self, instance_id: &str) -> Result<(), SimError> {
        let session = self.session(instance_id)?;
        self.unregister(instance_id, &session);
        session
            .drop_connection(EngineEvent::LoggedOut {
                reason: "the device was removed from the phone".to_owned(),
            })
            .await;
        Ok(())
    }

    /// Delivers an inbound message, receipt or group event to a connected instance.
    pub async fn deliver(&self, instance_id: &str, event: InboundEvent) -> Result<(), SimError> {
        self.session(instance_id)?.deliver(event).await
    }

    /// A contact shows a chat state (typing, recording, paused) in a chat with
    /// the instance: handed over at once, not journalled (see
    /// [`InboundSink::pass_on`](crate::engine::InboundSink::pass_on)).
    pub async fn chat_state(&self, instance_id: &str, kind: crate::events::EventKind) -> Result<(), SimError> {
        self.session(instance_id)?.pass_on(kind).await
    }

    /// A contact votes on a poll the instance sent (`ballot` names the
    /// options it picks): the vote is tallied and delivered as on WhatsApp.
    pub async fn poll_vote(&self, instance_id: &str, ballot: crate::polls::Ballot) -> Result<(), SimError> {
        self.session(instance_id)?.poll_vote(ballot).await
    }

    /// Creates group `jid` (or replaces it) with `group`'s name and members.
    pub fn put_group(&self, jid: &str, group: SimGroup) -> Result<(), SimError> {
        self.inner.groups.put(jid, group)
    }

    /// Group `jid` as member `me` (a phone number) sees it.
    pub(super) fn group_info(&self, jid: &str, me: &str) -> Option<crate::engine::GroupInfo> {
        self.inner.groups.info(jid, me)
    }

    /// The calls ringing on each instance (`calls.rs` manages them).
    pub(super) fn calls(&self) -> &super::calls::SimCalls {
        &self.inner.calls
    }

    /// The simulated servers' groups (`group_admin.rs` manages them).
    pub(super) fn groups(&self) -> &SimGroups {
        &self.inner.groups
    }

    /// Every open session, for what all of them may need to hear.
    pub(super) fn sessions(&self) -> Vec<Arc<SimSession>> {
        lock(&self.inner.sessions).values().cloned().collect()
    }

    /// Registers a contact (on WhatsApp or not).
    pub fn add_contact(&self, phone: &str, contact: SimContact) -> Result<(), SimError> {
        let mut contacts = lock(&self.inner.contacts);
        if contacts.len() >= CONTACTS_CAPACITY && !contacts.contains_key(phone) {
            return Err(SimError::TooManyContacts);
        }
        let lid = contact.lid.clone();
        let previous = contacts.insert(phone.to_owned(), contact);
        let mut owners = lock(&self.inner.lid_owners);
        if let Some(old) = previous.and_then(|c| c.lid) {
            owners.remove(&old);
        }
        if let Some(lid) = lid {
            owners.insert(lid, phone.to_owned());
        }
        Ok(())
    }

    /// The phone number whose registered contact has LID `lid` (`…@lid`).
    pub(super) fn lid_owner(&self, lid: &str) -> Option<String> {
        lock(&self.inner.lid_owners).get(lid).cloned()
    }

    /// A registered contact.
    pub fn contact(&self, phone: &str) -> Option<SimContact> {
        lock(&self.inner.contacts).get(phone).cloned()
    }

    pub(super) fn profiles(&self) -> &super::profiles::SimProfiles {
        &self.inner.profiles
    }

    /// The phone number and LID of the account `jid` names (a phone JID or
    /// a registered contact's LID); `None` when it has no WhatsApp account.
    pub(super) fn resolve(&self, jid: &str) -> Option<(String, Option<String>)> {
        let contacts = lock(&self.inner.contacts);
        if jid.ends_with("@lid") {
            return contacts
                .iter()
                .find(|(_, c)| c.on_whatsapp && c.lid.as_deref() == Some(jid))
                .map(|(phone, c)| (phone.clone(), c.lid.clone()));
        }
        let phone = jid.strip_suffix("@s.whatsapp.net")?;
        match contacts.get(phone) {
            Some(c) if !c.on_whatsapp => None,
            Some(c) => Some((phone.to_owned(), c.lid.clone())),
            None => Some((phone.to_owned(), None)),
        }
    }

    /// The LID of the chat `jid`: itself for a LID, a registered contact's
    /// own for a phone JID, none for a group or an unknown number.
    pub(super) fn lid_of(&self, jid: &str) -> Option<String> {
        if jid.ends_with("@lid") {
            return Some(jid.to_owned());
        }
        let phone = jid.strip_suffix("@s.whatsapp.net")?;
        lock(&self.inner.contacts).get(phone)?.lid.clone()
    }

    /// Whether each number is on WhatsApp: registered contacts as registered,
    /// any other well-formed number counts as on WhatsApp.
    pub fn check(&self, phones: &[String]) -> Vec<NumberCheck> {
        let contacts = lock(&self.inner.contacts);
        phones
            .iter()
            .map(|phone| {
                let on_whatsapp = contacts.get(phone).is_none_or(|c| c.on_whatsapp);
                NumberCheck {
                    phone: phone.clone(),
                    on_whatsapp,
                    jid: on_whatsapp.then(|| format!("{phone}@s.whatsapp.net")),
                }
            })
            .collect()
    }

    /// Adds to the instance's record of sent messages, dropping the oldest
    /// past [`SENT_LOG_CAPACITY`]. The dropped record is freed after the lock
    /// is released: other instances' sends do not wait for it. A send is
    /// taken once the returned [`Written`](super::sent_log::Written) is durable.
    pub(super) fn record_sent(&self, instance_id: &str, mut record: SentRecord) -> super::sent_log::Written {
        record.at_ms = self.inner.clock.now_ms();
        let written = match &self.inner.durable {
            Some(durable) => durable.write(instance_id, &record),
            None => super::sent_log::Written::nothing(),
        };
        let dropped = {
            let mut sent = lock(&self.inner.sent);
            // The instance's log exists after its first send: look it up
            // without allocating a key on every send.
            let log = match sent.get_mut(instance_id) {
                Some(log) => log,
                None => sent.entry(instance_id.to_owned()).or_default(),
            };
            log.push(record, SENT_LOG_CAPACITY)
        };
        drop(dropped);
        self.inner.sent_signal.notify_waiters();
        written
    }

    pub fn sent(&self, instance_id: &str) -> Vec<SentRecord> {
        lock(&self.inner.sent)
            .get(instance_id)
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The instance's sent messages once there are at least `count`, or
    /// whatever there is when `timeout` runs out: lets a client wait for a
    /// send it expects instead of polling.
    pub async fn wait_sent(&self, instance_id: &str, count: usize, timeout: std::time::Duration) -> Vec<SentRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before looking, so a send in between still wakes us.
            let notified = self.inner.sent_signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let sent = self.sent(instance_id);
            if sent.len() >= count || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return if sent.len() >= count {
                    sent
                } else {
                    self.sent(instance_id)
                };
            }
        }
    }

    /// Holds back (`hold`) or releases the answers to the instance's sends
    /// (`held_sends.rs`): while held, a message is taken but its sender is
    /// not told. The hold as it was before.
    pub fn hold_sends(&self, instance_id: &str, hold: bool) -> super::held_sends::HoldState {
        self.inner.holds.set(instance_id, hold)
    }

    /// The instance's hold once it holds at least `min` answers (each to a
    /// message taken and durably recorded), or as it is after `timeout`.
    pub async fn held_sends(
        &self,
        instance_id: &str,
        min: usize,
        timeout: std::time::Duration,
    ) -> super::held_sends::HoldState {
        self.inner.holds.wait_held(instance_id, min, timeout).await
    }

    /// The answers held back, for a session's sends (`outbox.rs`).
    pub(super) fn holds(&self) -> &super::held_sends::SendHolds {
        &self.inner.holds
    }

    /// How many times the instance's current session announced itself available.
    pub fn presence_announcements(&self, instance_id: &str) -> Option<u64> {
        lock(&self.inner.sessions)
            .get(instance_id)
            .map(|session| session.presence_announcements())
    }

    /// Forgets everything about an instance (it was deleted).
    pub fn forget(&self, instance_id: &str) {
        if let Some(session) = lock(&self.inner.sessions).remove(instance_id) {
            session.mark_closed();
        }
        lock(&self.inner.sent).remove(instance_id);
        self.inner.calls.forget(instance_id);
        self.inner.holds.forget(instance_id);
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the
/// simulated state stays usable for the other instances.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> SentRecord {
        SentRecord {
            to: "6289876543210@s.whatsapp.net".to_owned(),
            message_id: format!("id-{i}"),
            kind: "text",
            text: Some(format!("message {i}")),
            ..SentRecord::default()
        }
    }

    #[test]
    fn the_sent_log_keeps_the_most_recent_messages_per_instance() {
        let network = SimNetwork::new();
        let total = SENT_LOG_CAPACITY + 25;
        for i in 0..total {
            let _ = network.record_sent("busy", record(i));
        }
        let _ = network.record_sent("quiet", record(0));

        let busy = network.sent("busy");
        assert_eq!(busy.len(), SENT_LOG_CAPACITY);
        assert_eq!(
            busy.first().unwrap().message_id,
            "id-25",
            "the oldest are dropped first"
        );
        assert_eq!(busy.last().unwrap().message_id, format!("id-{}", total - 1));
        assert_eq!(network.sent("quiet").len(), 1, "each instance has its own log");

        network.forget("busy");
        assert!(network.sent("busy").is_empty());
    }
}
