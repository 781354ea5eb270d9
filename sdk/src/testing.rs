//! Helpers for testing plugins natively with `cargo test`, without a host.
//!
//! On native targets the host imports are replaced by test doubles kept per thread (each
//! Rust test runs on its own thread, so tests do not see each other's state): an
//! in-memory [`kv`](crate::kv) store, a [`clock`](crate::clock) that a test can fix, a
//! [`log`](crate::log) that records lines, and [`http`](crate::http) answered by a
//! handler the test installs. [`run`] drives a plugin the way the host does.

use wasap_events::{Content, Event, EventKind, Message};

use crate::{Outcome, Plugin};

/// A text message from `sender` in a one-to-one chat, as an instance `test` would receive it.
pub fn text_message(sender: &str, text: &str) -> Message {
    Message {
        id: "3EB0TEST".to_owned(),
        chat: sender.to_owned(),
        sender: sender.to_owned(),
        sender_lid: None,
        sender_phone: None,
        chat_lid: None,
        chat_phone: None,
        push_name: Some("Tester".to_owned()),
        from_me: false,
        is_group: false,
        timestamp: 1_765_202_224,
        content: Content::Text { text: text.to_owned() },
        quoted: None,
        forwarded: false,
        view_once: false,
        ephemeral: None,
    }
}

/// An event of instance `test` carrying `message`.
pub fn message_event(message: Message) -> Event {
    Event {
        id: "evt-test".to_owned(),
        instance_id: "test".to_owned(),
        at_us: message.timestamp * 1_000_000,
        kind: EventKind::Message(message),
    }
}

/// Initialises `P` with `config` and hands it each event in turn, as the host would
/// (through the same conversions to and from the WIT types), returning the outcomes.
pub fn run<P: Plugin>(config: &str, events: Vec<Event>) -> Result<Vec<Outcome>, String> {
    let mut plugin = P::init(config)?;
    Ok(events
        .into_iter()
        .map(|event| crate::__private::handle_wit(&mut plugin, event.into()).into())
        .collect())
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::*;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use crate::http::{Error as HttpError, Request, Response};
    use crate::log::Level;

    type HttpHandler = Box<dyn FnMut(&Request) -> Result<Response, HttpError>>;

    #[derive(Default)]
    struct State {
        kv: BTreeMap<String, Vec<u8>>,
        now_us: Option<i64>,
        logs: Vec<(Level, String)>,
        http: Option<HttpHandler>,
    }

    thread_local! {
        static STATE: RefCell<State> = RefCell::new(State::default());
    }

    fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
        STATE.with(|state| f(&mut state.borrow_mut()))
    }

    /// Clears this thread's store, clock, logs and HTTP handler.
    pub fn reset() {
        with(|state| *state = State::default());
    }

    /// Fixes what [`crate::clock`] reads on this thread, in unix microseconds.
    pub fn set_now_us(now_us: i64) {
        with(|state| state.now_us = Some(now_us));
    }

    /// The lines logged on this thread so far.
    pub fn logs() -> Vec<(Level, String)> {
        with(|state| state.logs.clone())
    }

    /// Answers [`crate::http::fetch`] on this thread with `handler`.
    pub fn mock_http(handler: impl FnMut(&Request) -> Result<Response, HttpError> + 'static) {
        with(|state| state.http = Some(Box::new(handler)));
    }

    pub(crate) mod kv {
        use super::with;
        use crate::kv::Error;

        pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
            check(key)?;
            Ok(with(|state| state.kv.get(key).cloned()))
        }

        pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
            check(key)?;
            with(|state| state.kv.insert(key.to_owned(), value.to_vec()));
            Ok(())
        }

        pub fn delete(key: &str) -> Result<(), Error> {
            check(key)?;
            with(|state| state.kv.remove(key));
            Ok(())
        }

        pub fn list_keys(prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
            Ok(with(|state| {
                state
                    .kv
                    .range(prefix.to_owned()..)
                    .take_while(|(key, _)| key.starts_with(prefix))
                    .take(limit as usize)
                    .map(|(key, _)| key.clone())
                    .collect()
            }))
        }

        // The host refuses empty keys; so does the double, so tests catch it.
        fn check(key: &str) -> Result<(), Error> {
            if key.is_empty() { Err(Error::InvalidKey) } else { Ok(()) }
        }
    }

    pub(crate) mod clock {
        use super::with;

        pub fn now() -> i64 {
            with(|state| state.now_us).unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|elapsed| elapsed.as_micros() as i64)
                    .unwrap_or(0)
            })
        }
    }

    pub(crate) mod log {
        use super::with;
        use crate::log::Level;

        pub fn log(level: Level, message: &str) {
            eprintln!("[{level:?}] {message}");
            with(|state| state.logs.push((level, message.to_owned())));
        }
    }

    pub(crate) mod http {
        use super::with;
        use crate::http::{Error, Request, Response};

        pub fn fetch(request: &Request) -> Result<Response, Error> {
            // Take the handler out while it runs, so it may itself use the other doubles.
            let handler = with(|state| state.http.take());
            let Some(mut handler) = handler else {
                return Err(Error::NotAllowed(format!(
                    "no HTTP in native tests: install a handler with testing::mock_http ({})",
                    request.url
                )));
            };
            let response = handler(request);
            with(|state| {
                // Unless the handler installed a new one meanwhile.
                state.http.get_or_insert(handler);
            });
            response
        }
    }
}
