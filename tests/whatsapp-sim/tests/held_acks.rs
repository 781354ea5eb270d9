//! The server's acks held back on purpose (`Simulator::hold_message_acks`):
//! a message sent meanwhile is taken, its ack reaches the client only at the
//! release, and a client that dies holding out for one comes back to a
//! server that takes the message's resend (same id) once and acks it.

use crate::support::{TestClient, WAIT, paired};
use wasap_whatsapp_sim::Simulator;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Jid, NodeFilter, SendOptions};

const PHONE: &str = "15550001111";
const ALICE: &str = "15550002222";

fn text(body: &str) -> wa::Message {
    wa::Message {
        conversation: Some(body.into()),
        ..Default::default()
    }
}

fn ack_of(id: &str) -> NodeFilter {
    NodeFilter::tag("ack").attr("class", "message").attr("id", id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_ack_reaches_the_client_at_the_release() {
    let sim = Simulator::start().await.unwrap();
    let (client, _linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    let to: Jid = format!("{ALICE}@s.whatsapp.net").parse().unwrap();
    let id = "3EB0HELD000000000001".to_owned();

    assert_eq!(sim.hold_message_acks(PHONE, true), 0);
    let mut ack = client.client.wait_for_node(ack_of(&id));
    client
        .client
        .send_message_with_options(
            to.clone(),
            text("held back"),
            SendOptions::default().with_message_id(id.clone()),
        )
        .await
        .expect("the send");
    // Taken: the contact has it, and the server holds its ack.
    assert_eq!(alice.wait_text("held back", WAIT).await.unwrap().id, id);
    assert_eq!(sim.wait_held_message_acks(PHONE, 1, WAIT).await.unwrap(), 1);
    // A round trip on the same connection after it: the client is answered,
    // not acked.
    client
        .client
        .contacts()
        .is_on_whatsapp(std::slice::from_ref(&to))
        .await
        .expect("the check is answered");
    assert!(
        ack.try_recv().expect("the waiter is live").is_none(),
        "the ack went out while held"
    );

    assert_eq!(sim.hold_message_acks(PHONE, false), 1, "one ack released");
    tokio::time::timeout(WAIT, ack)
        .await
        .expect("the ack arrives after the release")
        .expect("the ack");
    assert_eq!(sim.held_message_acks(PHONE), 0);
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    client.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_with_its_ack_held_resends_and_the_message_is_taken_once() {
    let sim = Simulator::start().await.unwrap();
    let (client, linked, store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    let to: Jid = format!("{ALICE}@s.whatsapp.net").parse().unwrap();
    let id = "3EB0HELD000000000002".to_owned();
    let with_id = || SendOptions::default().with_message_id(id.clone());

    sim.hold_message_acks(PHONE, true);
    client
        .client
        .send_message_with_options(to.clone(), text("sent before the crash"), with_id())
        .await
        .expect("the send");
    sim.wait_held_message_acks(PHONE, 1, WAIT).await.unwrap();
    // The client goes; its connection takes the held ack with it.
    client.stop().await;
    sim.wait_offline(PHONE, linked.device, WAIT).await.unwrap();
    assert_eq!(sim.held_message_acks(PHONE), 0);

    // Back on the same store: the new connection is not held, and the
    // resend under the same id is acked without a second delivery.
    let again = TestClient::start(&sim, store).await;
    again.connected(0).await;
    let ack = again.client.wait_for_node(ack_of(&id));
    again
        .client
        .send_message_with_options(to.clone(), text("sent again after it"), with_id())
        .await
        .expect("the resend");
    tokio::time::timeout(WAIT, ack)
        .await
        .expect("the resend is acked")
        .expect("the ack");
    again
        .client
        .send_message(to, text("the next message"))
        .await
        .expect("the next send");
    alice.wait_text("the next message", WAIT).await.unwrap();
    let with_the_id: Vec<Option<String>> = alice
        .received()
        .into_iter()
        .filter(|m| m.id == id)
        .map(|m| m.text)
        .collect();
    assert_eq!(with_the_id, vec![Some("sent before the crash".to_owned())]);
    assert_eq!(sim.unhandled(), Vec::<String>::new());
    again.stop().await;
}
