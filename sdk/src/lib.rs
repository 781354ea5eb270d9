//! The Rust SDK for wasap plugins.
//!
//! A plugin is a WebAssembly component that the wasap host calls for every event its
//! manifest subscribes to. It sees the canonical [`Event`] model (re-exported from
//! `wasap-events`, with its `sudevwa` and `gowa` formats in [`events`]) and answers with an
//! [`Outcome`]: a verdict (continue, drop, or replace the event) plus actions (send a
//! message at once or through the instance's send queue, react to, edit, revoke or mark read an earlier one, show a chat state, change a
//! group's participants, block a contact, decline a call, queue a webhook, publish a
//! WebSocket frame). It can use the host's [`kv`]
//! store, [`clock`], [`http`] and [`log`], each only when its manifest grants it.
//!
//! ```
//! use wasap_plugin::{Content, Event, EventKind, Outcome, Plugin, export_plugin};
//!
//! /// Answers "pong" to "ping".
//! struct Pong;
//!
//! impl Plugin for Pong {
//!     fn init(_config: &str) -> Result<Self, String> {
//!         Ok(Pong)
//!     }
//!
//!     fn handle(&mut self, event: Event) -> Outcome {
//!         match &event.kind {
//!             EventKind::Message(message) if message.text_or_caption() == Some("ping") => {
//!                 Outcome::cont().reply(message, "pong")
//!             }
//!             _ => Outcome::cont(),
//!         }
//!     }
//! }
//!
//! export_plugin!(Pong);
//!
//! # use wasap_plugin::testing;
//! let ping = testing::message_event(testing::text_message("62811@s.whatsapp.net", "ping"));
//! let outcomes = testing::run::<Pong>("{}", vec![ping]).unwrap();
//! assert_eq!(outcomes[0].actions.len(), 1);
//! ```
//!
//! Build it into a component with `wasap-plugin-build` (see the SDK's README).

#![deny(missing_docs)]

/// The code wit-bindgen generates from `wit/`: the raw types and imports, and the export
/// glue that [`export_plugin!`] uses. Plugins use the wrappers in this crate instead.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "wasap:plugin/plugin@0.3.0",
        // The export macro is called from plugin crates, through `export_plugin!`.
        pub_export_macro: true,
        default_bindings_module: "wasap_plugin::bindings",
        additional_derives: [PartialEq],
    });
}

pub mod clock;
mod convert;
pub mod http;
pub mod kv;
pub mod log;
mod outcome;
pub mod testing;

/// The canonical event model and its payload formats (crate `wasap-events`).
pub use wasap_events as events;
pub use wasap_events::{
    Content, Event, EventKind, GroupAction, GroupParticipants, InstanceStatus, Media, Message, Quoted, Receipt,
    ReceiptType, Undecryptable,
};

pub use outcome::{
    Action, BlockContact, CardToSend, ChangeParticipants, Channel, ChatState, DeleteForMe, Edit, Forward,
    GivenLinkPreview, LinkPreview, MarkRead, MediaType, Outcome, ParticipantChange, Publish, QueuedMessage, QueuedSend,
    React, RejectCall, Revoke, SendContacts, SendLocation, SendMedia, SendPoll, SendText, SetChatState, Verdict,
    WebhookRequest, WebhookTarget,
};

/// A plugin: built once from its configuration, then handed every event it subscribes to.
///
/// The host keeps one plugin value per loaded plugin and calls it one event at a time, so
/// state in `self` lasts from event to event (until the plugin is reloaded; state that
/// must survive a reload or a restart belongs in [`kv`]).
pub trait Plugin: Sized + 'static {
    /// Builds the plugin from its manifest's `config` table, given as a JSON object
    /// (see [`parse_config`]). An error keeps the plugin from loading; its text is shown
    /// to the user.
    fn init(config: &str) -> Result<Self, String>;

    /// Handles one event. Panicking counts as a failure of this event, and the
    /// manifest's failure policy applies.
    fn handle(&mut self, event: Event) -> Outcome;
}

/// Parses the JSON config given to [`Plugin::init`] into `T`, with an error message that
/// says what is wrong with it.
pub fn parse_config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T, String> {
    serde_json::from_str(config).map_err(|err| format!("invalid config: {err}"))
}

/// Sends panic messages to the host log before the plugin traps, so a failing plugin
/// says why. Call it from [`Plugin::init`]; it needs the `log` capability, which is why
/// it is not done for every plugin.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        log::log(log::Level::Error, &format!("panic: {info}"));
    }));
}

/// Exports a [`Plugin`] type as the component's `init` and `handle-event`.
///
/// Use it once per plugin crate, at the top level: `export_plugin!(MyPlugin);`. It expands
/// to nothing on native targets, so the crate's unit tests build without the export glue.
#[macro_export]
#[rustfmt::skip] // rustfmt does not settle on wit-bindgen's `export!(... with_types_in ...)`.
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            ::std::thread_local! {
                // Components are single-threaded: this is the one plugin value.
                static PLUGIN: ::core::cell::RefCell<::core::option::Option<$plugin>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct WasapPluginExport;

            impl $crate::bindings::Guest for WasapPluginExport {
                fn init(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    let plugin = <$plugin as $crate::Plugin>::init(&config)?;
                    PLUGIN.with(|cell| *cell.borrow_mut() = ::core::option::Option::Some(plugin));
                    ::core::result::Result::Ok(())
                }

                fn handle_event(event: $crate::bindings::Event) -> $crate::bindings::Outcome {
                    PLUGIN.with(|cell| {
                        let mut plugin = cell.borrow_mut();
                        let plugin = plugin
                            .as_mut()
                            .expect("the host calls init before handle-event");
                        $crate::__private::handle_wit(plugin, event)
                    })
                }
            }

    $crate::bindings::export!(WasapPluginExport with_types_in $crate::bindings);
        };
    };
}

// The README's example compiles, as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// What [`export_plugin!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    use crate::{Plugin, bindings};

    /// One call of `handle-event`: WIT event in, WIT outcome out.
    pub fn handle_wit<P: Plugin>(plugin: &mut P, event: bindings::Event) -> bindings::Outcome {
        plugin.handle(event.into()).into()
    }
}
