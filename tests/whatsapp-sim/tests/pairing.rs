//! Pairing and logging in: the real client against the simulator.

use std::time::Instant;

use crate::support::{TestClient, WAIT, new_store};
use wasap_whatsapp_sim::{HandshakePattern, Simulator};

const PHONE: &str = "15550001111";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_by_qr_then_logs_in_again_with_ik() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let store = new_store();

    let client = TestClient::start(&sim, store.clone()).await;
    let (qr, _) = client.qr(0).await;
    let linked = sim.phone(PHONE).scan(&qr).await.expect("the phone links the client");
    assert_eq!(linked.user, PHONE);
    client.connected(0).await;
    sim.wait_online(PHONE, linked.device, WAIT).await.unwrap();
    // The first login after the scan is a full XX handshake. Under load the
    // client may already have dropped that connection and resumed with IK,
    // so look at the login history, not at the connection open now.
    let after_pairing = sim.logins(PHONE, linked.device);
    assert_eq!(after_pairing.first(), Some(&HandshakePattern::Xx), "{after_pairing:?}");
    let pn = client.client.pn().expect("the client knows its number");
    assert_eq!(pn.user, PHONE);
    assert_eq!(pn.device, linked.device);
    // The push name came from the phone's app state (critical_block).
    assert_eq!(client.client.push_name(), format!("Sim {PHONE}"));
    client.stop().await;
    sim.wait_offline(PHONE, linked.device, WAIT).await.unwrap();

    // Same store, new client: no QR, an IK resume.
    let again = TestClient::start(&sim, store).await;
    again.connected(0).await;
    assert!(
        !again
            .events
            .any(|e| matches!(e, whatsapp_rust::types::events::Event::PairingQrCode(_)))
    );
    assert_eq!(
        sim.wait_online(PHONE, linked.device, WAIT).await.unwrap(),
        HandshakePattern::Ik
    );
    let logins = sim.logins(PHONE, linked.device);
    assert!(
        logins[after_pairing.len()..].iter().all(|p| *p == HandshakePattern::Ik),
        "every login of the paired store resumes with IK: {logins:?}"
    );
    again.stop().await;

    assert_eq!(sim.unhandled(), Vec::<String>::new());
    eprintln!("pairs_by_qr_then_logs_in_again_with_ik: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_by_phone_code() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let client = TestClient::start_with_code(&sim, new_store(), PHONE).await;
    let (code, _) = client
        .events
        .wait(0, "a pairing code", |e| match e {
            whatsapp_rust::types::events::Event::PairingCode(c) => Some(c.code.clone()),
            _ => None,
        })
        .await;
    let phone = sim.phone(PHONE);
    phone.wait_code_request(WAIT).await.unwrap();
    let linked = phone
        .pair_code(&code)
        .await
        .expect("the phone links the client by code");
    client.connected(0).await;
    sim.wait_online(PHONE, linked.device, WAIT).await.unwrap();
    // The first login after linking (not a reconnect that may follow it).
    assert_eq!(sim.logins(PHONE, linked.device).first(), Some(&HandshakePattern::Xx));
    assert_eq!(client.client.pn().unwrap().device, linked.device);
    client.stop().await;

    // A wrong code fails on the phone and links nothing.
    let other = TestClient::start_with_code(&sim, new_store(), "15550003333").await;
    let phone = sim.phone("15550003333");
    phone.wait_code_request(WAIT).await.unwrap();
    assert!(phone.pair_code("AAAAAAAA").await.is_err());
    assert!(phone.devices().is_empty());
    other.stop().await;

    assert_eq!(sim.unhandled(), Vec::<String>::new());
    eprintln!("pairs_by_phone_code: {:?}", started.elapsed());
}
