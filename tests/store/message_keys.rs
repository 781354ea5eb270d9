//! Conformance of finding messages by id (`Store::record_sent`,
//! `find_message`, `sent_messages_prune`): the same on SQLite and PostgreSQL.

use wasap::store::journal::Appended;
use wasap::store::message_keys::KnownMessage;

use crate::fixtures::{fresh, instance, message, receipt};

#[tokio::test]
async fn sent_and_journalled_messages_are_found_by_id_per_instance() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    instance(&store, "desk", "online").await;
    let contact = "6281234567890@s.whatsapp.net";
    let group = "120363402106000000@g.us";

    store
        .record_sent("shop", "3EB0SENT", contact, "text", 1_700_000_100)
        .await
        .unwrap();
    // A second record of the same id changes nothing.
    store
        .record_sent("shop", "3EB0SENT", group, "image", 1_700_000_200)
        .await
        .unwrap();
    store
        .journal_append(&[
            message("shop", "3EB0IN", group, "6281200002222@s.whatsapp.net", false),
            message("desk", "3EB0DESK", contact, contact, false),
        ])
        .await
        .unwrap();

    assert_eq!(
        store.find_message("shop", "3EB0SENT").await.unwrap(),
        Some(KnownMessage {
            id: "3EB0SENT".to_owned(),
            chat: contact.to_owned(),
            sender: None,
            from_me: true,
            kind: "text".to_owned(),
            timestamp: 1_700_000_100,
        })
    );
    assert_eq!(
        store.find_message("shop", "3EB0IN").await.unwrap(),
        Some(KnownMessage {
            id: "3EB0IN".to_owned(),
            chat: group.to_owned(),
            sender: Some("6281200002222@s.whatsapp.net".to_owned()),
            from_me: false,
            kind: "text".to_owned(),
            timestamp: 1_700_000_000,
        })
    );
    // Another instance's messages are not this one's.
    assert_eq!(store.find_message("shop", "3EB0DESK").await.unwrap(), None);
    assert_eq!(store.find_message("desk", "3EB0SENT").await.unwrap(), None);
    assert_eq!(store.find_message("shop", "3EB0NONE").await.unwrap(), None);
}

#[tokio::test]
async fn a_message_delivered_again_is_journalled_once_and_other_kinds_have_no_message_id() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let contact = "6281234567890@s.whatsapp.net";
    let first = message("shop", "3EB0TWICE", contact, contact, false);
    let receipt = receipt("shop", "a-receipt");
    let appended = store.journal_append(&[first.clone(), receipt.clone()]).await.unwrap();
    let [Appended::New(message_seq), Appended::New(receipt_seq)] = appended[..] else {
        panic!("both are new: {appended:?}")
    };
    // Delivered again, in another batch and twice in one: found by the one key
    // (instance, message id, event id) it was journalled under.
    let again = store
        .journal_append(&[first.clone(), receipt.clone(), first.clone()])
        .await
        .unwrap();
    let duplicate = |seq| Appended::Duplicate { seq, done: false };
    assert_eq!(
        again,
        [duplicate(message_seq), duplicate(receipt_seq), duplicate(message_seq)]
    );
    // Another message with the same WhatsApp id from another chat is another event.
    let other_chat = message("shop", "3EB0TWICE", "6281299990000@s.whatsapp.net", contact, false);
    assert!(matches!(
        store.journal_append(&[other_chat]).await.unwrap()[..],
        [Appended::New(seq)] if seq > receipt_seq
    ));
    // The newest journalled message with the id is the one found; the receipt,
    // which has no message id, is never found as one.
    let found = store.find_message("shop", "3EB0TWICE").await.unwrap().expect("found");
    assert_eq!(found.chat, "6281299990000@s.whatsapp.net");
    assert_eq!(store.find_message("shop", "").await.unwrap(), None);
    assert_eq!(store.journalled_message("shop", "").await.unwrap(), None);
}

#[tokio::test]
async fn the_prune_drops_old_sent_records_and_those_beyond_the_count() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    instance(&store, "desk", "online").await;
    let chat = "6281234567890@s.whatsapp.net";
    for n in 0..5 {
        store
            .record_sent("shop", &format!("shop-{n}"), chat, "text", 1_000 + n)
            .await
            .unwrap();
    }
    store.record_sent("desk", "desk-old", chat, "text", 10).await.unwrap();

    // Older than 1,001 goes, and of the rest only the newest 3 per instance stay.
    let removed = store.sent_messages_prune(1_001, 3).await.unwrap();
    assert_eq!(removed, 3, "desk-old and shop-0 by age, shop-1 by count");
    let found = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .find_message(if id.starts_with("desk") { "desk" } else { "shop" }, id)
                .await
                .unwrap()
                .is_some()
        }
    };
    for (id, kept) in [
        ("desk-old", false),
        ("shop-0", false),
        ("shop-1", false),
        ("shop-2", true),
        ("shop-3", true),
        ("shop-4", true),
    ] {
        assert_eq!(found(id).await, kept, "{id}");
    }
}

/// The send queue's recovery asks whether a message id went (`was_sent`):
/// the same answer on both databases, per instance.
#[tokio::test]
async fn was_sent_tells_an_id_whatsapp_took_per_instance() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    instance(&store, "desk", "online").await;
    let contact = "6281234567890@s.whatsapp.net";
    store
        .record_sent("shop", "3EB0TOOK", contact, "text", 1_700_000_100)
        .await
        .unwrap();
    assert!(store.was_sent("shop", "3EB0TOOK").await.unwrap());
    assert!(!store.was_sent("shop", "3EB0NEVER").await.unwrap());
    assert!(!store.was_sent("desk", "3EB0TOOK").await.unwrap());
}

/// Sends that finish at the same moment have their records written together
/// (`sent_records.rs`): each is there once its call returns, a repeat keeps
/// the first record and takes the newer content, and a record for an
/// instance that is gone fails alone.
#[tokio::test]
async fn records_of_sends_at_once_each_land_before_they_return() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let chat = "6281234567890@s.whatsapp.net";
    let mut sends = Vec::new();
    for n in 0..64i64 {
        let store = store.clone();
        sends.push(tokio::spawn(async move {
            let id = format!("3EB0AT{n}");
            if n % 2 == 0 {
                store.record_sent("shop", &id, chat, "text", 1_000 + n).await.unwrap();
            } else {
                store
                    .record_sent_with_content("shop", &id, chat, "text", 1_000 + n, &format!("said {n}"))
                    .await
                    .unwrap();
            }
            // Found the moment the call returned, with what it said.
            let found = store.find_message("shop", &id).await.unwrap().expect("recorded");
            assert_eq!((found.chat.as_str(), found.timestamp), (chat, 1_000 + n));
            let content = store.sent_content("shop", &id).await.unwrap();
            assert_eq!(content, (n % 2 == 1).then(|| format!("said {n}")), "{id}");
        }));
    }
    // The same id at once: without content, then with, then without again;
    // and a record whose instance does not exist, among them.
    let (a, b, c, gone) = tokio::join!(
        store.record_sent("shop", "3EB0TWICE", chat, "text", 1),
        store.record_sent_with_content("shop", "3EB0TWICE", "other@s.whatsapp.net", "image", 2, "kept"),
        store.record_sent("shop", "3EB0TWICE", "third@s.whatsapp.net", "video", 3),
        store.record_sent("gone", "3EB0GONE", chat, "text", 1),
    );
    for send in sends {
        send.await.unwrap();
    }
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert!(gone.is_err(), "a record of an unknown instance is refused: {gone:?}");
    // The first record stayed; the content came with the second.
    let twice = store
        .find_message("shop", "3EB0TWICE")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        (twice.chat.as_str(), twice.kind.as_str(), twice.timestamp),
        (chat, "text", 1)
    );
    assert_eq!(
        store.sent_content("shop", "3EB0TWICE").await.unwrap().as_deref(),
        Some("kept")
    );
}
