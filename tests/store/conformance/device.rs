//! `DeviceStore` (`exists`, `create`, `load`, `save`, and the defaulted
//! `snapshot_db` / `resource_report`) and the `Store` side of the device
//! lifecycle: `allocate_device_id` never hands out an id twice.

use std::collections::HashSet;
use std::sync::Arc;

use whatsapp_rust::Jid;
use whatsapp_rust::wacore::store::traits::{DeviceStore, SignalStore};
use whatsapp_rust::wacore::store::{CachedNoiseCert, CachedServerCertChain, Device};
use whatsapp_rust::waproto::whatsapp::ADVSignedDeviceIdentity;

use super::{fresh, json, new_device, open};

fn jid(s: &str) -> Jid {
    s.parse().unwrap_or_else(|e| panic!("parse {s}: {e:?}"))
}

/// A device with every persisted field away from its `Device::new()` value.
pub fn busy_device(tag: u8) -> Device {
    let mut d = Device::new();
    d.pn = Some(jid(&format!("5511987650{tag:03}:12@s.whatsapp.net")));
    d.lid = Some(jid(&format!("100000012345{tag:03}:12@lid")));
    d.registration_id = 1_234_567 + tag as u32;
    d.signed_pre_key_id = 42 + tag as u32;
    d.account = Some(Arc::new(ADVSignedDeviceIdentity {
        details: Some(vec![tag, 1, 2, 3]),
        account_signature_key: Some(vec![tag; 32]),
        account_signature: Some(vec![tag ^ 0xFF; 64]),
        device_signature: Some(vec![7; 64]),
    }));
    d.push_name = format!("Zoë \"O'Neil\" 🚀 #{tag}");
    d.app_version_primary = 2;
    d.app_version_secondary = 3000;
    d.app_version_tertiary = 1_020_000_000 + tag as u32;
    d.app_version_last_fetched_ms = 1_700_000_000_000 + tag as i64;
    d.edge_routing_info = Some(vec![8, 2, tag, 0]);
    d.props_hash = Some(format!("props-{tag}"));
    d.next_pre_key_id = 813 + tag as u32;
    d.first_unupload_pre_key_id = 800 + tag as u32;
    d.server_has_prekeys = true;
    d.nct_salt = Some(vec![tag; 16]);
    d.server_cert_chain = Some(CachedServerCertChain {
        intermediate: CachedNoiseCert {
            key: [tag; 32],
            not_before: 1,
            not_after: 4_000_000_000,
        },
        leaf: CachedNoiseCert {
            key: [tag ^ 1; 32],
            not_before: 2,
            not_after: 3_000_000_000,
        },
    });
    d.login_counter = 17 + tag as i32;
    d.lid_migrated = true;
    d.last_signed_pre_key_rotation_ms = 1_699_999_999_000;
    d.read_receipts_disabled = true;
    d
}

#[tokio::test]
async fn exists_create_load_save_round_trip() {
    let (_db, store, _) = fresh().await;
    let (id, dev) = new_device(&store).await;

    assert!(!dev.exists().await.unwrap(), "no device before create()");
    assert!(dev.load().await.unwrap().is_none());

    assert_eq!(
        dev.create().await.unwrap(),
        id,
        "create() returns the backend's device id"
    );
    assert!(dev.exists().await.unwrap());
    let created = dev.load().await.unwrap().expect("a device after create()");
    assert_eq!(
        json(&dev.load().await.unwrap().unwrap()),
        json(&created),
        "load is stable"
    );

    let busy = busy_device(1);
    dev.save(&busy).await.unwrap();
    let loaded = dev.load().await.unwrap().expect("saved device");
    assert_eq!(loaded.push_name, busy.push_name);
    assert_eq!(loaded.pn, busy.pn);
    assert_eq!(json(&loaded), json(&busy), "every persisted field round-trips");

    // Save again with fields cleared back to None/empty.
    let mut cleared = busy.clone();
    cleared.pn = None;
    cleared.lid = None;
    cleared.account = None;
    cleared.push_name = String::new();
    cleared.edge_routing_info = None;
    cleared.props_hash = None;
    cleared.nct_salt = None;
    cleared.server_cert_chain = None;
    cleared.read_receipts_disabled = false;
    dev.save(&cleared).await.unwrap();
    assert_eq!(json(&dev.load().await.unwrap().expect("device")), json(&cleared));
    assert!(dev.exists().await.unwrap());
}

#[tokio::test]
async fn save_without_create_inserts() {
    let (_db, _store, dev) = fresh().await;
    let device = busy_device(2);
    dev.save(&device).await.unwrap();
    assert!(dev.exists().await.unwrap());
    assert_eq!(json(&dev.load().await.unwrap().expect("saved device")), json(&device));
}

#[tokio::test]
async fn created_device_has_usable_keys() {
    let (_db, _store, dev) = fresh().await;
    dev.create().await.unwrap();
    let d = dev.load().await.unwrap().expect("created device");
    // A fresh device has distinct random key material and no account yet.
    assert_ne!(
        d.noise_key.public_key.serialize(),
        d.identity_key.public_key.serialize()
    );
    assert!(d.account.is_none());
    assert!(d.pn.is_none());
    assert_ne!(d.registration_id, 0);
}

#[tokio::test]
async fn allocated_ids_are_never_reused() {
    let db = wasap_tests::TestDb::new().await;
    let store = open(&db).await;
    let mut seen = HashSet::new();
    for _ in 0..5 {
        assert!(seen.insert(store.allocate_device_id().await.unwrap()), "duplicate id");
    }

    // Wipe the newest device (the one an id counter would hand out again).
    let newest = *seen.iter().max().unwrap();
    let dev = store.device(newest);
    dev.create().await.unwrap();
    dev.put_session("a@s.whatsapp.net", b"s").await.unwrap();
    store.wipe_device(newest).await.unwrap();
    let after_wipe = store.allocate_device_id().await.unwrap();
    assert!(seen.insert(after_wipe), "id {after_wipe} reused after wipe");

    // Nor after a restart.
    store.close().await;
    let store = open(&db).await;
    let after_reopen = store.allocate_device_id().await.unwrap();
    assert!(seen.insert(after_reopen), "id {after_reopen} reused after reopen");
}

#[tokio::test]
async fn wipe_removes_the_device_row() {
    let (_db, store, _) = fresh().await;
    let (id, dev) = new_device(&store).await;
    dev.save(&busy_device(3)).await.unwrap();
    store.wipe_device(id).await.unwrap();
    assert!(!dev.exists().await.unwrap());
    assert!(dev.load().await.unwrap().is_none());
    // Wiping a device that has nothing is fine too.
    store.wipe_device(id).await.unwrap();
}

#[tokio::test]
async fn snapshot_and_resource_report_are_harmless() {
    let (_db, _store, dev) = fresh().await;
    let device = busy_device(4);
    dev.save(&device).await.unwrap();
    dev.put_session("a@s.whatsapp.net", b"s").await.unwrap();

    dev.snapshot_db("conformance", Some(b"extra")).await.unwrap();
    dev.snapshot_db("conformance-none", None).await.unwrap();
    let _ = dev.resource_report().await;

    assert_eq!(json(&dev.load().await.unwrap().expect("device")), json(&device));
    assert_eq!(
        dev.get_session("a@s.whatsapp.net").await.unwrap().as_deref(),
        Some(&b"s"[..])
    );
}
