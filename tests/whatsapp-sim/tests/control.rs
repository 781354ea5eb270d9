//! The standalone simulator's HTTP control API, driven the way a person
//! would: pair by pasting the QR payload, send from a contact, read what
//! the contact received, unlink.

use std::sync::Arc;
use std::time::Instant;

use crate::support::{TestClient, WAIT, http, new_store};
use serde_json::json;
use wasap_whatsapp_sim::{Simulator, control};
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::Event;
use whatsapp_rust::waproto::whatsapp as wa;

const PHONE: &str = "15550001111";
const ALICE: &str = "15550002222";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_pairs_sends_and_unlinks() {
    let started = Instant::now();
    let sim = Arc::new(Simulator::start().await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    tokio::spawn(control::serve(sim.clone(), listener));

    let (status, info) = http(api, "GET", "/", None).await;
    assert_eq!(status, 200);
    assert_eq!(info["ws_url"], sim.ws_url());

    let client = TestClient::start(&sim, new_store()).await;
    let (qr, _) = client.qr(0).await;
    let (status, linked) = http(api, "POST", "/pair", Some(json!({ "phone": PHONE, "qr": qr }))).await;
    assert_eq!(status, 200, "{linked}");
    let device = linked["device"].as_u64().unwrap() as u16;
    client.connected(0).await;
    let (_, devices) = http(api, "GET", &format!("/devices/{PHONE}"), None).await;
    assert_eq!(devices.as_array().unwrap().len(), 1);

    let mark = client.events.len();
    let (status, sent) = http(
        api,
        "POST",
        "/send",
        Some(json!({ "from": ALICE, "to": PHONE, "text": "via http" })),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    client.text(mark, "via http").await;

    let to: Jid = format!("{ALICE}@s.whatsapp.net").parse().unwrap();
    let reply = wa::Message {
        conversation: Some("answer over http".into()),
        ..Default::default()
    };
    client.client.send_message(to, reply).await.unwrap();
    sim.contact(ALICE).wait_text("answer over http", WAIT).await.unwrap();
    let (_, received) = http(api, "GET", &format!("/received/{ALICE}"), None).await;
    assert!(
        received
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == "answer over http"),
        "{received}"
    );

    let (status, bad) = http(api, "POST", "/pair", Some(json!({ "phone": PHONE, "qr": "not a qr" }))).await;
    assert_eq!(status, 400, "{bad}");

    let mark = client.events.len();
    let (status, _) = http(
        api,
        "POST",
        "/unlink",
        Some(json!({ "phone": PHONE, "device": device })),
    )
    .await;
    assert_eq!(status, 200);
    client
        .events
        .wait(mark, "LoggedOut", |e| matches!(e, Event::LoggedOut(_)).then_some(()))
        .await;
    let (_, unhandled) = http(api, "GET", "/unhandled", None).await;
    assert_eq!(unhandled, json!([]));
    client.stop().await;
    eprintln!("the_control_api_pairs_sends_and_unlinks: {:?}", started.elapsed());
}
