//! Per-message stores: the sent-message retry store (`store_sent_message`,
//! atomic `take_sent_message`, expiry), the pending-inbound durability buffer
//! (single and batched), and `MsgSecretStore` (secrets with their
//! `expires_at` / `message_ts` merge rules and expiry).

use std::sync::Arc;

use whatsapp_rust::wacore::store::traits::{
    MsgSecretEntry, MsgSecretStore, PendingInboundKey, PendingInboundRow, ProtocolStore,
};

use super::{far_future, fresh, now_secs};

const CHAT: &str = "15550001111@s.whatsapp.net";
const GROUP: &str = "120363000000000001@g.us";

#[tokio::test]
async fn sent_message_store_take_once() {
    let (_db, _store, dev) = fresh().await;

    assert_eq!(dev.take_sent_message(CHAT, "M1").await.unwrap(), None);

    dev.store_sent_message(CHAT, "M1", b"payload-1").await.unwrap();
    dev.store_sent_message(GROUP, "M1", b"group-payload").await.unwrap();
    dev.store_sent_message(CHAT, "M2", b"").await.unwrap();
    // Storing the same key again replaces the payload.
    dev.store_sent_message(CHAT, "M1", b"payload-1-resent").await.unwrap();

    assert_eq!(
        dev.take_sent_message(CHAT, "M1").await.unwrap(),
        Some(b"payload-1-resent".to_vec())
    );
    assert_eq!(
        dev.take_sent_message(CHAT, "M1").await.unwrap(),
        None,
        "a take consumes"
    );
    assert_eq!(dev.take_sent_message(CHAT, "M3").await.unwrap(), None);
    assert_eq!(
        dev.take_sent_message(GROUP, "M1").await.unwrap(),
        Some(b"group-payload".to_vec()),
        "keyed by chat too"
    );
    assert_eq!(
        dev.take_sent_message(CHAT, "M2").await.unwrap(),
        Some(vec![]),
        "empty payload is a payload"
    );
    assert_eq!(dev.take_sent_message(CHAT, "M2").await.unwrap(), None);

    // A consumed message can be stored and taken again.
    dev.store_sent_message(CHAT, "M1", b"again").await.unwrap();
    assert_eq!(
        dev.take_sent_message(CHAT, "M1").await.unwrap(),
        Some(b"again".to_vec())
    );
}

/// Sends keep their messages one per request, many requests at once: the
/// writes are committed together (store/device/grouped_writes.rs), each
/// landed when its call returns, the same key twice keeping the last.
#[tokio::test]
async fn sent_messages_stored_at_once_by_many_sends_each_land_before_they_return() {
    let (_db, _store, dev) = fresh().await;
    let mut sends = tokio::task::JoinSet::new();
    for sender in 0..16u32 {
        let dev = dev.clone();
        sends.spawn(async move {
            for n in 0..20u32 {
                let id = format!("S{sender}-{n}");
                let payload = (sender * 1000 + n).to_be_bytes();
                // Twice at once: both calls land, the later payload is kept
                // or the earlier one; never neither.
                let (a, b) = tokio::join!(
                    dev.store_sent_message(CHAT, &id, b"first"),
                    dev.store_sent_message(CHAT, &id, &payload)
                );
                a.unwrap();
                b.unwrap();
                let taken = dev.take_sent_message(CHAT, &id).await.unwrap();
                assert!(
                    taken.as_deref() == Some(&payload[..]) || taken.as_deref() == Some(&b"first"[..]),
                    "send {sender}, message {n}: {taken:?}"
                );
            }
        });
    }
    while let Some(send) = sends.join_next().await {
        send.unwrap();
    }
}

#[tokio::test]
async fn sent_messages_expire_by_store_time() {
    let (_db, _store, dev) = fresh().await;
    let before = now_secs();
    dev.store_sent_message(CHAT, "M1", b"1").await.unwrap();
    dev.store_sent_message(CHAT, "M2", b"2").await.unwrap();
    dev.store_sent_message(GROUP, "M3", b"3").await.unwrap();
    let after = now_secs();

    // Stored at or after `before`, so an earlier cutoff keeps them all.
    assert_eq!(dev.delete_expired_sent_messages(before - 60).await.unwrap(), 0);
    assert_eq!(dev.take_sent_message(CHAT, "M2").await.unwrap(), Some(b"2".to_vec()));
    // Stored at or before `after`, so a later cutoff expires the remaining two.
    assert_eq!(dev.delete_expired_sent_messages(after + 60).await.unwrap(), 2);
    assert_eq!(dev.take_sent_message(CHAT, "M1").await.unwrap(), None);
    assert_eq!(dev.take_sent_message(GROUP, "M3").await.unwrap(), None);
    assert_eq!(dev.delete_expired_sent_messages(far_future()).await.unwrap(), 0);
}

#[tokio::test]
async fn pending_inbound_store_get_overwrite_delete() {
    let (_db, _store, dev) = fresh().await;
    let sender = "15550002222:3@s.whatsapp.net";

    assert_eq!(dev.get_pending_inbound(GROUP, sender, "ID1").await.unwrap(), None);

    dev.store_pending_inbound(GROUP, sender, "ID1", b"msg-1").await.unwrap();
    assert_eq!(
        dev.get_pending_inbound(GROUP, sender, "ID1").await.unwrap(),
        Some(b"msg-1".to_vec())
    );
    // A read does not consume.
    assert_eq!(
        dev.get_pending_inbound(GROUP, sender, "ID1").await.unwrap(),
        Some(b"msg-1".to_vec())
    );

    // Keyed by all of (chat, sender, id).
    dev.store_pending_inbound(GROUP, "other:1@s.whatsapp.net", "ID1", b"other-sender")
        .await
        .unwrap();
    dev.store_pending_inbound(CHAT, sender, "ID1", b"other-chat")
        .await
        .unwrap();
    assert_eq!(
        dev.get_pending_inbound(GROUP, sender, "ID1").await.unwrap(),
        Some(b"msg-1".to_vec())
    );
    assert_eq!(
        dev.get_pending_inbound(CHAT, sender, "ID1").await.unwrap(),
        Some(b"other-chat".to_vec())
    );
    assert_eq!(dev.get_pending_inbound(GROUP, sender, "ID2").await.unwrap(), None);

    // A redelivery re-buffers: last write wins.
    dev.store_pending_inbound(GROUP, sender, "ID1", b"msg-1-redelivered")
        .await
        .unwrap();
    assert_eq!(
        dev.get_pending_inbound(GROUP, sender, "ID1").await.unwrap(),
        Some(b"msg-1-redelivered".to_vec())
    );

    dev.delete_pending_inbound(GROUP, sender, "ID1").await.unwrap();
    dev.delete_pending_inbound(GROUP, sender, "ID1").await.unwrap();
    assert_eq!(dev.get_pending_inbound(GROUP, sender, "ID1").await.unwrap(), None);
    assert_eq!(
        dev.get_pending_inbound(GROUP, "other:1@s.whatsapp.net", "ID1")
            .await
            .unwrap(),
        Some(b"other-sender".to_vec())
    );
}

#[tokio::test]
async fn pending_inbound_batches() {
    let (_db, _store, dev) = fresh().await;
    dev.store_pending_inbound(CHAT, CHAT, "X0", b"old").await.unwrap();

    let ids: Vec<String> = (0..500).map(|i| format!("X{i}")).collect();
    let payloads: Vec<Vec<u8>> = (0..500u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let rows: Vec<PendingInboundRow<'_>> = ids
        .iter()
        .zip(&payloads)
        .map(|(id, message)| PendingInboundRow {
            chat: CHAT,
            sender: CHAT,
            id,
            message,
        })
        .collect();
    dev.store_pending_inbound_batch(&[]).await.unwrap();
    dev.store_pending_inbound_batch(&rows).await.unwrap();

    for i in [0usize, 1, 250, 499] {
        assert_eq!(
            dev.get_pending_inbound(CHAT, CHAT, &ids[i]).await.unwrap(),
            Some(payloads[i].clone()),
            "row {i}"
        );
    }

    let keys: Vec<PendingInboundKey<'_>> = ids[..400]
        .iter()
        .map(|id| PendingInboundKey {
            chat: CHAT,
            sender: CHAT,
            id,
        })
        .chain([PendingInboundKey {
            chat: CHAT,
            sender: CHAT,
            id: "never-stored",
        }])
        .collect();
    dev.delete_pending_inbound_batch(&[]).await.unwrap();
    dev.delete_pending_inbound_batch(&keys).await.unwrap();
    // Removals after a committed batch are queued (store/device/grouped_writes.rs):
    // settled, they have landed.
    dev.settle().await;
    assert_eq!(dev.get_pending_inbound(CHAT, CHAT, "X0").await.unwrap(), None);
    assert_eq!(dev.get_pending_inbound(CHAT, CHAT, "X399").await.unwrap(), None);
    assert_eq!(
        dev.get_pending_inbound(CHAT, CHAT, "X400").await.unwrap(),
        Some(400u32.to_be_bytes().to_vec())
    );
}

/// Live messages are buffered one per sender lane at a time, many lanes at
/// once: their writes are committed together (store/device/grouped_writes.rs).
/// Every caller's row must have landed when its call returns, and a key put
/// twice in one round keeps the last message.
#[tokio::test]
async fn pending_inbound_puts_from_many_lanes_each_land_before_they_return() {
    let (_db, _store, dev) = fresh().await;
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..32u32 {
        let dev = dev.clone();
        lanes.spawn(async move {
            for n in 0..20u32 {
                let (sender, id) = (format!("{lane}@s.whatsapp.net"), format!("L{lane}-{n}"));
                let message = (lane * 1000 + n).to_be_bytes();
                dev.store_pending_inbound_batch(&[PendingInboundRow {
                    chat: CHAT,
                    sender: &sender,
                    id: &id,
                    message: &message,
                }])
                .await
                .unwrap();
                // Read back at once: the put has landed before it returned.
                assert_eq!(
                    dev.get_pending_inbound(CHAT, &sender, &id).await.unwrap(),
                    Some(message.to_vec()),
                    "lane {lane}, message {n}"
                );
            }
        });
    }
    while let Some(lane) = lanes.join_next().await {
        lane.unwrap();
    }
    // The same key twice in one call: the last message is kept.
    let rows = [
        PendingInboundRow {
            chat: CHAT,
            sender: CHAT,
            id: "twice",
            message: b"first",
        },
        PendingInboundRow {
            chat: CHAT,
            sender: CHAT,
            id: "twice",
            message: b"second",
        },
    ];
    dev.store_pending_inbound_batch(&rows).await.unwrap();
    assert_eq!(
        dev.get_pending_inbound(CHAT, CHAT, "twice").await.unwrap(),
        Some(b"second".to_vec())
    );
}

#[tokio::test]
async fn pending_inbound_expires_by_insert_time() {
    let (_db, _store, dev) = fresh().await;
    let before = now_secs();
    dev.store_pending_inbound(CHAT, CHAT, "A", b"a").await.unwrap();
    dev.store_pending_inbound_batch(&[
        PendingInboundRow {
            chat: GROUP,
            sender: CHAT,
            id: "B",
            message: b"b",
        },
        PendingInboundRow {
            chat: GROUP,
            sender: CHAT,
            id: "C",
            message: b"c",
        },
    ])
    .await
    .unwrap();
    let after = now_secs();

    assert_eq!(dev.delete_expired_pending_inbound(before - 60).await.unwrap(), 0);
    assert_eq!(
        dev.get_pending_inbound(GROUP, CHAT, "B").await.unwrap(),
        Some(b"b".to_vec())
    );
    assert_eq!(dev.delete_expired_pending_inbound(after + 60).await.unwrap(), 3);
    assert_eq!(dev.get_pending_inbound(CHAT, CHAT, "A").await.unwrap(), None);
    assert_eq!(dev.get_pending_inbound(GROUP, CHAT, "C").await.unwrap(), None);
}

fn secret_entry(chat: &str, sender: &str, id: &str, seed: u8, expires_at: i64, message_ts: i64) -> MsgSecretEntry {
    MsgSecretEntry {
        chat: Arc::from(chat),
        sender: Arc::from(sender),
        msg_id: Arc::from(id),
        secret: [seed; 32],
        expires_at,
        message_ts,
    }
}

#[tokio::test]
async fn msg_secret_put_get_overwrite_and_three_part_key() {
    let (_db, _store, dev) = fresh().await;
    let s = "100000000000009@lid";

    assert_eq!(dev.get_msg_secret(CHAT, s, "M1").await.unwrap(), None);
    assert_eq!(dev.get_msg_secret_with_ts(CHAT, s, "M1").await.unwrap(), None);

    dev.put_msg_secret(CHAT, s, "M1", &[1; 32]).await.unwrap();
    dev.put_msg_secret(CHAT, s, "M2", &[2; 32]).await.unwrap();
    dev.put_msg_secret(CHAT, "other@lid", "M1", &[3; 32]).await.unwrap();
    dev.put_msg_secret(GROUP, s, "M1", &[4; 32]).await.unwrap();

    assert_eq!(dev.get_msg_secret(CHAT, s, "M1").await.unwrap(), Some(vec![1; 32]));
    assert_eq!(dev.get_msg_secret(CHAT, s, "M2").await.unwrap(), Some(vec![2; 32]));
    assert_eq!(
        dev.get_msg_secret(CHAT, "other@lid", "M1").await.unwrap(),
        Some(vec![3; 32])
    );
    assert_eq!(dev.get_msg_secret(GROUP, s, "M1").await.unwrap(), Some(vec![4; 32]));
    assert_eq!(
        dev.get_msg_secret_with_ts(CHAT, s, "M1").await.unwrap(),
        Some((vec![1; 32], 0)),
        "put_msg_secret stores message_ts 0"
    );

    dev.put_msg_secret(CHAT, s, "M1", &[9; 32]).await.unwrap();
    assert_eq!(
        dev.get_msg_secret(CHAT, s, "M1").await.unwrap(),
        Some(vec![9; 32]),
        "secret replaced"
    );

    // put_msg_secret means "never expires".
    assert_eq!(dev.delete_expired_msg_secrets(i64::MAX).await.unwrap(), 0);
    assert_eq!(dev.get_msg_secret(GROUP, s, "M1").await.unwrap(), Some(vec![4; 32]));
}

#[tokio::test]
async fn put_msg_secrets_counts_entries_and_last_duplicate_wins() {
    let (_db, _store, dev) = fresh().await;
    assert_eq!(dev.put_msg_secrets(vec![]).await.unwrap(), 0);

    let n = dev
        .put_msg_secrets(vec![
            secret_entry(CHAT, CHAT, "M1", 1, 0, 100),
            secret_entry(CHAT, CHAT, "M2", 2, 0, 200),
            secret_entry(CHAT, CHAT, "M1", 9, 0, 50),
        ])
        .await
        .unwrap();
    assert_eq!(n, 3, "the count of entries written");
    assert_eq!(
        dev.get_msg_secret_with_ts(CHAT, CHAT, "M1").await.unwrap(),
        Some((vec![9; 32], 100))
    );
    assert_eq!(
        dev.get_msg_secret_with_ts(CHAT, CHAT, "M2").await.unwrap(),
        Some((vec![2; 32], 200))
    );

    // Updates of existing rows count too.
    let n = dev
        .put_msg_secrets(vec![
            secret_entry(CHAT, CHAT, "M1", 5, 0, 0),
            secret_entry(CHAT, CHAT, "M3", 3, 0, 0),
        ])
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(dev.get_msg_secret(CHAT, CHAT, "M1").await.unwrap(), Some(vec![5; 32]));
}

#[tokio::test]
async fn put_msg_secrets_merges_message_ts() {
    let (_db, _store, dev) = fresh().await;
    let cases = [
        // (id, first, second, expected)
        ("known-then-unknown", 500, 0, 500),
        ("later-then-earlier", 500, 400, 500),
        ("earlier-then-later", 500, 600, 600),
        ("unknown-then-known", 0, 300, 300),
        ("unknown-twice", 0, 0, 0),
    ];
    for (id, first, _, _) in cases {
        dev.put_msg_secrets(vec![secret_entry(CHAT, CHAT, id, 1, 0, first)])
            .await
            .unwrap();
    }
    let second: Vec<_> = cases
        .iter()
        .map(|(id, _, ts, _)| secret_entry(CHAT, CHAT, id, 2, 0, *ts))
        .collect();
    dev.put_msg_secrets(second).await.unwrap();
    for (id, _, _, expected) in cases {
        assert_eq!(
            dev.get_msg_secret_with_ts(CHAT, CHAT, id).await.unwrap(),
            Some((vec![2; 32], expected)),
            "case {id}"
        );
    }
}

/// Asserts which of `ids` still have a secret in `chat`.
async fn assert_alive(dev: &impl MsgSecretStore, ids: &[&str], alive: &[&str]) {
    for id in ids {
        let present = dev.get_msg_secret(CHAT, CHAT, id).await.unwrap().is_some();
        assert_eq!(present, alive.contains(id), "secret {id} presence");
    }
}

#[tokio::test]
async fn put_msg_secrets_merges_expires_at() {
    let (_db, _store, dev) = fresh().await;
    // (id, first expires_at, second expires_at); merged deadline in the comment.
    let cases = [
        ("later-wins", 100, Some(200)),        // 200
        ("earlier-ignored", 200, Some(100)),   // 200
        ("never-then-deadline", 0, Some(100)), // 0 = never
        ("deadline-then-never", 100, Some(0)), // 0 = never
        ("both-short", 100, Some(120)),        // 120
        ("single-short", 100, None),           // 100
    ];
    for (id, first, _) in cases {
        dev.put_msg_secrets(vec![secret_entry(CHAT, CHAT, id, 1, first, 0)])
            .await
            .unwrap();
    }
    for (id, _, second) in cases {
        if let Some(second) = second {
            dev.put_msg_secrets(vec![secret_entry(CHAT, CHAT, id, 2, second, 0)])
                .await
                .unwrap();
        }
    }
    let ids = cases.map(|(id, _, _)| id);

    assert_eq!(dev.delete_expired_msg_secrets(150).await.unwrap(), 2);
    assert_alive(
        &dev,
        &ids,
        &[
            "later-wins",
            "earlier-ignored",
            "never-then-deadline",
            "deadline-then-never",
        ],
    )
    .await;
    assert_eq!(
        dev.get_msg_secret(CHAT, CHAT, "later-wins").await.unwrap(),
        Some(vec![2; 32])
    );
    assert_eq!(
        dev.get_msg_secret(CHAT, CHAT, "earlier-ignored").await.unwrap(),
        Some(vec![2; 32])
    );
    assert_eq!(dev.delete_expired_msg_secrets(far_future()).await.unwrap(), 2);
    assert_alive(&dev, &ids, &["never-then-deadline", "deadline-then-never"]).await;
}

#[tokio::test]
async fn delete_expired_msg_secrets_boundaries() {
    let (_db, _store, dev) = fresh().await;
    let n = dev
        .put_msg_secrets(vec![
            secret_entry(GROUP, CHAT, "never", 1, 0, 10),
            secret_entry(GROUP, CHAT, "past", 2, 999, 10),
            secret_entry(GROUP, CHAT, "at-cutoff", 3, 1_000, 10),
            secret_entry(GROUP, CHAT, "future", 4, 1_001, 10),
        ])
        .await
        .unwrap();
    assert_eq!(n, 4);

    assert_eq!(
        dev.delete_expired_msg_secrets(1_000).await.unwrap(),
        2,
        "expires_at <= cutoff goes"
    );
    assert_eq!(dev.get_msg_secret(GROUP, CHAT, "past").await.unwrap(), None);
    assert_eq!(dev.get_msg_secret(GROUP, CHAT, "at-cutoff").await.unwrap(), None);
    assert_eq!(
        dev.get_msg_secret_with_ts(GROUP, CHAT, "future").await.unwrap(),
        Some((vec![4; 32], 10))
    );
    assert_eq!(
        dev.get_msg_secret_with_ts(GROUP, CHAT, "never").await.unwrap(),
        Some((vec![1; 32], 10))
    );
    assert_eq!(dev.delete_expired_msg_secrets(1_000).await.unwrap(), 0);
}

/// A history-sync seed writes many thousands of secrets in one call.
#[tokio::test]
async fn large_msg_secret_batch() {
    let (_db, _store, dev) = fresh().await;
    let entries: Vec<_> = (0..12_000u32)
        .map(|i| {
            secret_entry(
                CHAT,
                CHAT,
                &format!("H{i}"),
                (i % 200) as u8,
                if i % 2 == 0 { 0 } else { 500 },
                i as i64,
            )
        })
        .collect();
    assert_eq!(dev.put_msg_secrets(entries).await.unwrap(), 12_000);
    assert_eq!(
        dev.get_msg_secret_with_ts(CHAT, CHAT, "H11999").await.unwrap(),
        Some((vec![(11_999 % 200) as u8; 32], 11_999))
    );
    assert_eq!(dev.delete_expired_msg_secrets(600).await.unwrap(), 6_000);
}
