//! `SignalStore`: identities, sessions (incl. `has_session` and
//! `has_signal_state_for_user`), one-time pre-keys (incl. the UPDATE-only
//! `mark_prekeys_uploaded` and `get_max_prekey_id`), signed pre-keys and sender
//! keys, with their batch variants.

use whatsapp_rust::wacore::store::traits::SignalStore;

use super::{arc, bytes, fresh, sorted};

const ALICE: &str = "15550001111:1@s.whatsapp.net";
const BOB: &str = "15550002222@s.whatsapp.net";
const CAROL: &str = "100000000000003:7@lid";

#[tokio::test]
async fn identity_put_load_overwrite_delete() {
    let (_db, _store, dev) = fresh().await;

    assert_eq!(dev.load_identity(ALICE).await.unwrap(), None, "absent identity");

    dev.put_identity(ALICE, [1; 32]).await.unwrap();
    dev.put_identity(BOB, [2; 32]).await.unwrap();
    assert_eq!(dev.load_identity(ALICE).await.unwrap(), Some([1; 32]));
    assert_eq!(dev.load_identity(BOB).await.unwrap(), Some([2; 32]));

    let mut key = [0u8; 32];
    key.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8 * 7);
    dev.put_identity(ALICE, key).await.unwrap();
    assert_eq!(
        dev.load_identity(ALICE).await.unwrap(),
        Some(key),
        "upsert replaces the key"
    );
    assert_eq!(
        dev.load_identity(BOB).await.unwrap(),
        Some([2; 32]),
        "other address untouched"
    );

    dev.delete_identity(ALICE).await.unwrap();
    assert_eq!(dev.load_identity(ALICE).await.unwrap(), None);
    assert_eq!(dev.load_identity(BOB).await.unwrap(), Some([2; 32]));
    // Deleting something absent is not an error.
    dev.delete_identity(ALICE).await.unwrap();
    dev.delete_identity("nobody@s.whatsapp.net").await.unwrap();
}

#[tokio::test]
async fn identities_batch_inserts_and_upserts() {
    let (_db, _store, dev) = fresh().await;
    dev.put_identity(ALICE, [9; 32]).await.unwrap();

    dev.put_identities_batch(&[]).await.unwrap();
    dev.put_identities_batch(&[(arc(ALICE), [1; 32]), (arc(BOB), [2; 32]), (arc(CAROL), [3; 32])])
        .await
        .unwrap();

    assert_eq!(
        dev.load_identity(ALICE).await.unwrap(),
        Some([1; 32]),
        "batch overwrites"
    );
    assert_eq!(dev.load_identity(BOB).await.unwrap(), Some([2; 32]));
    assert_eq!(dev.load_identity(CAROL).await.unwrap(), Some([3; 32]));
}

#[tokio::test]
async fn session_put_get_overwrite_delete_and_has_session() {
    let (_db, _store, dev) = fresh().await;

    assert_eq!(dev.get_session(ALICE).await.unwrap(), None);
    assert!(!dev.has_session(ALICE).await.unwrap());

    dev.put_session(ALICE, b"session-a-v1").await.unwrap();
    dev.put_session(BOB, b"session-b").await.unwrap();
    assert_eq!(
        dev.get_session(ALICE).await.unwrap().as_deref(),
        Some(&b"session-a-v1"[..])
    );
    assert!(dev.has_session(ALICE).await.unwrap());
    assert!(
        !dev.has_session(CAROL).await.unwrap(),
        "a different address has no session"
    );

    dev.put_session(ALICE, b"session-a-v2").await.unwrap();
    assert_eq!(
        dev.get_session(ALICE).await.unwrap().as_deref(),
        Some(&b"session-a-v2"[..])
    );

    // Records are opaque bytes: NULs, high bytes and an empty record survive.
    let binary: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    dev.put_session(CAROL, &binary).await.unwrap();
    assert_eq!(dev.get_session(CAROL).await.unwrap().as_deref(), Some(&binary[..]));
    dev.put_session(CAROL, b"").await.unwrap();
    assert_eq!(dev.get_session(CAROL).await.unwrap().as_deref(), Some(&b""[..]));
    assert!(
        dev.has_session(CAROL).await.unwrap(),
        "an empty record is still a session"
    );

    dev.delete_session(ALICE).await.unwrap();
    assert_eq!(dev.get_session(ALICE).await.unwrap(), None);
    assert!(!dev.has_session(ALICE).await.unwrap());
    assert_eq!(dev.get_session(BOB).await.unwrap().as_deref(), Some(&b"session-b"[..]));
    dev.delete_session(ALICE).await.unwrap();
}

#[tokio::test]
async fn sessions_batch_inserts_upserts_and_last_duplicate_wins() {
    let (_db, _store, dev) = fresh().await;
    dev.put_session(ALICE, b"old").await.unwrap();

    dev.put_sessions_batch(&[]).await.unwrap();
    dev.put_sessions_batch(&[
        (arc(ALICE), bytes(b"new-a")),
        (arc(BOB), bytes(b"first-b")),
        (arc(CAROL), bytes(b"c")),
        // The same address twice in one batch: the later entry is the state.
        (arc(BOB), bytes(b"second-b")),
    ])
    .await
    .unwrap();

    assert_eq!(dev.get_session(ALICE).await.unwrap().as_deref(), Some(&b"new-a"[..]));
    assert_eq!(dev.get_session(BOB).await.unwrap().as_deref(), Some(&b"second-b"[..]));
    assert_eq!(dev.get_session(CAROL).await.unwrap().as_deref(), Some(&b"c"[..]));
}

#[tokio::test]
async fn has_signal_state_for_user_matches_whole_user_part_only() {
    let (_db, _store, dev) = fresh().await;
    let user = "15550001111";

    assert!(
        !dev.has_signal_state_for_user(user).await.unwrap(),
        "nothing stored yet"
    );

    // Companion-device session `user:dev@server`.
    dev.put_session("15550001111:3@s.whatsapp.net", b"s").await.unwrap();
    assert!(dev.has_signal_state_for_user(user).await.unwrap());
    // Neither a prefix, an extension nor a suffix of the user part matches.
    assert!(!dev.has_signal_state_for_user("1555000111").await.unwrap());
    assert!(!dev.has_signal_state_for_user("155500011112").await.unwrap());
    assert!(!dev.has_signal_state_for_user("5550001111").await.unwrap());
    dev.delete_session("15550001111:3@s.whatsapp.net").await.unwrap();
    assert!(
        !dev.has_signal_state_for_user(user).await.unwrap(),
        "state gone with the session"
    );

    // Primary-device identity `user@server`.
    dev.put_identity("15550001111@lid", [4; 32]).await.unwrap();
    assert!(dev.has_signal_state_for_user(user).await.unwrap());
    assert!(!dev.has_signal_state_for_user("1555000111").await.unwrap());
    dev.delete_identity("15550001111@lid").await.unwrap();
    assert!(!dev.has_signal_state_for_user(user).await.unwrap());

    // A longer user sharing the prefix gives no state to the shorter one.
    dev.put_session("155500011112@s.whatsapp.net", b"s").await.unwrap();
    dev.put_identity("155500011112:2@s.whatsapp.net", [5; 32])
        .await
        .unwrap();
    assert!(!dev.has_signal_state_for_user(user).await.unwrap());
    assert!(dev.has_signal_state_for_user("155500011112").await.unwrap());
}

#[tokio::test]
async fn prekey_store_load_overwrite_remove() {
    let (_db, _store, dev) = fresh().await;

    assert_eq!(dev.load_prekey(1).await.unwrap(), None);

    dev.store_prekey(1, b"pk-1", false).await.unwrap();
    dev.store_prekey(2, b"pk-2", true).await.unwrap();
    assert_eq!(dev.load_prekey(1).await.unwrap().as_deref(), Some(&b"pk-1"[..]));
    assert_eq!(dev.load_prekey(2).await.unwrap().as_deref(), Some(&b"pk-2"[..]));

    dev.store_prekey(1, b"pk-1-again", true).await.unwrap();
    assert_eq!(dev.load_prekey(1).await.unwrap().as_deref(), Some(&b"pk-1-again"[..]));

    dev.remove_prekey(1).await.unwrap();
    assert_eq!(dev.load_prekey(1).await.unwrap(), None);
    assert_eq!(dev.load_prekey(2).await.unwrap().as_deref(), Some(&b"pk-2"[..]));
    dev.remove_prekey(1).await.unwrap();
    dev.remove_prekey(999).await.unwrap();
}

#[tokio::test]
async fn max_prekey_id_tracks_stored_ids() {
    let (_db, _store, dev) = fresh().await;
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 0, "0 when empty");

    dev.store_prekey(5, b"5", false).await.unwrap();
    dev.store_prekey(3, b"3", false).await.unwrap();
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 5);

    // Pre-key ids are 24-bit on the wire; the largest must survive.
    dev.store_prekeys_batch(&[(10, bytes(b"10")), (0x00FF_FFFF, bytes(b"max"))], false)
        .await
        .unwrap();
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 0x00FF_FFFF);
    assert_eq!(
        dev.load_prekey(0x00FF_FFFF).await.unwrap().as_deref(),
        Some(&b"max"[..])
    );

    dev.remove_prekey(0x00FF_FFFF).await.unwrap();
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 10, "max follows removals");
    for id in [3, 5, 10] {
        dev.remove_prekey(id).await.unwrap();
    }
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 0, "0 again when emptied");
}

#[tokio::test]
async fn prekeys_batch_store_and_load() {
    let (_db, _store, dev) = fresh().await;
    dev.store_prekey(2, b"old-2", false).await.unwrap();

    dev.store_prekeys_batch(&[], true).await.unwrap();
    dev.store_prekeys_batch(&[(1, bytes(b"a")), (2, bytes(b"b")), (3, bytes(b"c"))], false)
        .await
        .unwrap();
    assert_eq!(
        dev.load_prekey(2).await.unwrap().as_deref(),
        Some(&b"b"[..]),
        "batch upserts"
    );

    // Only existing keys come back, each with its own record.
    let got = dev.load_prekeys_batch(&[3, 42, 1, 2, 7]).await.unwrap();
    let got: Vec<(u32, Vec<u8>)> = sorted(got.into_iter().map(|(id, r)| (id, r.to_vec())).collect());
    assert_eq!(got, vec![(1, b"a".to_vec()), (2, b"b".to_vec()), (3, b"c".to_vec())]);

    assert!(dev.load_prekeys_batch(&[]).await.unwrap().is_empty());
    assert!(dev.load_prekeys_batch(&[100, 101]).await.unwrap().is_empty());
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 3);
}

#[tokio::test]
async fn mark_prekeys_uploaded_updates_existing_and_never_resurrects() {
    let (_db, _store, dev) = fresh().await;
    dev.store_prekey(1, b"one", false).await.unwrap();
    dev.store_prekey(2, b"two", false).await.unwrap();
    dev.store_prekeys_batch(&[(3, bytes(b"three")), (4, bytes(b"four"))], false)
        .await
        .unwrap();

    // Key 2 is consumed between the upload snapshot and the mark.
    dev.remove_prekey(2).await.unwrap();
    dev.mark_prekeys_uploaded(&[]).await.unwrap();
    dev.mark_prekeys_uploaded(&[1, 2, 3, 4, 50]).await.unwrap();

    assert_eq!(
        dev.load_prekey(1).await.unwrap().as_deref(),
        Some(&b"one"[..]),
        "record kept"
    );
    assert_eq!(dev.load_prekey(3).await.unwrap().as_deref(), Some(&b"three"[..]));
    assert_eq!(dev.load_prekey(4).await.unwrap().as_deref(), Some(&b"four"[..]));
    assert_eq!(
        dev.load_prekey(2).await.unwrap(),
        None,
        "a removed key must stay removed"
    );
    assert_eq!(
        dev.load_prekey(50).await.unwrap(),
        None,
        "a never-stored key must not appear"
    );
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 4, "no row for id 50");
    let loaded = dev.load_prekeys_batch(&[1, 2, 3, 4, 50]).await.unwrap();
    assert_eq!(sorted(loaded.into_iter().map(|(id, _)| id).collect()), vec![1, 3, 4]);

    // Marking again is idempotent, and a marked key can still be consumed.
    dev.mark_prekeys_uploaded(&[1, 3]).await.unwrap();
    dev.remove_prekey(1).await.unwrap();
    assert_eq!(dev.load_prekey(1).await.unwrap(), None);
}

#[tokio::test]
async fn signed_prekey_store_load_all_overwrite_remove() {
    let (_db, _store, dev) = fresh().await;

    assert_eq!(dev.load_signed_prekey(1).await.unwrap(), None);
    assert!(dev.load_all_signed_prekeys().await.unwrap().is_empty());

    dev.store_signed_prekey(2, b"spk-2").await.unwrap();
    dev.store_signed_prekey(1, b"spk-1").await.unwrap();
    dev.store_signed_prekey(0x00FF_FFFF, b"spk-max").await.unwrap();
    assert_eq!(dev.load_signed_prekey(1).await.unwrap(), Some(b"spk-1".to_vec()));

    dev.store_signed_prekey(2, b"spk-2-rotated").await.unwrap();
    assert_eq!(
        dev.load_signed_prekey(2).await.unwrap(),
        Some(b"spk-2-rotated".to_vec())
    );
    assert_eq!(
        sorted(dev.load_all_signed_prekeys().await.unwrap()),
        vec![
            (1, b"spk-1".to_vec()),
            (2, b"spk-2-rotated".to_vec()),
            (0x00FF_FFFF, b"spk-max".to_vec())
        ]
    );

    dev.remove_signed_prekey(1).await.unwrap();
    dev.remove_signed_prekey(77).await.unwrap();
    assert_eq!(dev.load_signed_prekey(1).await.unwrap(), None);
    assert_eq!(
        sorted(dev.load_all_signed_prekeys().await.unwrap()),
        vec![(2, b"spk-2-rotated".to_vec()), (0x00FF_FFFF, b"spk-max".to_vec())]
    );
}

#[tokio::test]
async fn signed_and_one_time_prekeys_are_separate_namespaces() {
    let (_db, _store, dev) = fresh().await;
    dev.store_prekey(1, b"one-time", false).await.unwrap();
    dev.store_signed_prekey(1, b"signed").await.unwrap();

    assert_eq!(dev.load_prekey(1).await.unwrap().as_deref(), Some(&b"one-time"[..]));
    assert_eq!(dev.load_signed_prekey(1).await.unwrap(), Some(b"signed".to_vec()));
    dev.remove_signed_prekey(1).await.unwrap();
    assert_eq!(dev.load_prekey(1).await.unwrap().as_deref(), Some(&b"one-time"[..]));
    dev.store_signed_prekey(9, b"signed-9").await.unwrap();
    assert_eq!(
        dev.get_max_prekey_id().await.unwrap(),
        1,
        "signed ids are not one-time ids"
    );
}

#[tokio::test]
async fn sender_key_put_get_overwrite_delete_and_batch() {
    let (_db, _store, dev) = fresh().await;
    let g1 = "120363000000000001@g.us::15550001111::1";
    let g2 = "120363000000000002@g.us::15550001111::1";
    let g3 = "120363000000000001@g.us::100000000000003::7";

    assert_eq!(dev.get_sender_key(g1).await.unwrap(), None);

    dev.put_sender_key(g1, b"sk-1").await.unwrap();
    assert_eq!(dev.get_sender_key(g1).await.unwrap(), Some(b"sk-1".to_vec()));
    dev.put_sender_key(g1, b"sk-1-v2").await.unwrap();
    assert_eq!(dev.get_sender_key(g1).await.unwrap(), Some(b"sk-1-v2".to_vec()));

    dev.put_sender_keys_batch(&[]).await.unwrap();
    dev.put_sender_keys_batch(&[
        (arc(g1), bytes(b"sk-1-v3")),
        (arc(g2), bytes(b"sk-2")),
        (arc(g3), bytes(b"sk-3-first")),
        (arc(g3), bytes(b"sk-3-last")),
    ])
    .await
    .unwrap();
    assert_eq!(dev.get_sender_key(g1).await.unwrap(), Some(b"sk-1-v3".to_vec()));
    assert_eq!(dev.get_sender_key(g2).await.unwrap(), Some(b"sk-2".to_vec()));
    assert_eq!(dev.get_sender_key(g3).await.unwrap(), Some(b"sk-3-last".to_vec()));

    dev.delete_sender_key(g1).await.unwrap();
    dev.delete_sender_key(g1).await.unwrap();
    assert_eq!(dev.get_sender_key(g1).await.unwrap(), None);
    assert_eq!(dev.get_sender_key(g2).await.unwrap(), Some(b"sk-2".to_vec()));
}

/// Batches far beyond any bind-parameter limit (SQLite 32766, PostgreSQL 65535)
/// must be split, not rejected. 65535 ids is the largest configurable upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_are_accepted_whole() {
    let (_db, _store, dev) = fresh().await;

    let sessions: Vec<_> = (0..5_000)
        .map(|i| {
            (
                arc(&format!("1555{i:07}:1@s.whatsapp.net")),
                bytes(format!("s{i}").as_bytes()),
            )
        })
        .collect();
    dev.put_sessions_batch(&sessions).await.unwrap();
    let identities: Vec<_> = (0..5_000u32)
        .map(|i| (arc(&format!("1555{i:07}@lid")), [(i % 251) as u8; 32]))
        .collect();
    dev.put_identities_batch(&identities).await.unwrap();
    let sender_keys: Vec<_> = (0..5_000)
        .map(|i| (arc(&format!("1203630{i:07}@g.us::1555::1")), bytes(b"sk")))
        .collect();
    dev.put_sender_keys_batch(&sender_keys).await.unwrap();

    let prekeys: Vec<_> = (1..=20_000u32).map(|i| (i, bytes(&i.to_be_bytes()))).collect();
    dev.store_prekeys_batch(&prekeys, false).await.unwrap();
    let all_ids: Vec<u32> = (1..=u16::MAX as u32).collect();
    dev.mark_prekeys_uploaded(&all_ids).await.unwrap();
    let loaded = dev.load_prekeys_batch(&all_ids).await.unwrap();
    assert_eq!(
        loaded.len(),
        20_000,
        "every stored key loads, nothing is created by the mark"
    );
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 20_000);

    assert_eq!(
        dev.get_session("15550004999:1@s.whatsapp.net")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"s4999"[..])
    );
    assert_eq!(
        dev.get_session("15550000000:1@s.whatsapp.net")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"s0"[..])
    );
    assert_eq!(
        dev.load_identity("15550004999@lid").await.unwrap(),
        Some([(4999 % 251) as u8; 32])
    );
    assert_eq!(
        dev.get_sender_key("12036300004999@g.us::1555::1").await.unwrap(),
        Some(b"sk".to_vec())
    );
    assert_eq!(
        dev.load_prekey(12_345).await.unwrap().as_deref(),
        Some(&12_345u32.to_be_bytes()[..])
    );
}
