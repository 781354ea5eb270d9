//! End-to-end encrypted text between the real client and simulated contacts.

use std::time::Instant;

use crate::support::{WAIT, paired};
use wasap_whatsapp_sim::{ReceiptKind, Simulator};
use whatsapp_rust::Jid;
use whatsapp_rust::waproto::whatsapp as wa;

const PHONE: &str = "15550001111";
const ALICE: &str = "15550002222";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_and_client_exchange_texts() {
    let started = Instant::now();
    let sim = Simulator::start().await.unwrap();
    let (client, linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    // Once its push name arrived the client announced itself available.
    let presence = sim.wait_presence(WAIT, |p| p.kind == "available").await.unwrap();
    assert_eq!(presence.from, linked.jid);
    assert_eq!(presence.name.as_deref(), Some("Sim 15550001111"));

    // In: pkmsg first, then msg on the same session.
    let mark = client.events.len();
    let first = alice.send_text(PHONE, "hello from alice").await.unwrap();
    let ((sender, id), mark) = client.text(mark, "hello from alice").await;
    assert_eq!(id, first);
    assert_eq!(sender.parse::<Jid>().unwrap().user, ALICE);
    alice.send_text(PHONE, "second, on the ratchet").await.unwrap();
    let (_, _) = client.text(mark, "second, on the ratchet").await;
    // The client acknowledged both with delivery receipts.
    alice
        .wait_receipt(WAIT, |r| r.ids.contains(&first) && r.kind == "delivery")
        .await
        .unwrap();

    // Out: the contact decrypts exactly what the client sent.
    let to: Jid = format!("{ALICE}@s.whatsapp.net").parse().unwrap();
    let message = wa::Message {
        conversation: Some("hi alice, from the client".into()),
        ..Default::default()
    };
    client
        .client
        .send_message(to.clone(), message)
        .await
        .expect("the send is acknowledged");
    let got = alice.wait_text("hi alice, from the client", WAIT).await.unwrap();
    assert_eq!(got.from, linked.jid);
    let message = wa::Message {
        conversation: Some("and a second one".into()),
        ..Default::default()
    };
    client.client.send_message(to, message).await.unwrap();
    alice.wait_text("and a second one", WAIT).await.unwrap();

    // A read receipt from the contact reaches the client.
    let mark = client.events.len();
    alice
        .send_receipt(PHONE, std::slice::from_ref(&got.id), ReceiptKind::Read)
        .unwrap();
    client
        .events
        .wait(mark, "a read receipt", |e| match e {
            whatsapp_rust::types::events::Event::Receipt(r) => {
                r.message_ids.iter().any(|m| m.as_str() == got.id).then_some(())
            }
            _ => None,
        })
        .await;

    assert_eq!(sim.unhandled(), Vec::<String>::new());
    sim.wait_delivered(PHONE, linked.device, WAIT)
        .await
        .expect("everything delivered is acknowledged");
    client.stop().await;
    eprintln!("contact_and_client_exchange_texts: {:?}", started.elapsed());
}

/// A client that sends a message again with the id it already went with (a
/// resend after a crash) gets the server's ack, and the contact gets the
/// message once; the session goes on for the next message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_id_sent_twice_is_taken_once() {
    let sim = Simulator::start().await.unwrap();
    let (client, _linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    let to: Jid = format!("{ALICE}@s.whatsapp.net").parse().unwrap();
    let text = |body: &str| wa::Message {
        conversation: Some(body.into()),
        ..Default::default()
    };
    let id = "3EB0DEDUPE0000000001".to_owned();
    let with_id = || whatsapp_rust::SendOptions::default().with_message_id(id.clone());
    client
        .client
        .send_message_with_options(to.clone(), text("the first copy"), with_id())
        .await
        .expect("the first send");
    alice.wait_text("the first copy", WAIT).await.unwrap();
    // Same id, whatever it carries now: acknowledged, not delivered.
    client
        .client
        .send_message_with_options(to.clone(), text("the second copy"), with_id())
        .await
        .expect("the repeat is acknowledged");
    client
        .client
        .send_message(to, text("the next message"))
        .await
        .expect("the next send");
    alice.wait_text("the next message", WAIT).await.unwrap();

    let received: Vec<(String, Option<String>)> = alice.received().into_iter().map(|m| (m.id, m.text)).collect();
    let with_the_id: Vec<_> = received.iter().filter(|(got, _)| *got == id).collect();
    assert_eq!(
        with_the_id,
        vec![&(id.clone(), Some("the first copy".to_owned()))],
        "{received:?}"
    );
    assert!(!received.iter().any(|(_, t)| t.as_deref() == Some("the second copy")));
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    client.stop().await;
}
