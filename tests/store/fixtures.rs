//! What the store suites share: a fresh database with its store, an
//! instance row to hang rows on, and the journal's events.

use wasap::events::{Content, Event, EventKind, Message, Receipt, ReceiptType, new_event};
use wasap::store::Store;
use wasap::store::instances::InstanceRow;
use wasap_tests::TestDb;

/// A fresh database (dropped with the `TestDb`) and a store opened on it.
pub async fn fresh() -> (TestDb, Store) {
    let db = TestDb::new().await;
    let store = Store::open(db.url())
        .await
        .unwrap_or_else(|e| panic!("Store::open({}) failed: {e:?}", db.url()));
    (db, store)
}

/// Inserts instance `id` with `status`.
pub async fn instance(store: &Store, id: &str, status: &str) {
    let row = InstanceRow {
        id: id.to_owned(),
        name: id.to_owned(),
        token_hash: format!("hash-{id}"),
        status: status.to_owned(),
        device_id: None,
        jid: None,
        phone_number: None,
        push_name: None,
        created_at: 0,
        connected_at: None,
        last_seen: None,
    };
    assert!(store.insert_instance(&row).await.unwrap());
}

/// A text message from `sender` in `chat`, as the journal keeps it.
pub fn message(instance_id: &str, id: &str, chat: &str, sender: &str, from_me: bool) -> Event {
    new_event(
        instance_id,
        EventKind::Message(Message {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: id.to_owned(),
            chat: chat.to_owned(),
            sender: sender.to_owned(),
            push_name: None,
            from_me,
            is_group: chat.ends_with("@g.us"),
            timestamp: 1_700_000_000,
            content: Content::Text { text: "hi".to_owned() },
            quoted: None,
            forwarded: false,
            view_once: false,
            ephemeral: None,
        }),
    )
}

/// A read receipt of `instance` with event id `id`.
pub fn receipt(instance: &str, id: &str) -> Event {
    let mut event = new_event(
        instance,
        EventKind::Receipt(Receipt {
            sender_lid: None,
            sender_phone: None,
            chat: "6281234567890@s.whatsapp.net".to_owned(),
            sender: "6281234567890@s.whatsapp.net".to_owned(),
            ids: vec![format!("msg-{id}")],
            receipt_type: ReceiptType::Read,
            timestamp: 1_700_000_000,
        }),
    );
    event.id = id.to_owned();
    event
}
