//! `ProtocolStore` (except tc tokens, sent messages and pending inbound, which
//! have their own files): per-device sender-key tracking, LID-PN mappings,
//! base-key collision detection, the device registry and group metadata.

use whatsapp_rust::wacore::store::traits::{DeviceInfo, DeviceListRecord, LidPnMappingEntry, ProtocolStore};

use super::{fresh, json, sorted};

const G1: &str = "120363000000000001@g.us";
const G2: &str = "120363000000000002@g.us";
const D1: &str = "15550001111:1@s.whatsapp.net";
const D2: &str = "15550002222:0@s.whatsapp.net";
const D3: &str = "100000000000003:7@lid";

fn skd(v: &[(&str, bool)]) -> Vec<(String, bool)> {
    sorted(v.iter().map(|(j, k)| (j.to_string(), *k)).collect())
}

#[tokio::test]
async fn sender_key_devices_set_get_overwrite_and_clear_group() {
    let (_db, _store, dev) = fresh().await;
    assert!(dev.get_sender_key_devices(G1).await.unwrap().is_empty());

    dev.set_sender_key_status(G1, &[]).await.unwrap();
    dev.set_sender_key_status(G1, &[(D1, true), (D2, false)]).await.unwrap();
    dev.set_sender_key_status(G2, &[(D1, false)]).await.unwrap();
    assert_eq!(
        sorted(dev.get_sender_key_devices(G1).await.unwrap()),
        skd(&[(D1, true), (D2, false)])
    );

    // Overwrite one flag, add a device, keep the rest.
    dev.set_sender_key_status(G1, &[(D1, false), (D3, true)]).await.unwrap();
    dev.set_sender_key_status(G1, &[(D2, true)]).await.unwrap();
    assert_eq!(
        sorted(dev.get_sender_key_devices(G1).await.unwrap()),
        skd(&[(D1, false), (D2, true), (D3, true)])
    );
    assert_eq!(
        sorted(dev.get_sender_key_devices(G2).await.unwrap()),
        skd(&[(D1, false)])
    );

    dev.clear_sender_key_devices(G1).await.unwrap();
    assert!(dev.get_sender_key_devices(G1).await.unwrap().is_empty());
    assert_eq!(
        sorted(dev.get_sender_key_devices(G2).await.unwrap()),
        skd(&[(D1, false)]),
        "other group kept"
    );
    dev.clear_sender_key_devices(G1).await.unwrap();

    // Tracking restarts cleanly after a rotation.
    dev.set_sender_key_status(G1, &[(D3, false)]).await.unwrap();
    assert_eq!(
        sorted(dev.get_sender_key_devices(G1).await.unwrap()),
        skd(&[(D3, false)])
    );
}

#[tokio::test]
async fn sender_key_device_rows_delete_across_groups_and_clear_all() {
    let (_db, _store, dev) = fresh().await;
    dev.set_sender_key_status(G1, &[(D1, true), (D2, true), (D3, false)])
        .await
        .unwrap();
    dev.set_sender_key_status(G2, &[(D1, true), (D3, true)]).await.unwrap();

    dev.delete_sender_key_device_rows(&[]).await.unwrap();
    dev.delete_sender_key_device_rows(&[D1, D3, "absent:1@s.whatsapp.net"])
        .await
        .unwrap();
    assert_eq!(
        sorted(dev.get_sender_key_devices(G1).await.unwrap()),
        skd(&[(D2, true)])
    );
    assert!(dev.get_sender_key_devices(G2).await.unwrap().is_empty());

    dev.set_sender_key_status(G2, &[(D1, true)]).await.unwrap();
    dev.clear_all_sender_key_devices().await.unwrap();
    assert!(dev.get_sender_key_devices(G1).await.unwrap().is_empty());
    assert!(dev.get_sender_key_devices(G2).await.unwrap().is_empty());
    dev.clear_all_sender_key_devices().await.unwrap();
}

#[tokio::test]
async fn sender_key_status_large_batch() {
    let (_db, _store, dev) = fresh().await;
    let jids: Vec<String> = (0..3_000).map(|i| format!("1555{i:07}:1@s.whatsapp.net")).collect();
    let entries: Vec<(&str, bool)> = jids.iter().enumerate().map(|(i, j)| (j.as_str(), i % 2 == 0)).collect();
    dev.set_sender_key_status(G1, &entries).await.unwrap();
    assert_eq!(dev.get_sender_key_devices(G1).await.unwrap().len(), 3_000);

    let doomed: Vec<&str> = jids.iter().take(2_500).map(String::as_str).collect();
    dev.delete_sender_key_device_rows(&doomed).await.unwrap();
    let left = sorted(dev.get_sender_key_devices(G1).await.unwrap());
    assert_eq!(left.len(), 500);
    assert_eq!(left[0], (jids[2_500].clone(), true));
}

fn mapping(lid: &str, pn: &str, created: i64, updated: i64, source: &str) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.into(),
        phone_number: pn.into(),
        created_at: created,
        updated_at: updated,
        learning_source: source.into(),
    }
}

fn by_lid(mut v: Vec<LidPnMappingEntry>) -> serde_json::Value {
    v.sort_by(|a, b| a.lid.cmp(&b.lid));
    json(&v)
}

#[tokio::test]
async fn lid_mapping_put_get_and_update_keeps_created_at() {
    let (_db, _store, dev) = fresh().await;
    let lid = "100000012345678";

    assert!(dev.get_lid_mapping(lid).await.unwrap().is_none());
    assert!(dev.get_pn_mapping("559980000001").await.unwrap().is_none());
    assert!(dev.get_all_lid_mappings().await.unwrap().is_empty());

    let first = mapping(lid, "559980000001", 1_000, 1_000, "usync");
    dev.put_lid_mapping(&first).await.unwrap();
    assert_eq!(
        json(&dev.get_lid_mapping(lid).await.unwrap()),
        json(&Some(first.clone()))
    );
    assert_eq!(
        json(&dev.get_pn_mapping("559980000001").await.unwrap()),
        json(&Some(first.clone()))
    );

    // Re-learning the same LID: created_at stays, everything else is updated.
    dev.put_lid_mapping(&mapping(lid, "559980000002", 5_000, 6_000, "peer_pn_message"))
        .await
        .unwrap();
    let expected = mapping(lid, "559980000002", 1_000, 6_000, "peer_pn_message");
    assert_eq!(
        json(&dev.get_lid_mapping(lid).await.unwrap()),
        json(&Some(expected.clone()))
    );
    assert_eq!(
        json(&dev.get_pn_mapping("559980000002").await.unwrap()),
        json(&Some(expected.clone()))
    );
    assert!(
        dev.get_pn_mapping("559980000001").await.unwrap().is_none(),
        "the old phone no longer maps to the re-mapped LID"
    );
    assert_eq!(by_lid(dev.get_all_lid_mappings().await.unwrap()), json(&vec![expected]));
}

#[tokio::test]
async fn pn_mapping_returns_the_latest_updated_lid() {
    let (_db, _store, dev) = fresh().await;
    let pn = "559980000001";
    // Written newest first, so "last written" and "latest updated_at" differ.
    dev.put_lid_mapping(&mapping("100000000000002", pn, 100, 900, "usync"))
        .await
        .unwrap();
    dev.put_lid_mapping(&mapping("100000000000001", pn, 100, 500, "usync"))
        .await
        .unwrap();
    dev.put_lid_mapping(&mapping("100000000000003", pn, 100, 700, "usync"))
        .await
        .unwrap();

    let got = dev.get_pn_mapping(pn).await.unwrap().expect("a mapping for the phone");
    assert_eq!(got.lid, "100000000000002");
    assert_eq!(got.updated_at, 900);

    // Refreshing an older LID makes it the latest.
    dev.put_lid_mapping(&mapping("100000000000001", pn, 999, 1_200, "pn_notification"))
        .await
        .unwrap();
    let got = dev.get_pn_mapping(pn).await.unwrap().expect("a mapping for the phone");
    assert_eq!(
        json(&got),
        json(&mapping("100000000000001", pn, 100, 1_200, "pn_notification"))
    );
    assert_eq!(dev.get_all_lid_mappings().await.unwrap().len(), 3);
}

#[tokio::test]
async fn lid_mappings_batch_inserts_and_updates() {
    let (_db, _store, dev) = fresh().await;
    dev.put_lid_mapping(&mapping("100000000000001", "111", 10, 10, "usync"))
        .await
        .unwrap();

    dev.put_lid_mappings(&[]).await.unwrap();
    let batch: Vec<_> = (1..=300)
        .map(|i| {
            mapping(
                &format!("1000000000{i:05}"),
                &format!("5599{i:06}"),
                50,
                60 + i,
                "history_sync",
            )
        })
        .collect();
    dev.put_lid_mappings(&batch).await.unwrap();

    let all = dev.get_all_lid_mappings().await.unwrap();
    assert_eq!(
        all.len(),
        300,
        "the pre-existing LID is in the batch: updated, not duplicated"
    );
    let one = dev
        .get_lid_mapping("100000000000001")
        .await
        .unwrap()
        .expect("mapping 1");
    assert_eq!(
        json(&one),
        json(&mapping("100000000000001", "5599000001", 10, 61, "history_sync"))
    );
    let last = dev.get_pn_mapping("5599000300").await.unwrap().expect("mapping 300");
    assert_eq!(json(&last), json(&batch[299]));
    assert!(dev.get_pn_mapping("111").await.unwrap().is_none());
}

#[tokio::test]
async fn base_key_has_same_only_for_identical_bytes() {
    let (_db, _store, dev) = fresh().await;
    let addr = "15550001111:1@s.whatsapp.net";
    let key: Vec<u8> = (0..33).collect();

    assert!(
        !dev.has_same_base_key(addr, "MSG1", &key).await.unwrap(),
        "absent → false"
    );

    dev.save_base_key(addr, "MSG1", &key).await.unwrap();
    assert!(dev.has_same_base_key(addr, "MSG1", &key).await.unwrap());
    assert!(
        !dev.has_same_base_key(addr, "MSG1", &key[..32]).await.unwrap(),
        "prefix differs"
    );
    let mut longer = key.clone();
    longer.push(0);
    assert!(
        !dev.has_same_base_key(addr, "MSG1", &longer).await.unwrap(),
        "extension differs"
    );
    let mut flipped = key.clone();
    flipped[10] ^= 1;
    assert!(!dev.has_same_base_key(addr, "MSG1", &flipped).await.unwrap());
    assert!(!dev.has_same_base_key(addr, "MSG1", &[]).await.unwrap());
    assert!(
        !dev.has_same_base_key(addr, "MSG2", &key).await.unwrap(),
        "keyed by message id"
    );
    assert!(
        !dev.has_same_base_key("15550002222@s.whatsapp.net", "MSG1", &key)
            .await
            .unwrap()
    );

    dev.save_base_key(addr, "MSG1", &flipped).await.unwrap();
    assert!(
        dev.has_same_base_key(addr, "MSG1", &flipped).await.unwrap(),
        "overwritten"
    );
    assert!(!dev.has_same_base_key(addr, "MSG1", &key).await.unwrap());

    dev.save_base_key(addr, "MSG2", &key).await.unwrap();
    dev.delete_base_key(addr, "MSG1").await.unwrap();
    dev.delete_base_key(addr, "MSG1").await.unwrap();
    assert!(!dev.has_same_base_key(addr, "MSG1", &flipped).await.unwrap());
    assert!(dev.has_same_base_key(addr, "MSG2", &key).await.unwrap());
}

fn record(user: &str, devices: Vec<DeviceInfo>, ts: i64, phash: Option<&str>, raw_id: Option<u32>) -> DeviceListRecord {
    DeviceListRecord {
        user: user.into(),
        devices,
        timestamp: ts,
        phash: phash.map(Into::into),
        raw_id,
    }
}

#[tokio::test]
async fn device_list_update_get_overwrite_delete() {
    let (_db, _store, dev) = fresh().await;
    let user = "15550001111";
    assert!(dev.get_devices(user).await.unwrap().is_none());

    let full = record(
        user,
        vec![
            DeviceInfo::new(0, None),
            DeviceInfo::new(3, Some(7)),
            DeviceInfo::new(99, Some(0)).with_hosting(true),
        ],
        1_700_000_123,
        Some("2:abcDEF=="),
        Some(0xDEAD_BEEF),
    );
    dev.update_device_list(full.clone()).await.unwrap();
    let got = dev.get_devices(user).await.unwrap().expect("stored record");
    assert_eq!(got.raw_id, Some(0xDEAD_BEEF));
    assert!(got.devices[2].is_hosted);
    assert_eq!(
        json(&got),
        json(&full),
        "every field incl. raw_id, phash, is_hosted round-trips"
    );

    // Overwrite clears optional fields and can empty the device list.
    let bare = record(user, vec![], 1_700_000_999, None, None);
    dev.update_device_list(bare.clone()).await.unwrap();
    let got = dev.get_devices(user).await.unwrap().expect("stored record");
    assert_eq!(got.phash, None);
    assert_eq!(got.raw_id, None);
    assert_eq!(json(&got), json(&bare));

    dev.delete_devices(user).await.unwrap();
    dev.delete_devices(user).await.unwrap();
    assert!(dev.get_devices(user).await.unwrap().is_none());
}

#[tokio::test]
async fn device_lists_batch_update() {
    let (_db, _store, dev) = fresh().await;
    dev.update_device_list(record("100000000000001", vec![DeviceInfo::new(0, None)], 1, None, None))
        .await
        .unwrap();

    dev.update_device_lists(vec![]).await.unwrap();
    let batch: Vec<DeviceListRecord> = (1..=250u32)
        .map(|i| {
            record(
                &format!("1000000000{i:05}"),
                (0..(i % 5))
                    .map(|d| DeviceInfo::new(d, Some(d + i)).with_hosting(d == 3))
                    .collect(),
                1_700_000_000 + i as i64,
                (i % 2 == 0).then_some("ph"),
                (i % 3 == 0).then_some(i),
            )
        })
        .collect();
    dev.update_device_lists(batch.clone()).await.unwrap();

    for i in [0usize, 1, 2, 3, 4, 248, 249] {
        let got = dev.get_devices(&batch[i].user).await.unwrap().expect("batched record");
        assert_eq!(json(&got), json(&batch[i]), "record {i}");
    }
    dev.delete_devices(&batch[0].user).await.unwrap();
    assert!(dev.get_devices(&batch[0].user).await.unwrap().is_none());
    assert!(
        dev.get_devices(&batch[1].user).await.unwrap().is_some(),
        "delete is per user"
    );
}

#[tokio::test]
async fn group_metadata_put_get_overwrite_delete() {
    let (_db, _store, dev) = fresh().await;
    assert!(dev.get_group_metadata(G1).await.unwrap().is_none());

    dev.put_group_metadata(G1, b"blob-v1").await.unwrap();
    dev.put_group_metadata(G2, b"blob-g2").await.unwrap();
    assert_eq!(dev.get_group_metadata(G1).await.unwrap(), Some(b"blob-v1".to_vec()));

    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    dev.put_group_metadata(G1, &big).await.unwrap();
    assert_eq!(dev.get_group_metadata(G1).await.unwrap(), Some(big));

    dev.delete_group_metadata(G1).await.unwrap();
    dev.delete_group_metadata(G1).await.unwrap();
    assert!(dev.get_group_metadata(G1).await.unwrap().is_none());
    assert_eq!(dev.get_group_metadata(G2).await.unwrap(), Some(b"blob-g2".to_vec()));
}
