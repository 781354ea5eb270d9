//! Black-box tests of the server: a real `wasap` server on a loopback port,
//! real HTTP requests, on the database `wasap_tests::TestDb` selects.

mod builtin_plugins;
mod cert_guard;
mod child;
mod dashboard;
mod data_at_rest;
mod event_replay;
mod front_door;
mod inbound;
mod instances;
mod lifecycle_faults;
mod listen_traffic;
mod log_output;
mod lossless_inbound;
mod media_hardening;
mod media_presentations;
mod media_traffic;
mod media_url;
mod message_actions;
mod messaging;
mod operations;
mod places_and_cards;
mod plugin_actions;
mod plugin_hardening;
mod plugins;
mod real_engine;
mod startup;
mod system_events;
mod text_traffic;
mod webhooks;
mod websocket_caps;
mod websockets;
