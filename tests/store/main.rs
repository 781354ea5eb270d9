//! The whatsapp-rust device store conformance suite.
//!
//! Runs against whichever database `wasap_tests::TestDb` selects (SQLite by
//! default, PostgreSQL with `WASAP_TEST_DATABASE_URL`), so CI runs it twice.

mod conformance;
mod signal_session;
