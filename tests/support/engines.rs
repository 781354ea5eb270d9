//! One suite, two engines: which engine a black-box test runs wasap on, and a
//! typed driver of WhatsApp's side that works the same on both.
//!
//! - [`EngineUnderTest::Sim`]: the in-process simulated network (`--engine
//!   sim`), driven through its `/sim/` routes (docs/API.md);
//! - [`EngineUnderTest::Real`]: wasap's real engine (whatsapp-rust) with
//!   `--whatsapp-url` pointed at a WhatsApp simulator on loopback
//!   (`wasap_whatsapp_sim::Simulator`) that the test starts; the driver plays
//!   the phone and the contacts on that simulator. The tests' wasap is a test
//!   build (no Noise certificate checks, loopback only; see
//!   `wasap::engine::whatsapp::cert_checks`).
//!
//! A test takes a [`Whatsapp`] (which outlives server restarts, as the real
//! WhatsApp would), starts its servers through it, and plays WhatsApp through
//! [`Whatsapp::driver`]. The [`both_engines!`](crate::both_engines) macro
//! makes one test body into a `sim` and a `real` test. The driver's methods
//! for the other message kinds, receipts, groups and LIDs are in
//! `engines/kinds.rs`, for media in `engines/media.rs`, for what the
//! instance's message actions sent in `engines/actions.rs`, for locations
//! and contact cards in `engines/places_and_cards.rs`, for polls and votes
//! in `engines/polls.rs`, for contacts' chat states in `engines/chat_states.rs`,
//! for calls and a deaf connection in `engines/calls.rs`, for the phone's
//! address book (contact sync) in `engines/address_book.rs`, for WhatsApp
//! holding back its answers to sends in `engines/held_sends.rs`.

mod actions;
mod address_book;
mod calls;
mod chat_states;
mod child;
mod deletions;
mod groups;
mod held_sends;
mod kinds;
mod listened_shop;
mod media;
mod online_shop;
mod places_and_cards;
mod polls;
mod profiles;
mod reads_and_lids;
mod rich;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use wasap_whatsapp_sim::Simulator;

use crate::{Api, TestDb, TestServer, WAIT, sim_config};

pub use self::actions::ActionSent;
pub use self::address_book::Saved;
pub use self::calls::CallRejected;
pub use self::child::TextSender;
pub use self::deletions::{AdminRevoke, DeletedForMe};
pub use self::groups::GroupState;
pub use self::kinds::{Kind, Sender, Wrapping};
pub use self::listened_shop::ListenedShop;
pub use self::media::{MediaFile, MediaFileExt, SentMedia};
pub use self::online_shop::OnlineShop;
pub use self::places_and_cards::PlaceOrCards;
pub use self::polls::PollSent;
pub use self::profiles::AccountRecord;
pub use self::rich::{Carried, CarriedPreview};
pub use wasap_whatsapp_sim::MediaKind;

/// The engine a test runs wasap on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineUnderTest {
    /// `--engine sim`: WhatsApp simulated inside wasap.
    Sim,
    /// `--engine whatsapp`: whatsapp-rust against the loopback simulator.
    Real,
}

/// Makes each `async fn NAME(engine: EngineUnderTest)` into a module `NAME`
/// with two tests, `NAME::sim` and `NAME::real` (filter with `::real`).
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sim() {
                super::$name($crate::engines::EngineUnderTest::Sim).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn real() {
                super::$name($crate::engines::EngineUnderTest::Real).await
            }
        }
    )+};
}

/// WhatsApp as one test sees it, for the life of the test.
pub struct Whatsapp {
    engine: EngineUnderTest,
    /// The loopback WhatsApp of the real engine.
    simulator: Option<Arc<Simulator>>,
}

impl Whatsapp {
    /// Starts WhatsApp for `engine`: nothing to start for the sim engine, a
    /// simulator on a free loopback port for the real one.
    pub async fn start(engine: EngineUnderTest) -> Whatsapp {
        let simulator = match engine {
            EngineUnderTest::Sim => None,
            EngineUnderTest::Real => Some(Arc::new(Simulator::start().await.expect("the simulator starts"))),
        };
        Whatsapp { engine, simulator }
    }

    pub fn engine(&self) -> EngineUnderTest {
        self.engine
    }

    pub fn is_real(&self) -> bool {
        self.engine == EngineUnderTest::Real
    }

    /// The loopback simulator (real engine only).
    pub fn simulator(&self) -> Option<&Simulator> {
        self.simulator.as_deref()
    }

    /// The black-box tests' configuration ([`sim_config`]) on this engine.
    pub fn config(&self, db: &TestDb, data_dir: &std::path::Path) -> wasap::Config {
        let mut config = sim_config(db, data_dir);
        if let Some(simulator) = &self.simulator {
            config.engine = wasap::engine::EngineKind::Whatsapp;
            config.whatsapp_url = Some(simulator.ws_url());
        }
        config
    }

    /// Starts a server on this engine with [`Whatsapp::config`].
    pub async fn server(&self, db: &TestDb, data_dir: &std::path::Path) -> TestServer {
        TestServer::start_with(self.config(db, data_dir)).await
    }

    /// Creates instance `id` on `server`, links it as `phone` (push name
    /// "Shop") and waits until it is online and its events are through the
    /// plugins (see [`crate::Api::plugins_settled`]); its token.
    pub async fn online(&self, server: &mut TestServer, id: &str, phone: &str) -> String {
        let (status, created) = server
            .admin()
            .post("/api/instances", json!({ "instance_id": id }))
            .await;
        assert_eq!(status, 201, "{created}");
        self.driver(server, id).scan(phone, "Shop").await;
        server.events.wait_status(id, "online").await;
        server.admin().plugins_settled().await;
        created["token"].as_str().expect("the instance's token").to_owned()
    }

    /// WhatsApp's side of instance `id` on `server`.
    pub fn driver(&self, server: &TestServer, id: &str) -> Driver {
        Driver {
            api: server.admin(),
            simulator: self.simulator.clone(),
            id: id.to_owned(),
        }
    }

    /// Asserts the simulator answered every stanza the client sent it (an
    /// unanswered one would have stalled the client); nothing to check on sim.
    pub fn assert_all_handled(&self) {
        assert_eq!(
            self.unhandled(),
            Vec::<String>::new(),
            "stanzas the simulator did not handle"
        );
    }

    /// What the simulator did not handle so far (a retry receipt for a
    /// message the client failed to decrypt, say); none on sim.
    pub fn unhandled(&self) -> Vec<String> {
        self.simulator.as_ref().map(|s| s.unhandled()).unwrap_or_default()
    }
}

/// A message an instance sent, as its recipient got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentText {
    pub message_id: String,
    pub text: Option<String>,
    /// The users the text mentions (JIDs).
    pub mentions: Vec<String>,
}

/// WhatsApp's side of one instance: the phone that links it, the contacts
/// that write to it and read what it sends, and its connection.
pub struct Driver {
    api: Api,
    simulator: Option<Arc<Simulator>>,
    id: String,
}

impl Driver {
    fn route(&self, tail: &str) -> String {
        format!("/sim/instances/{}/{tail}", self.id)
    }

    /// The instance as the API shows it.
    async fn instance(&self) -> Value {
        let (status, body) = self.api.get(&format!("/api/instances/{}", self.id)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The account and device the instance is linked as (from its `jid`,
    /// `user:device@s.whatsapp.net`).
    async fn linked_device(&self) -> (String, u16) {
        let instance = self.instance().await;
        let jid = instance["jid"]
            .as_str()
            .unwrap_or_else(|| panic!("{} is not linked: {instance}", self.id));
        let user = jid.split('@').next().unwrap_or_default();
        let (user, device) = user.split_once(':').unwrap_or((user, "0"));
        (user.to_owned(), device.parse().expect("a device number"))
    }

    /// The phone `phone` (its account named `push_name`) scans the
    /// instance's current QR code, read through the API as a user would.
    pub async fn scan(&self, phone: &str, push_name: &str) {
        let (status, qr) = self.api.get(&format!("/api/instances/{}/qr", self.id)).await;
        assert_eq!(status, 200, "{qr}");
        let qr = qr["qr"].as_str().expect("the QR code").to_owned();
        match &self.simulator {
            None => {
                let (status, answer) = self
                    .api
                    .post(&self.route("scan"), json!({ "phone": phone, "push_name": push_name }))
                    .await;
                assert_eq!(status, 200, "{answer}");
            }
            Some(simulator) => {
                simulator.contact(phone).set_push_name(push_name);
                simulator
                    .phone(phone)
                    .scan(&qr)
                    .await
                    .expect("the phone links the instance");
            }
        }
    }

    /// The phone `phone` types the pairing `code` the instance got for it.
    pub async fn enter_code(&self, phone: &str, code: &str) {
        match &self.simulator {
            None => {
                let (status, answer) = self.api.post(&self.route("scan"), json!({ "phone": phone })).await;
                assert_eq!(status, 200, "{answer}");
            }
            Some(simulator) => {
                let phone = simulator.phone(phone);
                phone
                    .wait_code_request(WAIT)
                    .await
                    .expect("the instance asked for a code");
                phone
                    .pair_code(code)
                    .await
                    .expect("the phone links the instance by code");
            }
        }
    }

    /// Makes `phone` an account (`on_whatsapp`) or a number without one.
    pub async fn contact(&self, phone: &str, on_whatsapp: bool) {
        match &self.simulator {
            None => {
                let (status, answer) = self
                    .api
                    .post("/sim/contacts", json!({ "phone": phone, "on_whatsapp": on_whatsapp }))
                    .await;
                assert_eq!(status, 200, "{answer}");
            }
            // An account the simulator does not know has no WhatsApp.
            Some(simulator) if on_whatsapp => drop(simulator.contact(phone)),
            Some(_) => {}
        }
    }

    /// Contact `from` (named `push_name`) sends the instance `text`; the message's id.
    pub async fn text_from(&self, from: &str, push_name: &str, text: &str) -> String {
        match &self.simulator {
            None => {
                let body = json!({ "from": from, "push_name": push_name, "text": text });
                let (status, answer) = self.api.post(&self.route("incoming"), body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
                answer["message_id"].as_str().expect("the message id").to_owned()
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(from);
                contact.set_push_name(push_name);
                contact.send_text(&user, text).await.expect("the contact sends")
            }
        }
    }

    /// Contact `from` answers the message `quoted_id` (whose text was
    /// `quoted_text`) with `text`, quoting it; the answer's id.
    pub async fn reply_from(
        &self,
        from: &str,
        push_name: &str,
        text: &str,
        quoted_id: &str,
        quoted_text: &str,
    ) -> String {
        match &self.simulator {
            None => {
                let body = json!({ "from": from, "push_name": push_name, "text": text,
                                   "reply_to": { "id": quoted_id, "text": quoted_text } });
                let (status, answer) = self.api.post(&self.route("incoming"), body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
                answer["message_id"].as_str().expect("the message id").to_owned()
            }
            Some(simulator) => {
                use whatsapp_rust::waproto::buffa::MessageField;
                use whatsapp_rust::waproto::whatsapp as wa;
                let (user, _) = self.linked_device().await;
                let contact = simulator.contact(from);
                contact.set_push_name(push_name);
                // How a phone quotes: the quoted message's id, author and content.
                let message = wa::Message {
                    extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                        text: Some(text.to_owned()),
                        context_info: MessageField::some(wa::ContextInfo {
                            stanza_id: Some(quoted_id.to_owned()),
                            participant: Some(format!("{from}@s.whatsapp.net")),
                            quoted_message: MessageField::some(wa::Message {
                                conversation: Some(quoted_text.to_owned()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                contact.send_message(&user, &message).await.expect("the contact sends")
            }
        }
    }

    /// What contact `to` received from the instance, once there are at least
    /// `min` messages (waiting up to [`WAIT`]), decrypted on the real engine.
    pub async fn sent_to(&self, to: &str, min: usize) -> Vec<SentText> {
        match &self.simulator {
            None => {
                let (status, body) = self
                    .api
                    .get(&self.route(&format!("sent?min={min}&wait_ms={}", WAIT.as_millis())))
                    .await;
                assert_eq!(status, 200, "{body}");
                let to_jid = format!("{to}@s.whatsapp.net");
                body["messages"]
                    .as_array()
                    .expect("the sent messages")
                    .iter()
                    .filter(|m| m["to"] == to_jid.as_str())
                    .map(|m| SentText {
                        message_id: m["message_id"].as_str().unwrap_or_default().to_owned(),
                        text: m["text"].as_str().map(str::to_owned),
                        mentions: m["mentions"]
                            .as_array()
                            .map(|all| all.iter().filter_map(|j| j.as_str().map(str::to_owned)).collect())
                            .unwrap_or_default(),
                    })
                    .collect()
            }
            Some(simulator) => simulator
                .contact(to)
                .wait_received_count(min, WAIT)
                .await
                .unwrap_or_else(|e| panic!("{to}: {e}; received {:#?}", simulator.contact(to).received()))
                .into_iter()
                .map(|m| SentText {
                    mentions: m
                        .message
                        .extended_text_message
                        .as_option()
                        .and_then(|t| t.context_info.as_option())
                        .map(|c| c.mentioned_jid.clone())
                        .unwrap_or_default(),
                    message_id: m.id,
                    text: m.text,
                })
                .collect(),
        }
    }

    /// The connection drops, as on a network failure; the device stays linked.
    pub async fn disconnect(&self) {
        match &self.simulator {
            None => {
                let (status, answer) = self.api.post_empty(&self.route("disconnect")).await;
                assert_eq!(status, 200, "{answer}");
            }
            Some(simulator) => {
                let (user, device) = self.linked_device().await;
                assert!(
                    simulator.drop_connection(&user, device),
                    "{user}:{device} was not connected"
                );
            }
        }
    }

    /// WhatsApp bans the instance's account for `seconds` and cuts its
    /// connection; a part of the reason the engine will report.
    pub async fn ban(&self, seconds: u64) -> &'static str {
        match &self.simulator {
            None => {
                let (status, answer) = self
                    .api
                    .post(
                        &self.route("disconnect"),
                        json!({ "reason": "temporary_ban", "ban_seconds": seconds }),
                    )
                    .await;
                assert_eq!(status, 200, "{answer}");
                "simulated temporary ban"
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                simulator.ban(&user, seconds, 101, "sent to too many strangers");
                // whatsapp-rust names the code and adds WhatsApp's message.
                "101: "
            }
        }
    }

    /// The phone removes the instance from its linked devices.
    pub async fn unlink(&self) {
        match &self.simulator {
            None => {
                let (status, answer) = self.api.post_empty(&self.route("unlink")).await;
                assert_eq!(status, 200, "{answer}");
            }
            Some(simulator) => {
                let (user, device) = self.linked_device().await;
                simulator.unlink(&user, device).expect("the phone unlinks the device");
            }
        }
    }

    /// Waits until WhatsApp has heard at least `count` "available" presences
    /// from the instance.
    pub async fn wait_presences(&self, count: usize) {
        match &self.simulator {
            None => {
                // The sim engine has no event for it: poll its phone's count.
                let deadline = tokio::time::Instant::now() + WAIT;
                loop {
                    let (_, sim) = self.api.get(&format!("/sim/instances/{}", self.id)).await;
                    let heard = sim["presence_announcements"].as_u64().unwrap_or(0);
                    if heard >= count as u64 {
                        return;
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "heard {heard} of {count} presences: {sim}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let from_instance = |p: &wasap_whatsapp_sim::PresenceSent| {
                    p.kind == "available" && p.from.split(['@', ':']).next() == Some(user.as_str())
                };
                if let Err(e) = simulator.wait_presences(WAIT, count, from_instance).await {
                    panic!("{e}; presences: {:#?}", simulator.presences());
                }
            }
        }
    }
}
