//! The store conformance suite: the whatsapp-rust device store and the
//! plugins' key-value store.
//!
//! Runs against whichever database `wasap_tests::TestDb` selects (SQLite by
//! default, PostgreSQL with `WASAP_TEST_DATABASE_URL`), so CI runs it twice.

mod conformance;
mod plugin_kv;
mod signal_session;
