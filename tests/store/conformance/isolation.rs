//! Device isolation: devices sharing one database never see each other's rows
//! for any kind of data, device-wide operations (clear-all, expiry sweeps) stay
//! within their device, and `Store::wipe_device` empties exactly one device.

use super::fixture::{self, assert_every_kind, assert_nothing, write_every_kind};
use super::{far_future, fresh, new_device};
use whatsapp_rust::wacore::store::traits::*;

#[tokio::test]
async fn devices_do_not_see_each_others_rows() {
    let (_db, store, dev_a) = fresh().await;
    let (_, dev_b) = new_device(&store).await;
    let (_, dev_c) = new_device(&store).await;

    // A writes everything; B and C see nothing.
    let device_a = write_every_kind(&dev_a, 1).await;
    assert_nothing(&dev_b, "B before writing").await;
    assert_nothing(&dev_c, "C before writing").await;

    // B writes the same keys with other values; each reads its own.
    let device_b = write_every_kind(&dev_b, 2).await;
    assert_every_kind(&dev_a, 1, &device_a).await;
    assert_every_kind(&dev_b, 2, &device_b).await;
    assert_nothing(&dev_c, "C, never written").await;
}

#[tokio::test]
async fn deletes_in_one_device_leave_the_other_intact() {
    let (_db, store, dev_a) = fresh().await;
    let (_, dev_b) = new_device(&store).await;
    write_every_kind(&dev_a, 1).await;
    let device_b = write_every_kind(&dev_b, 2).await;

    // Every per-key delete, on A.
    dev_a.delete_identity(fixture::ADDR).await.unwrap();
    dev_a.delete_session(fixture::ADDR).await.unwrap();
    dev_a.remove_prekey(fixture::PREKEY_ID).await.unwrap();
    dev_a.remove_signed_prekey(fixture::SIGNED_PREKEY_ID).await.unwrap();
    dev_a.delete_sender_key(fixture::SENDER_KEY).await.unwrap();
    dev_a
        .delete_mutation_macs(fixture::COLLECTION, &[fixture::INDEX_MAC.to_vec()])
        .await
        .unwrap();
    dev_a.clear_sender_key_devices(fixture::GROUP).await.unwrap();
    dev_a.delete_base_key(fixture::ADDR, fixture::MSG_ID).await.unwrap();
    dev_a.delete_devices(fixture::USER).await.unwrap();
    dev_a.delete_group_metadata(fixture::GROUP).await.unwrap();
    dev_a.delete_tc_token(fixture::TC_JID).await.unwrap();
    dev_a
        .delete_pending_inbound(fixture::CHAT, fixture::ADDR, fixture::MSG_ID)
        .await
        .unwrap();
    assert!(
        dev_a
            .take_sent_message(fixture::CHAT, fixture::MSG_ID)
            .await
            .unwrap()
            .is_some()
    );

    assert_every_kind(&dev_b, 2, &device_b).await;
}

#[tokio::test]
async fn device_wide_operations_stay_within_the_device() {
    let (_db, store, dev_a) = fresh().await;
    let (_, dev_b) = new_device(&store).await;
    write_every_kind(&dev_a, 1).await;
    let device_b = write_every_kind(&dev_b, 2).await;
    // Give B rows every sweep below would remove if it crossed devices.
    dev_b
        .put_msg_secrets(vec![MsgSecretEntry {
            chat: fixture::CHAT.into(),
            sender: fixture::CHAT.into(),
            msg_id: "EXPIRING".into(),
            secret: [2; 32],
            expires_at: 100,
            message_ts: 0,
        }])
        .await
        .unwrap();

    // Sweeps and clear-alls with cutoffs that match everything, on A.
    dev_a.clear_all_sender_key_devices().await.unwrap();
    dev_a.delete_sender_key_device_rows(&[fixture::ADDR]).await.unwrap();
    dev_a.clear_mutation_macs(fixture::COLLECTION).await.unwrap();
    dev_a.mark_prekeys_uploaded(&[fixture::PREKEY_ID]).await.unwrap();
    assert_eq!(dev_a.delete_expired_sent_messages(far_future()).await.unwrap(), 1);
    assert_eq!(dev_a.delete_expired_pending_inbound(far_future()).await.unwrap(), 1);
    assert_eq!(dev_a.delete_expired_tc_tokens(i64::MAX, i64::MAX).await.unwrap(), 1);
    assert_eq!(
        dev_a.delete_expired_msg_secrets(i64::MAX).await.unwrap(),
        0,
        "A's secret never expires"
    );

    assert_every_kind(&dev_b, 2, &device_b).await;
    assert_eq!(
        dev_b
            .get_msg_secret(fixture::CHAT, fixture::CHAT, "EXPIRING")
            .await
            .unwrap(),
        Some(vec![2; 32])
    );
    // B's own sweep removes only B's expiring secret.
    assert_eq!(dev_b.delete_expired_msg_secrets(i64::MAX).await.unwrap(), 1);
}

#[tokio::test]
async fn wipe_empties_one_device_only() {
    let (_db, store, dev_a) = fresh().await;
    let (id_b, dev_b) = new_device(&store).await;
    let (id_c, dev_c) = new_device(&store).await;
    let device_a = write_every_kind(&dev_a, 1).await;
    let device_b = write_every_kind(&dev_b, 2).await;
    // Extra rows beyond the fixture keys, so "wiped" cannot mean "the fixture keys".
    dev_b
        .put_session("15559999999:2@s.whatsapp.net", b"extra")
        .await
        .unwrap();
    dev_b
        .store_prekeys_batch(&[(100, super::bytes(b"p100")), (101, super::bytes(b"p101"))], true)
        .await
        .unwrap();

    store.wipe_device(id_b).await.unwrap();
    assert_nothing(&dev_b, "B after wipe").await;
    assert_eq!(dev_b.get_session("15559999999:2@s.whatsapp.net").await.unwrap(), None);
    assert!(dev_b.load_prekeys_batch(&[100, 101]).await.unwrap().is_empty());
    assert_every_kind(&dev_a, 1, &device_a).await;

    // A fresh handle on the wiped id sees the same emptiness.
    assert_nothing(&store.device(id_b), "new handle on wiped B").await;

    // Wiping a device that never held anything touches nobody else.
    store.wipe_device(id_c).await.unwrap();
    assert_nothing(&dev_c, "C after wipe").await;
    assert_every_kind(&dev_a, 1, &device_a).await;
    let _ = device_b;
}

/// A session's client may still write after its device was wiped (an
/// app-state sync that was under way at logout, found on the real engine
/// against the WhatsApp simulator): those writes must not bring a row back.
#[tokio::test]
async fn a_wiped_device_stays_wiped_whatever_its_handles_write_later() {
    let (_db, store, dev_a) = fresh().await;
    let device_a = write_every_kind(&dev_a, 1).await;
    let rows_of_a = store.device_row_count().await.unwrap();
    let (id_b, dev_b) = new_device(&store).await;
    write_every_kind(&dev_b, 2).await;
    assert!(store.device_row_count().await.unwrap() > rows_of_a);

    store.wipe_device(id_b).await.unwrap();
    // The old handle (the client's) writes everything again, the device row included.
    write_every_kind(&dev_b, 3).await;
    assert_nothing(&dev_b, "B written after its wipe").await;
    assert_nothing(&store.device(id_b), "a new handle on wiped B").await;
    assert!(!dev_b.exists().await.unwrap(), "the device row stays deleted");
    assert_eq!(store.device_row_count().await.unwrap(), rows_of_a, "only A's rows");
    assert_every_kind(&dev_a, 1, &device_a).await;
}
