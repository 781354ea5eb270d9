//! The real engine: the WhatsApp network through whatsapp-rust.
//!
//! This module owns building one whatsapp-rust client (a `Bot`) per
//! [`Engine::open`] and running it until the connection ends. The instance's
//! [`DeviceBackend`](crate::store::DeviceBackend) is the client's store, so a
//! paired device logs straight back in on the next open. Files:
//! - `mod.rs`: configuration, building the client, the driver task;
//! - `bridge.rs`: whatsapp-rust events to [`EngineEvent`]s and inbound
//!   events, in order, without ever blocking the client;
//! - `durability.rs`: the inbound durability hook: a message is acknowledged
//!   to WhatsApp only once the instance's journal has it;
//! - `inbound.rs`: inbound traffic through `events::from_whatsapp`, and media downloads;
//! - `media_ticket.rs`: what is kept to download an incoming file after a
//!   restart, and resuming the download through the instance's next client;
//! - `contact_sync.rs`: names from the phone's address book (contact sync)
//!   to the instance's contact list;
//! - `lid_book.rs`: the client's LID and phone-number pairs, from which
//!   every inbound event gets both names of the accounts it names;
//! - `recipient_lid.rs`: the recipient's LID in a send's answer, from the
//!   client's store of LID and phone number pairs;
//! - `deletions.rs`: revoking (the sender's own message, or another
//!   member's as a group admin) and deleting for me (an app state change);
//! - `outgoing.rs`: the messages for texts (with quotes, mentions, link
//!   previews), locations and contact cards, and the forwarded flag;
//! - `forward_and_groups.rs`: forwards, and a group's metadata;
//! - `polls.rs`: sending a poll and keeping its secret; `poll_votes.rs`:
//!   decrypting a vote with it, for the instance's poll book to tally;
//! - `session.rs`: the [`Session`] requests (send, check, presence, pair code,
//!   logout, close); `server_ack.rs`: a queued message counts as sent once
//!   WhatsApp's server acknowledged it;
//! - `cert_checks.rs`: whether this binary checks WhatsApp's Noise
//!   certificates, and the loopback-only rule for a test build that does not;
//! - `loopback_http.rs` (test builds only): media over plain HTTP to the
//!   WhatsApp simulator's media server on loopback, nowhere else.
//!
//! Reconnecting is the supervisor's job, so the client's own auto-reconnect is
//! switched off: when a connection ends, the session reports it once and is
//! over. The one restart kept inside the session is the stream restart the
//! server demands right after pairing (stream error 515): that is the second
//! half of the pairing handshake, not a reconnect after a drop, and without it
//! every fresh link would be reported as a disconnect.

mod bridge;
mod calls;
pub mod cert_checks;
mod chat_states;
mod contact_sync;
mod deletions;
mod durability;
mod forward_and_groups;
mod group_admin;
mod inbound;
mod lid_book;
#[cfg(feature = "test-whatsapp-server")]
pub mod loopback_http;
mod media_message;
mod media_ticket;
mod outgoing;
mod poll_votes;
mod polls;
mod profiles;
mod recipient_lid;
mod server_ack;
mod session;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tracing::{info, warn};
use whatsapp_rust::Client;
use whatsapp_rust::bot::Bot;
use whatsapp_rust::store::commands::DeviceCommand;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::wacore::store::DevicePropsOverride;
use whatsapp_rust::waproto::whatsapp::device_props::PlatformType;

use self::bridge::{Bridge, Queue, Shared};
pub use self::cert_checks::{NoiseCertChecks, UnsafeWhatsappUrl};
use self::durability::JournalHook;
use self::session::WhatsappSession;
use super::{Engine, EngineError, EngineEvent, Session, SessionRequest};

/// The linked-device name used when none is configured.
pub const DEFAULT_DEVICE_NAME: &str = "wasap";

/// Settings of the real engine.
#[derive(Debug, Clone)]
pub struct WhatsappEngineConfig {
    /// The name the phone shows for this device under Linked Devices.
    pub device_name: String,
    /// Overrides WhatsApp's WebSocket URL (`wss://web.whatsapp.com/ws/chat`),
    /// for a relay or a local test listener. With an override, the client
    /// keeps the app version it has instead of fetching the current one from
    /// web.whatsapp.com, so nothing but this URL is contacted while connecting.
    pub transport_url: Option<String>,
}

impl Default for WhatsappEngineConfig {
    fn default() -> Self {
        WhatsappEngineConfig {
            device_name: DEFAULT_DEVICE_NAME.to_owned(),
            transport_url: None,
        }
    }
}

/// The real WhatsApp engine.
pub struct WhatsappEngine {
    config: WhatsappEngineConfig,
    /// Each instance's latest client, for downloads resumed from the journal.
    clients: media_ticket::Clients,
}

impl WhatsappEngine {
    /// The engine, or why this binary may not connect to the configured URL:
    /// a test build (no Noise certificate checks) connects to loopback only.
    pub fn new(mut config: WhatsappEngineConfig) -> Result<WhatsappEngine, UnsafeWhatsappUrl> {
        cert_checks::check_url(config.transport_url.as_deref())?;
        if config.device_name.trim().is_empty() {
            config.device_name = DEFAULT_DEVICE_NAME.to_owned();
        }
        Ok(WhatsappEngine {
            config,
            clients: Default::default(),
        })
    }

    /// How this device presents itself when it links.
    ///
    /// WhatsApp labels a linked device from the pair (`platform_type`, `os`):
    /// a browser platform shows as "<Browser> (<os>)", `UNKNOWN` as "Other
    /// device" with the name dropped, and `DESKTOP` shows the `os` text on its
    /// own, which is the name we want. The phone reads these at link time
    /// only; they are passed on every start so a device that pairs later
    /// still gets them.
    fn device_props(&self) -> DevicePropsOverride {
        DevicePropsOverride::new()
            .with_os(self.config.device_name.trim())
            .with_platform_type(PlatformType::DESKTOP)
    }
}

#[async_trait]
impl Engine for WhatsappEngine {
    async fn open(&self, request: SessionRequest) -> Result<Arc<dyn Session>, EngineError> {
        let SessionRequest {
            instance_id,
            device,
            events,
            inbound,
            polls,
            address_book,
        } = request;
        let shared = Arc::new(Shared::new(instance_id));
        let (queue, queue_rx) = bridge::queue(inbound.clone());

        let transport = match &self.config.transport_url {
            Some(url) => TokioWebSocketTransportFactory::new().with_url(url.clone()),
            None => TokioWebSocketTransportFactory::new(),
        };
        let bot = Bot::builder()
            .with_backend(device.clone())
            .with_transport_factory(transport)
            .with_device_props(self.device_props())
            // An automation server has no use for the phone's chat history;
            // the notifications are still acknowledged.
            .skip_history_sync()
            // A message is acknowledged to WhatsApp only once the instance's
            // journal has it (durability.rs).
            .with_inbound_durability_hook(JournalHook {
                inbound,
                polls: polls.clone(),
            })
            .with_event_handler(Bridge::new(shared.clone(), queue.clone()))
            // Names from the phone's address book, to the contact list.
            .with_event_handler(contact_sync::ContactSync::start(shared.clone(), address_book));
        // A test build's media goes to the simulator's media server on
        // loopback and nowhere else (loopback_http.rs). Without the feature
        // this line does not exist, and whatsapp-rust keeps its default HTTP
        // client and TLS roots.
        #[cfg(feature = "test-whatsapp-server")]
        let bot = bot.with_http_client(loopback_http::LoopbackHttpClient::new());
        let bot = bot
            .build()
            .await
            .map_err(|e| EngineError::Protocol(format!("opening the device store: {e}")))?;
        let client = bot.client();
        // The supervisor reconnects by opening a new session; two reconnect
        // policies would fight.
        client.enable_auto_reconnect.store(false, Ordering::Relaxed);
        shared.set_client(&client);
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shared.instance_id.clone(), Arc::downgrade(&client));
        if self.config.transport_url.is_some() {
            pin_app_version(&client).await;
        }

        tokio::spawn(bridge::forward(queue_rx, events, shared.clone()));
        let driver = tokio::spawn(drive(bot, client.clone(), shared.clone(), queue.clone()));
        Ok(Arc::new(WhatsappSession {
            polls,
            shared,
            client,
            driver: Mutex::new(Some(driver)),
            queue,
            device,
        }))
    }

    fn media_from_ticket(&self, instance_id: &str, ticket: bytes::Bytes) -> Option<Arc<dyn super::MediaFetch>> {
        media_ticket::resume(&self.clients, instance_id, &ticket)
    }

    fn forget(&self, instance_id: &str) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(instance_id);
    }
}

/// Runs the client until its connection ends, then ends the session.
async fn drive(bot: Bot, client: Arc<Client>, shared: Arc<Shared>, queue: Queue) {
    let unpaired_at_open = client.pn().is_none();
    // Wires the event handler and runs the connection; with auto-reconnect
    // off, this returns when the connection ends.
    bot.run().await;
    // The client answers the phone's pair-success and only then dispatches
    // `PairSuccess`, while WhatsApp restarts the stream (515) as soon as the
    // answer arrives: the connection can end before the event is heard (seen
    // against the loopback simulator, where the answer's round trip takes
    // microseconds). A device that has its number now, and had none when the
    // session opened, has just paired: restart to log in either way.
    if unpaired_at_open && client.pn().is_some() && !shared.has_logged_in() {
        shared.arm_restart_after_pairing();
    }
    while shared.take_restart_after_pairing() && !shared.is_closed() && !shared.has_ended() {
        info!(instance = %shared.instance_id, "restarting the stream after pairing");
        client.run().await;
    }
    // A failed connect, or a drop the library counts as expected (QR codes
    // exhausted, a restart that did not come back), reports no event of its
    // own; the supervisor still has to hear that this session is over.
    if !shared.is_closed() && shared.claim_end() {
        let reason = shared.fallback_reason();
        warn!(instance = %shared.instance_id, %reason, "connection ended");
        queue.push(EngineEvent::Disconnected { reason });
    }
    queue.end();
}

/// Keeps the app version the device has and marks it fresh, so the client
/// does not fetch the current one from web.whatsapp.com when connecting.
async fn pin_app_version(client: &Arc<Client>) {
    let device = client.persistence_manager().get_device_snapshot();
    let version = (
        device.app_version_primary,
        device.app_version_secondary,
        device.app_version_tertiary,
    );
    client
        .persistence_manager()
        .process_command(DeviceCommand::SetAppVersion(version))
        .await;
}
