//! The store conformance suite: the whatsapp-rust device store, the
//! plugins' key-value store, the webhooks with their delivery outbox, the
//! two migration histories, and how SQLite connections share the file.
//!
//! Runs against whichever database `wasap_tests::TestDb` selects (SQLite by
//! default, PostgreSQL with `WASAP_TEST_DATABASE_URL`), so CI runs it twice.

mod conformance;
mod fixtures;
mod journal;
mod journal_upgrade;
mod message_keys;
mod migrations;
mod plugin_kv;
mod polls;
mod send_jobs;
mod signal_session;
mod sqlite_writes;
mod webhooks;
