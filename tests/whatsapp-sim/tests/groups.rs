//! Groups between the real client and simulated contacts: group info
//! queries, group messages (sender key distribution, then skmsg), all four
//! participant changes; and the other traffic a phone or a contact causes:
//! an edit encrypted under the message's secret, a deletion for me, and
//! played receipts; and a contact and a group WhatsApp names by LID.

use std::collections::BTreeMap;

use crate::support::{WAIT, http, paired};
use serde_json::json;
use wasap_whatsapp_sim::{GroupChange, GroupRole, ReceiptKind, Simulator};
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::Event;
use whatsapp_rust::wacore::stanza::groups::GroupNotificationAction;
use whatsapp_rust::wacore::types::presence::ReceiptType;
use whatsapp_rust::waproto::whatsapp as wa;

const PHONE: &str = "15550001111";
const ALICE: &str = "15550002222";
const BOB: &str = "15550003333";
const CAROL: &str = "15550004444";
const GROUP: &str = "120363402106000000";

/// The text of a message batch entry from `sender` in `chat`, if any.
fn group_text(e: &Event, chat: &Jid) -> Option<(String, String, String)> {
    match e {
        Event::Messages(batch) => batch.iter().find_map(|m| {
            let text = m.message.conversation.clone()?;
            (m.info.source.chat == *chat && m.info.source.is_group)
                .then(|| (m.info.source.sender.user.to_string(), m.info.id.to_string(), text))
        }),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_write_to_a_group_and_its_participants_change() {
    let sim = Simulator::start().await.unwrap();
    let (client, linked, _store) = paired(&sim, PHONE).await;
    let jid = sim
        .create_group(GROUP, "Shop talk", ALICE, &[PHONE, BOB])
        .expect("the group is created");
    let group: Jid = jid.parse().unwrap();
    assert_eq!(jid, format!("{GROUP}@g.us"));

    // The client asks the server what the group is.
    let metadata = client.client.groups().get_metadata(&group).await.expect("group info");
    assert_eq!(metadata.subject, "Shop talk");
    let mut members: Vec<(String, String)> = metadata
        .participants
        .iter()
        .map(|p| (p.jid.user.to_string(), p.participant_type.as_str().to_owned()))
        .collect();
    members.sort();
    assert_eq!(
        members,
        [
            (PHONE.to_owned(), "member".to_owned()),
            (ALICE.to_owned(), "superadmin".to_owned()),
            (BOB.to_owned(), "member".to_owned()),
        ]
    );
    let participating = client.client.groups().get_participating().await.expect("my groups");
    assert_eq!(participating.keys().collect::<Vec<_>>(), [&group]);

    // Messages: each sender's key arrives with its first message, the second
    // rides the same chain.
    let alice = sim.contact(ALICE);
    let bob = sim.contact(BOB);
    let mark = client.events.len();
    let first = alice.send_group_text(&jid, "hello group").await.unwrap();
    let ((sender, id, _), mark) = client
        .events
        .wait(mark, "alice's first group message", |e| group_text(e, &group))
        .await;
    assert_eq!((sender.as_str(), id.as_str()), (ALICE, first.as_str()));
    alice.send_group_text(&jid, "and again").await.unwrap();
    let ((_, _, text), mark) = client
        .events
        .wait(mark, "alice's second group message", |e| group_text(e, &group))
        .await;
    assert_eq!(text, "and again");
    let from_bob = bob.send_group_text(&jid, "bob here").await.unwrap();
    let ((sender, id, _), _) = client
        .events
        .wait(mark, "bob's group message", |e| group_text(e, &group))
        .await;
    assert_eq!((sender.as_str(), id.as_str()), (BOB, from_bob.as_str()));
    // The client's delivery receipt goes to the group and reaches the sender.
    alice
        .wait_receipt(WAIT, |r| r.ids.contains(&first))
        .await
        .expect("alice's phone hears her message was delivered");

    // All four participant changes, as the client parses them.
    let changes = [
        (ALICE, GroupChange::Add, "add"),
        (ALICE, GroupChange::Promote, "promote"),
        (ALICE, GroupChange::Demote, "demote"),
        (CAROL, GroupChange::Remove, "remove"),
    ];
    for (author, change, tag) in changes {
        let mark = client.events.len();
        sim.change_group_participants(&jid, author, change, &[CAROL]).unwrap();
        let (participants, _) = client
            .events
            .wait(mark, &format!("a group {tag}"), |e| match e {
                Event::GroupUpdate(u) if u.group_jid == group => {
                    let (name, participants) = match &u.action {
                        GroupNotificationAction::Add { participants, .. } => ("add", participants),
                        GroupNotificationAction::Remove { participants, .. } => ("remove", participants),
                        GroupNotificationAction::Promote { participants } => ("promote", participants),
                        GroupNotificationAction::Demote { participants } => ("demote", participants),
                        _ => return None,
                    };
                    assert_eq!(
                        u.participant.as_ref().map(|p| p.user.to_string()),
                        Some(author.to_owned())
                    );
                    (name == tag).then(|| participants.iter().map(|p| p.jid.user.to_string()).collect::<Vec<_>>())
                }
                _ => None,
            })
            .await;
        assert_eq!(participants, [CAROL]);
        if change == GroupChange::Add {
            // A new member's first message carries its key like any other.
            let mark = client.events.len();
            let hers = sim.contact(CAROL).send_group_text(&jid, "hi all, carol").await.unwrap();
            let ((sender, id, _), _) = client
                .events
                .wait(mark, "carol's group message", |e| group_text(e, &group))
                .await;
            assert_eq!((sender.as_str(), id.as_str()), (CAROL, hers.as_str()));
        }
    }
    let participants = sim.group(&jid).expect("the group").participants;
    assert_eq!(
        participants,
        BTreeMap::from([
            (PHONE.to_owned(), GroupRole::Member),
            (ALICE.to_owned(), GroupRole::SuperAdmin),
            (BOB.to_owned(), GroupRole::Member),
        ])
    );

    assert_eq!(sim.unhandled(), Vec::<String>::new());
    sim.wait_delivered(PHONE, linked.device, WAIT)
        .await
        .expect("everything delivered is acknowledged");
    client.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_edit_a_deletion_for_me_and_played_receipts_reach_the_client() {
    let sim = Simulator::start().await.unwrap();
    let (client, linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    let mark = client.events.len();
    let id = alice.send_text(PHONE, "a voice note, say").await.unwrap();
    let (_, mark) = client.text(mark, "a voice note, say").await;

    // Alice edits it, encrypted under its message secret as WhatsApp does
    // now; the client, which kept the secret, decrypts the edit.
    alice.edit_message(PHONE, &id, "a voice note, really").await.unwrap();
    let (edited, mark) = client
        .events
        .wait(mark, "the edit", |e| match e {
            Event::Messages(batch) => batch.iter().find_map(|m| {
                let p = m.message.protocol_message.as_option()?;
                let text = p.edited_message.as_option()?.conversation.clone()?;
                Some((p.key.as_option()?.id.clone()?, text))
            }),
            _ => None,
        })
        .await;
    assert_eq!(edited, (id.clone(), "a voice note, really".to_owned()));

    // The phone deletes alice's message for itself: its devices hear of it
    // through app state, as news (not as a full sync's history).
    sim.phone(PHONE)
        .delete_for_me(ALICE, &id, false, None, WAIT)
        .await
        .expect("the phone deletes the message");
    let (update, mark) = client
        .events
        .wait(mark, "the deletion", |e| match e {
            Event::DeleteMessageForMeUpdate(u) => Some(u.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (
            update.chat_jid.user.as_str(),
            update.message_id.as_str(),
            update.from_me,
            update.from_full_sync
        ),
        (ALICE, id.as_str(), false, false)
    );
    assert_eq!(update.participant_jid, None);

    // Played, as for a voice note the contact listened to.
    let sent: Jid = format!("{ALICE}@s.whatsapp.net").parse().unwrap();
    let ours = client
        .client
        .send_message(
            sent,
            wa::Message {
                conversation: Some("listen to this".into()),
                ..Default::default()
            },
        )
        .await
        .expect("sent");
    alice.wait_text("listen to this", WAIT).await.unwrap();
    alice
        .send_receipt(PHONE, std::slice::from_ref(&ours.message_id), ReceiptKind::Played)
        .unwrap();
    client
        .events
        .wait(mark, "a played receipt", |e| match e {
            Event::Receipt(r) => (r.r#type == ReceiptType::Played
                && r.message_ids.iter().any(|m| m.as_str() == ours.message_id))
            .then_some(()),
            _ => None,
        })
        .await;

    assert_eq!(sim.unhandled(), Vec::<String>::new());
    sim.wait_delivered(PHONE, linked.device, WAIT)
        .await
        .expect("everything delivered is acknowledged");
    client.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_runs_groups_receipts_and_deletions() {
    let sim = std::sync::Arc::new(Simulator::start().await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    tokio::spawn(wasap_whatsapp_sim::control::serve(sim.clone(), listener));
    let (client, linked, _store) = paired(&sim, PHONE).await;
    let group: Jid = format!("{GROUP}@g.us").parse().unwrap();
    let post = |path: &'static str, body: serde_json::Value| async move {
        let (status, answer) = http(api, "POST", path, Some(body)).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    };

    let created = post(
        "/groups",
        json!({ "id": GROUP, "subject": "By hand", "creator": ALICE, "members": [PHONE] }),
    )
    .await;
    assert_eq!(created["jid"], group.to_string());
    let mark = client.events.len();
    let sent = post(
        "/group-send",
        json!({ "from": ALICE, "group": GROUP, "text": "typed into curl" }),
    )
    .await;
    let ((_, id, text), mark) = client
        .events
        .wait(mark, "the group message", |e| group_text(e, &group))
        .await;
    assert_eq!(
        (id.as_str(), text.as_str()),
        (sent["id"].as_str().unwrap(), "typed into curl")
    );
    post(
        "/group-participants",
        json!({ "group": GROUP, "author": ALICE, "change": "promote", "participants": [PHONE] }),
    )
    .await;
    let (_, mark) = client
        .events
        .wait(mark, "the promotion", |e| match e {
            Event::GroupUpdate(u) => matches!(u.action, GroupNotificationAction::Promote { .. }).then_some(()),
            _ => None,
        })
        .await;
    let (status, shown) = http(api, "GET", &format!("/groups/{GROUP}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(shown["participants"], json!({ ALICE: "super_admin", PHONE: "admin" }));

    post(
        "/receipt",
        json!({ "from": ALICE, "to": PHONE, "ids": ["3EB0AAAA"], "type": "read" }),
    )
    .await;
    let (_, mark) = client
        .events
        .wait(mark, "the read receipt", |e| match e {
            Event::Receipt(r) => (r.r#type == ReceiptType::Read).then_some(()),
            _ => None,
        })
        .await;
    post(
        "/delete-for-me",
        json!({ "phone": PHONE, "chat": group.to_string(), "id": id, "participant": ALICE }),
    )
    .await;
    let (update, _) = client
        .events
        .wait(mark, "the deletion", |e| match e {
            Event::DeleteMessageForMeUpdate(u) => Some(u.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (update.chat_jid, update.participant_jid.map(|p| p.user.to_string())),
        (group, Some(ALICE.to_owned()))
    );

    assert_eq!(sim.unhandled(), Vec::<String>::new());
    sim.wait_delivered(PHONE, linked.device, WAIT)
        .await
        .expect("everything delivered is acknowledged");
    client.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_and_a_group_named_by_lid() {
    let sim = Simulator::start().await.unwrap();
    let (client, linked, _store) = paired(&sim, PHONE).await;
    let alice = sim.contact(ALICE);
    alice.address_by_lid();
    let lid: Jid = alice.lid_jid().parse().unwrap();
    let pn: Jid = alice.jid().parse().unwrap();
    assert!(lid.is_lid());

    // A message from her LID, her number alongside.
    let mark = client.events.len();
    let id = alice.send_text(PHONE, "from my lid").await.unwrap();
    let (source, mark) = client
        .events
        .wait(mark, "her message", |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id == id).map(|m| m.info.source.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (source.chat, source.sender, source.sender_alt),
        (lid.clone(), lid.clone(), Some(pn.clone()))
    );

    // The client answers her LID chat; she reads the answer.
    let ours = client
        .client
        .send_message(
            lid.clone(),
            wa::Message {
                conversation: Some("to your lid".into()),
                ..Default::default()
            },
        )
        .await
        .expect("sent");
    alice.wait_text("to your lid", WAIT).await.unwrap();
    alice
        .send_receipt(PHONE, std::slice::from_ref(&ours.message_id), ReceiptKind::Read)
        .unwrap();
    let (sender, mark) = client
        .events
        .wait(mark, "her read receipt", |e| match e {
            Event::Receipt(r) if r.r#type == ReceiptType::Read => Some(r.source.sender.clone()),
            _ => None,
        })
        .await;
    assert_eq!(sender, lid);

    // In a LID group, her messages and changes name her LID and her number.
    let jid = sim.create_group(GROUP, "By LID", BOB, &[PHONE, ALICE]).unwrap();
    sim.address_group_by_lid(&jid).unwrap();
    let group: Jid = jid.parse().unwrap();
    let metadata = client.client.groups().get_metadata(&group).await.expect("group info");
    let alice_there = metadata.participants.iter().find(|p| p.jid == lid).expect("her LID");
    assert_eq!(alice_there.phone_number.as_ref(), Some(&pn));
    alice.send_group_text(&jid, "lid group hello").await.unwrap();
    let (source, mark) = client
        .events
        .wait(mark, "her group message", |e| match e {
            Event::Messages(batch) => batch
                .iter()
                .find(|m| m.info.source.chat == group)
                .map(|m| m.info.source.clone()),
            _ => None,
        })
        .await;
    assert_eq!((source.sender, source.sender_alt), (lid.clone(), Some(pn.clone())));
    sim.change_group_participants(&jid, BOB, GroupChange::Promote, &[ALICE])
        .unwrap();
    let (promoted, _) = client
        .events
        .wait(mark, "her promotion", |e| match e {
            Event::GroupUpdate(u) => match &u.action {
                GroupNotificationAction::Promote { participants } => Some(
                    participants
                        .iter()
                        .map(|p| (p.jid.clone(), p.phone_number.clone()))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            },
            _ => None,
        })
        .await;
    assert_eq!(promoted, [(lid, Some(pn))]);

    assert_eq!(sim.unhandled(), Vec::<String>::new());
    sim.wait_delivered(PHONE, linked.device, WAIT)
        .await
        .expect("everything delivered is acknowledged");
    client.stop().await;
}
