//! A live message is safe from a crash only once its buffered copy is
//! written: until then WhatsApp's redelivery is all there is, and it can be
//! decrypted only if the Signal ratchet it advanced was not saved. These
//! tests kill the server inside that window, over and over, on the real
//! engine (the sim engine has no ratchet).
//!
//! whatsapp-rust 0.7 saved the ratchet in a flush 25 ms after a live message
//! without waiting for messages between their decrypt and their row; a kill
//! there lost the message for good (vendor/whatsapp-rust/WASAP-PATCH.md).
//! Unslowed, that window is too short to hit on purpose, so the server runs
//! with its pending-row writes slowed to 100 ms (a fault of test builds,
//! `wasap::store::device::slow_pending_rows`): a kill at a random moment
//! lands in some message's window most of the time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use wasap::store::device::slow_pending_rows;
use wasap_tests::child_server::ChildServer;
use wasap_tests::engines::{EngineUnderTest, Whatsapp};
use wasap_tests::webhook_receiver::{Received, WebhookReceiver};
use wasap_tests::{TestDb, data_dir};

use crate::child;
use crate::lossless_inbound::{CONTACT, Lookout, all_delivered_after, burst, child_flags, ids_by_number, online};

/// Kills: with one, a run that misses the window (one kill in four does)
/// would pass without the fix.
const KILLS: usize = 3;
/// Messages sent in each round: those before its kill come live, the rest
/// wait at WhatsApp for the next server.
const PER_ROUND: usize = 40;
/// Messages of a round that reach the webhook before its kill is armed.
const BEFORE_THE_KILL: usize = 5;
/// How long each pending-row write waits: four coalesced flush windows.
const SLOW_ROWS_MS: &str = "100";

/// The numbers of the messages `received` so far.
fn numbers(received: &[Received]) -> BTreeSet<usize> {
    ids_by_number(received).keys().copied().collect()
}

/// Takes the receiver's requests into `all` until `done` says they are
/// enough; panics, naming `what`, if none comes for a while first.
async fn take_until(
    receiver: &mut WebhookReceiver,
    all: &mut Vec<Received>,
    what: &str,
    done: impl Fn(&BTreeSet<usize>) -> bool,
) {
    if !receiver.extend_until(all, |so_far| done(&numbers(so_far))).await {
        panic!("timed out waiting for {what}; arrived: {:?}", numbers(all));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_while_decrypted_messages_wait_for_their_rows_lose_none() {
    let whatsapp = Whatsapp::start(EngineUnderTest::Real).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let flags = child_flags(&whatsapp, &db, dir.path());
    let slow = [(slow_pending_rows::ENV, SLOW_ROWS_MS)];
    let mut server: ChildServer = child::start_with_env(&flags, &slow).await;
    let driver = online(&whatsapp, &server, &receiver).await;
    let sender = driver.text_sender(CONTACT).await;

    let mut arrived: Vec<Received> = Vec::new();
    let (mut sent, mut maybe) = (BTreeSet::new(), BTreeSet::new());
    let mut killed = Vec::new();
    for round in 0..KILLS {
        // Everything sent before has arrived, so this server is past its
        // offline drain (whose flushes were always safe): this round's
        // messages come live.
        let lookout = Lookout::of_children(&whatsapp, &server, killed.clone());
        all_delivered_after(&mut receiver, &mut arrived, lookout, &sent, &maybe).await;
        let range = round * PER_ROUND..(round + 1) * PER_ROUND;
        let sending = tokio::spawn({
            let (sender, range) = (sender.clone(), range.clone());
            async move { burst(&sender, range, 1, Arc::default()).await }
        });
        take_until(&mut receiver, &mut arrived, "this round's first messages", |n| {
            n.range(range.clone()).count() >= BEFORE_THE_KILL
        })
        .await;
        // Not a wait for anything: the kill's moment is drawn at random over
        // one slowed row write, so it falls anywhere in a message's window.
        tokio::time::sleep(Duration::from_micros(rand::random_range(0..100_000))).await;
        killed.push(server.log());
        server.kill();
        let (round_sent, round_maybe) = sending.await.expect("the round's burst");
        assert!(
            round_sent.len() >= BEFORE_THE_KILL,
            "round {round}: WhatsApp took {round_sent:?}"
        );
        sent.extend(round_sent);
        maybe.extend(round_maybe);
        server = child::start_with_env(&flags, &slow).await;
    }

    let lookout = Lookout::of_children(&whatsapp, &server, killed);
    let delivered = all_delivered_after(&mut receiver, &mut arrived, lookout, &sent, &maybe).await;
    assert!(delivered.len() >= sent.len(), "every message WhatsApp took arrived");
    server.kill();
    whatsapp.assert_all_handled();
}
