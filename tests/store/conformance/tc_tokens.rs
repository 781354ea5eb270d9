//! Trusted-contact tokens (`ProtocolStore`): plain put/get/delete/list, the
//! advance-only sender bucket (`touch_tc_token_sender_timestamp`), the
//! newer-wins received token (`store_received_tc_token`), and the two-window
//! expiry rule of `delete_expired_tc_tokens`.

use whatsapp_rust::wacore::store::traits::{ProtocolStore, TcTokenEntry};

use super::{fresh, sorted};

fn entry(token: &[u8], token_timestamp: i64, sender_timestamp: Option<i64>) -> TcTokenEntry {
    TcTokenEntry {
        token: token.to_vec(),
        token_timestamp,
        sender_timestamp,
    }
}

/// The stored entry as a comparable tuple.
async fn get(dev: &impl ProtocolStore, jid: &str) -> Option<(Vec<u8>, i64, Option<i64>)> {
    dev.get_tc_token(jid)
        .await
        .unwrap()
        .map(|e| (e.token, e.token_timestamp, e.sender_timestamp))
}

#[tokio::test]
async fn put_get_overwrite_delete_and_list() {
    let (_db, _store, dev) = fresh().await;
    let (a, b) = ("100000000000001@lid", "100000000000002@lid");

    assert_eq!(get(&dev, a).await, None);
    assert!(dev.get_all_tc_token_jids().await.unwrap().is_empty());

    dev.put_tc_token(a, &entry(&[1, 2, 3], 1_000, Some(1_500)))
        .await
        .unwrap();
    dev.put_tc_token(b, &entry(&[9], 2_000, None)).await.unwrap();
    assert_eq!(get(&dev, a).await, Some((vec![1, 2, 3], 1_000, Some(1_500))));
    assert_eq!(get(&dev, b).await, Some((vec![9], 2_000, None)));
    assert_eq!(
        sorted(dev.get_all_tc_token_jids().await.unwrap()),
        vec![a.to_string(), b.to_string()]
    );

    // put is a plain upsert of the whole entry, sender bucket included.
    dev.put_tc_token(a, &entry(&[4], 900, None)).await.unwrap();
    assert_eq!(get(&dev, a).await, Some((vec![4], 900, None)));
    dev.put_tc_token(a, &entry(&[], 0, Some(7))).await.unwrap();
    assert_eq!(get(&dev, a).await, Some((vec![], 0, Some(7))));

    dev.delete_tc_token(a).await.unwrap();
    dev.delete_tc_token(a).await.unwrap();
    assert_eq!(get(&dev, a).await, None);
    assert_eq!(dev.get_all_tc_token_jids().await.unwrap(), vec![b.to_string()]);
}

#[tokio::test]
async fn touch_inserts_placeholder_and_only_moves_forward() {
    let (_db, _store, dev) = fresh().await;
    let jid = "100000000000001@lid";

    dev.touch_tc_token_sender_timestamp(jid, 5_000).await.unwrap();
    assert_eq!(
        get(&dev, jid).await,
        Some((vec![], 5_000, Some(5_000))),
        "byte-less placeholder"
    );

    dev.touch_tc_token_sender_timestamp(jid, 3_000).await.unwrap();
    assert_eq!(
        get(&dev, jid).await,
        Some((vec![], 5_000, Some(5_000))),
        "never regresses"
    );
    dev.touch_tc_token_sender_timestamp(jid, 5_000).await.unwrap();
    assert_eq!(get(&dev, jid).await, Some((vec![], 5_000, Some(5_000))));
    dev.touch_tc_token_sender_timestamp(jid, 8_000).await.unwrap();
    let (token, _, sender) = get(&dev, jid).await.expect("entry");
    assert_eq!((token, sender), (vec![], Some(8_000)), "advances");
    assert_eq!(dev.get_all_tc_token_jids().await.unwrap(), vec![jid.to_string()]);
}

#[tokio::test]
async fn touch_preserves_an_existing_real_token() {
    let (_db, _store, dev) = fresh().await;
    let (a, b) = ("100000000000001@lid", "100000000000002@lid");

    // A real token with no sender bucket yet.
    dev.put_tc_token(a, &entry(&[7, 8, 9], 2_000, None)).await.unwrap();
    dev.touch_tc_token_sender_timestamp(a, 1_000).await.unwrap();
    assert_eq!(
        get(&dev, a).await,
        Some((vec![7, 8, 9], 2_000, Some(1_000))),
        "None → Some(ts)"
    );
    dev.touch_tc_token_sender_timestamp(a, 3_000).await.unwrap();
    assert_eq!(get(&dev, a).await, Some((vec![7, 8, 9], 2_000, Some(3_000))));
    dev.touch_tc_token_sender_timestamp(a, 2_500).await.unwrap();
    assert_eq!(get(&dev, a).await, Some((vec![7, 8, 9], 2_000, Some(3_000))));

    // A real token with a newer sender bucket than the touch.
    dev.put_tc_token(b, &entry(&[1], 10, Some(9_000))).await.unwrap();
    dev.touch_tc_token_sender_timestamp(b, 4_000).await.unwrap();
    assert_eq!(get(&dev, b).await, Some((vec![1], 10, Some(9_000))));
}

#[tokio::test]
async fn store_received_inserts_and_preserves_sender_timestamp() {
    let (_db, _store, dev) = fresh().await;
    let (a, b) = ("100000000000001@lid", "100000000000002@lid");

    dev.store_received_tc_token(b, &[9], 4_000).await.unwrap();
    assert_eq!(
        get(&dev, b).await,
        Some((vec![9], 4_000, None)),
        "fresh row has no sender bucket"
    );

    dev.touch_tc_token_sender_timestamp(a, 5_000).await.unwrap();
    dev.store_received_tc_token(a, &[1, 2, 3], 4_000).await.unwrap();
    assert_eq!(get(&dev, a).await, Some((vec![1, 2, 3], 4_000, Some(5_000))));

    dev.store_received_tc_token(a, &[4, 5], 6_000).await.unwrap();
    assert_eq!(
        get(&dev, a).await,
        Some((vec![4, 5], 6_000, Some(5_000))),
        "sender kept on update"
    );
}

#[tokio::test]
async fn store_received_is_newer_wins() {
    let (_db, _store, dev) = fresh().await;
    let jid = "100000000000001@lid";

    dev.store_received_tc_token(jid, &[1, 1, 1], 5_000).await.unwrap();
    dev.touch_tc_token_sender_timestamp(jid, 100).await.unwrap();

    dev.store_received_tc_token(jid, &[2, 2, 2], 3_000).await.unwrap();
    assert_eq!(
        get(&dev, jid).await,
        Some((vec![1, 1, 1], 5_000, Some(100))),
        "stale write ignored"
    );

    dev.store_received_tc_token(jid, &[3, 3, 3], 5_000).await.unwrap();
    assert_eq!(
        get(&dev, jid).await,
        Some((vec![3, 3, 3], 5_000, Some(100))),
        "equal timestamp overwrites"
    );

    dev.store_received_tc_token(jid, &[4], 7_000).await.unwrap();
    assert_eq!(get(&dev, jid).await, Some((vec![4], 7_000, Some(100))), "newer wins");
    dev.store_received_tc_token(jid, &[5], 6_999).await.unwrap();
    assert_eq!(get(&dev, jid).await, Some((vec![4], 7_000, Some(100))));
}

#[tokio::test]
async fn placeholder_never_blocks_a_real_token() {
    let (_db, _store, dev) = fresh().await;
    let (a, b) = ("100000000000001@lid", "100000000000002@lid");

    // The placeholder carries the sender epoch (9000) as its token_timestamp;
    // an older real token must still replace it.
    dev.touch_tc_token_sender_timestamp(a, 9_000).await.unwrap();
    dev.store_received_tc_token(a, &[4, 4, 4], 6_000).await.unwrap();
    assert_eq!(get(&dev, a).await, Some((vec![4, 4, 4], 6_000, Some(9_000))));
    // Now it is a real token: a stale write is ignored again.
    dev.store_received_tc_token(a, &[5], 5_000).await.unwrap();
    assert_eq!(get(&dev, a).await, Some((vec![4, 4, 4], 6_000, Some(9_000))));

    // Same for a byte-less entry written through put_tc_token.
    dev.put_tc_token(b, &entry(&[], 50_000, None)).await.unwrap();
    dev.store_received_tc_token(b, &[6], 1).await.unwrap();
    assert_eq!(get(&dev, b).await, Some((vec![6], 1, None)));
}

#[tokio::test]
async fn delete_expired_uses_both_windows() {
    let (_db, _store, dev) = fresh().await;
    let (token_cutoff, sender_cutoff) = (1_000, 2_000);

    // Placeholder whose sender bucket is live → kept.
    dev.touch_tc_token_sender_timestamp("recent_ph", 2_500).await.unwrap();
    // Placeholder with both windows passed → pruned.
    dev.touch_tc_token_sender_timestamp("stale_ph", 100).await.unwrap();
    // Placeholder: its token_timestamp (1500) is recent but there are no token
    // bytes, so only the (stale) sender bucket counts → pruned.
    dev.touch_tc_token_sender_timestamp("ph_stale_sender", 1_500)
        .await
        .unwrap();
    // Expired token but live sender bucket → kept.
    dev.put_tc_token("expired_tok_live_sender", &entry(&[1], 1, Some(2_500)))
        .await
        .unwrap();
    // Expired token, no sender bucket → pruned.
    dev.put_tc_token("orphan_expired", &entry(&[2], 1, None)).await.unwrap();
    // Fresh received token, no sender bucket → kept.
    dev.put_tc_token("fresh_tok", &entry(&[3], 5_000, None)).await.unwrap();
    // Exactly at the cutoffs is not expired (expired means `< cutoff`).
    dev.put_tc_token("tok_at_cutoff", &entry(&[4], token_cutoff, None))
        .await
        .unwrap();
    dev.put_tc_token("sender_at_cutoff", &entry(&[5], 1, Some(sender_cutoff)))
        .await
        .unwrap();
    // Just below both cutoffs → pruned.
    dev.put_tc_token(
        "both_just_stale",
        &entry(&[6], token_cutoff - 1, Some(sender_cutoff - 1)),
    )
    .await
    .unwrap();

    let removed = dev.delete_expired_tc_tokens(token_cutoff, sender_cutoff).await.unwrap();
    assert_eq!(removed, 4, "only fully-stale rows are pruned");
    assert_eq!(
        sorted(dev.get_all_tc_token_jids().await.unwrap()),
        sorted(
            [
                "recent_ph",
                "expired_tok_live_sender",
                "fresh_tok",
                "tok_at_cutoff",
                "sender_at_cutoff"
            ]
            .map(String::from)
            .to_vec()
        )
    );
    assert_eq!(
        get(&dev, "expired_tok_live_sender").await,
        Some((vec![1], 1, Some(2_500)))
    );
    assert_eq!(
        dev.delete_expired_tc_tokens(token_cutoff, sender_cutoff).await.unwrap(),
        0
    );

    // Moving both windows past everything prunes the rest.
    assert_eq!(dev.delete_expired_tc_tokens(i64::MAX, i64::MAX).await.unwrap(), 5);
    assert!(dev.get_all_tc_token_jids().await.unwrap().is_empty());
}
