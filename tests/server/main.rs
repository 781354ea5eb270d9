//! Black-box tests of the server: a real `wasap` server on a loopback port,
//! real HTTP requests, on the database `wasap_tests::TestDb` selects.

mod builtin_plugins;
mod child;
mod dashboard;
mod inbound;
mod instances;
mod lifecycle_faults;
mod media_url;
mod messaging;
mod operations;
mod plugins;
mod real_engine;
mod startup;
mod system_events;
mod webhooks;
mod websockets;
