//! A linked device's life on the simulator: drops and reconnects, offline
//! delivery, IK refused, unlink from the phone, logout from the client, and
//! number checks.

use std::time::Instant;

use crate::support::{TestClient, WAIT, paired};
use wasap_whatsapp_sim::{HandshakePattern, Simulator};
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::Event;

const PHONE: &str = "15550001111";
const ALICE: &str = "15550002222";

fn report(name: &str, started: Instant) {
    eprintln!("{name}: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_reconnects() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let (client, linked, _store) = paired(&sim, PHONE).await;
    let mark = client.events.len();
    assert!(sim.drop_connection(PHONE, linked.device));
    let (_, mark) = client
        .events
        .wait(mark, "Disconnected", |e| {
            matches!(e, Event::Disconnected(_)).then_some(())
        })
        .await;
    client.connected(mark).await;
    assert_eq!(
        sim.wait_online(PHONE, linked.device, WAIT).await.unwrap(),
        HandshakePattern::Ik
    );
    client.stop().await;
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    report("a_dropped_connection_reconnects", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_while_offline_arrive_at_the_next_login() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let (client, linked, store) = paired(&sim, PHONE).await;
    client.stop().await;
    sim.wait_offline(PHONE, linked.device, WAIT).await.unwrap();

    let alice = sim.contact(ALICE);
    let id = alice.send_text(PHONE, "while you were away").await.unwrap();
    assert_eq!(sim.pending(PHONE, linked.device), 1);

    let again = TestClient::start(&sim, store).await;
    let ((_, got), _) = again.text(0, "while you were away").await;
    assert_eq!(got, id);
    assert!(again.events.any(|e| matches!(e, Event::Messages(b)
        if b.iter().any(|m| m.info.id.as_str() == id && m.info.is_offline))));
    sim.wait_delivered(PHONE, linked.device, WAIT).await.unwrap();
    again.stop().await;
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    report("messages_sent_while_offline_arrive_at_the_next_login", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_message_is_delivered_again() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let (client, linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    // A first message sets the session up, so the redelivered one is a msg.
    alice.send_text(PHONE, "warm up").await.unwrap();
    client.text(0, "warm up").await;
    sim.wait_delivered(PHONE, linked.device, WAIT).await.unwrap();

    let mark = client.events.len();
    assert!(sim.drop_after_next_delivery(PHONE, linked.device));
    let id = alice.send_text(PHONE, "did you get this?").await.unwrap();
    // The client reconnects by itself and gets it (again); then it is acknowledged.
    let ((_, got), _) = client.text(mark, "did you get this?").await;
    assert_eq!(got, id);
    sim.wait_online(PHONE, linked.device, WAIT).await.unwrap();
    sim.wait_delivered(PHONE, linked.device, WAIT).await.unwrap();
    client.stop().await;
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    report("an_unacknowledged_message_is_delivered_again", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_ik_falls_back_to_xx() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let (client, linked, store) = paired(&sim, PHONE).await;
    client.stop().await;
    sim.wait_offline(PHONE, linked.device, WAIT).await.unwrap();

    sim.rotate_noise_key();
    let again = TestClient::start(&sim, store.clone()).await;
    again.connected(0).await;
    assert_eq!(
        sim.wait_online(PHONE, linked.device, WAIT).await.unwrap(),
        HandshakePattern::XxFallback
    );
    again.stop().await;
    sim.wait_offline(PHONE, linked.device, WAIT).await.unwrap();

    sim.refuse_ik(true);
    let third = TestClient::start(&sim, store).await;
    third.connected(0).await;
    assert_eq!(
        sim.wait_online(PHONE, linked.device, WAIT).await.unwrap(),
        HandshakePattern::XxFallback
    );
    third.stop().await;
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    report("a_refused_ik_falls_back_to_xx", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_from_the_phone_logs_the_client_out() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let (client, linked, store) = paired(&sim, PHONE).await;
    let mark = client.events.len();
    sim.phone(PHONE).unlink(linked.device).unwrap();
    client
        .events
        .wait(mark, "LoggedOut", |e| {
            matches!(e, Event::LoggedOut(l) if !l.on_connect).then_some(())
        })
        .await;
    sim.wait_offline(PHONE, linked.device, WAIT).await.unwrap();
    assert!(sim.phone(PHONE).devices().is_empty());
    client.stop().await;

    // The same credentials are refused at the next login.
    let again = TestClient::start(&sim, store).await;
    again
        .events
        .wait(0, "LoggedOut on connect", |e| {
            matches!(e, Event::LoggedOut(l) if l.on_connect).then_some(())
        })
        .await;
    again.stop().await;
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    report("unlinking_from_the_phone_logs_the_client_out", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_removes_the_device_and_a_new_pairing_works() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let (client, linked, _store) = paired(&sim, PHONE).await;
    client.client.logout().await;
    sim.wait_unlinked(PHONE, linked.device, WAIT).await.unwrap();
    client.stop().await;

    let (fresh, relinked, _) = paired(&sim, PHONE).await;
    assert_ne!(relinked.device, linked.device);
    assert_eq!(sim.phone(PHONE).devices().len(), 1);
    fresh.stop().await;
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    report("logging_out_removes_the_device_and_a_new_pairing_works", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn number_checks_answer_yes_and_no() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let (client, _linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    let nobody: Jid = "15559999999@s.whatsapp.net".parse().unwrap();
    let results = client
        .client
        .contacts()
        .is_on_whatsapp(&[alice.jid().parse().unwrap(), nobody])
        .await
        .expect("the check is answered");
    let on = |user: &str| results.iter().find(|r| r.jid.user == user).map(|r| r.is_registered);
    assert_eq!(on(ALICE), Some(true));
    assert_eq!(on("15559999999"), Some(false));
    client.stop().await;
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    report("number_checks_answer_yes_and_no", started);
}
