//! Test builds only (`test-whatsapp-server`): a fault that slows the writes
//! of whatsapp-rust's pending-inbound rows, so a test can kill the server
//! while a decrypted message has no durable row yet.
//!
//! That moment is where whatsapp-rust 0.7 lost messages: its live coalesced
//! Signal flush could persist a message's ratchet advance before the row, and
//! a crash then left WhatsApp's redelivery undecryptable with nothing to
//! replay (vendor/whatsapp-rust/WASAP-PATCH.md). Unslowed, the window is a
//! fraction of a millisecond; slowed, a kill at a random moment lands in it
//! most of the time, so the regression test
//! (`tests/server/rowless_ratchet.rs`) fails when the fix is gone.

use std::sync::OnceLock;
use std::time::Duration;

/// Milliseconds each pending-inbound write waits before it starts; read once.
pub const ENV: &str = "WASAP_TEST_SLOW_PENDING_ROWS_MS";

/// Waits as long as [`ENV`] says (not at all when it is unset).
pub(super) async fn wait() {
    static DELAY: OnceLock<Option<Duration>> = OnceLock::new();
    let delay = DELAY.get_or_init(|| {
        let ms = std::env::var(ENV).ok()?.parse().ok()?;
        tracing::warn!("test fault: every pending-inbound row waits {ms} ms before it is written ({ENV})");
        Some(Duration::from_millis(ms))
    });
    if let Some(delay) = delay {
        tokio::time::sleep(*delay).await;
    }
}
