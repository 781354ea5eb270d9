//! What the plugin host has handled stays handled across a restart (issue 18):
//! the journal's done marks (a watermark per instance) reach the database,
//! so a restarted server replays only what was not done, not the history.
//! Black-box, on both engines: a child server, `kill -9`, a restart on the
//! same database, and the server's own counters.

use std::collections::BTreeSet;
use std::sync::Arc;

use wasap_tests::child_server::ChildServer;
use wasap_tests::engines::{EngineUnderTest, Whatsapp};
use wasap_tests::webhook_receiver::WebhookReceiver;
use wasap_tests::{TestDb, WAIT, both_engines, data_dir};

use crate::child;
use crate::lossless_inbound::{
    CONTACT, INSTANCE, Lookout, all_delivered_after, burst, child_flags, concurrency, online, text,
};

/// Messages of the first run.
const FIRST: usize = 300;

/// Waits until every event `server` journalled is marked done in the database.
async fn all_done(server: &ChildServer) -> f64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let journalled = server.admin().metric("wasap_inbound_journalled_total").await;
        let done = server.admin().metric("wasap_inbound_done_total").await;
        if journalled >= FIRST as f64 && done >= journalled {
            return done;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{done} of {journalled} journalled events were marked done"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

both_engines!(handled_events_are_not_replayed_after_a_restart);

/// 300 messages reach the webhook through the built-in webhook plugin and are
/// marked done; `kill -9`, a restart on the same database, one more message.
/// The new server reads back from the journal at most that one message (it
/// may be journalled before the pipeline's first read), none of the 300.
async fn handled_events_are_not_replayed_after_a_restart(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let flags = child_flags(&whatsapp, &db, dir.path());
    let server = child::start(&flags).await;
    let driver = online(&whatsapp, &server, &receiver).await;
    let sender = driver.text_sender(CONTACT).await;
    let (sent, refused) = burst(&sender, 0..FIRST, concurrency(engine), Arc::default()).await;
    assert!(refused.is_empty(), "every message was taken: {} refused", refused.len());
    let mut so_far = Vec::new();
    all_delivered_after(
        &mut receiver,
        &mut so_far,
        Lookout::of_children(&whatsapp, &server, Vec::new()),
        &sent,
        &BTreeSet::new(),
    )
    .await;
    let done = all_done(&server).await;
    let first_log = server.log();

    let server = child::restart(server, &flags).await;
    let driver = whatsapp.child_driver(&server, INSTANCE);
    let sender = driver.text_sender(CONTACT).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    // Taken once the instance is back online (before that the sim engine's
    // route refuses it; the simulator keeps it for the login).
    while !sender.send(&text(FIRST)).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted instance never took a message"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut expected = sent;
    expected.insert(FIRST);
    all_delivered_after(
        &mut receiver,
        &mut so_far,
        Lookout::of_children(&whatsapp, &server, vec![first_log]),
        &expected,
        &BTreeSet::new(),
    )
    .await;
    let replayed = server.admin().metric("wasap_inbound_replayed_total").await;
    eprintln!("{engine:?}: {done} events done before the kill; {replayed} read back after the restart");
    assert!(
        replayed <= 1.0,
        "{replayed} events were read back from the journal after the restart: the done marks did not reach the database"
    );
    server.kill();
    whatsapp.assert_all_handled();
}
