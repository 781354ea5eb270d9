//! "One value of every kind": a writer that touches every table the traits
//! reach, a checker that reads it all back, and a checker that a device holds
//! nothing. Shared by the reopen and isolation tests. Values depend on a `tag`,
//! so two devices can write the same keys with different contents.

use std::collections::HashMap;
use std::sync::Arc;

use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::*;

use super::device::busy_device;
use super::json;

pub const ADDR: &str = "15550001111:1@s.whatsapp.net";
pub const USER: &str = "15550001111";
pub const SENDER_KEY: &str = "120363000000000001@g.us::15550001111::1";
pub const GROUP: &str = "120363000000000001@g.us";
pub const COLLECTION: &str = "regular_high";
pub const SYNC_KEY_ID: &[u8] = &[0xAA, 0x01];
pub const INDEX_MAC: [u8; 32] = [0x11; 32];
pub const LID: &str = "100000000000001";
pub const PN: &str = "15550001111";
pub const TC_JID: &str = "100000000000001@lid";
pub const CHAT: &str = "15550001111@s.whatsapp.net";
pub const MSG_ID: &str = "3EB0AABBCCDD";
pub const PREKEY_ID: u32 = 7;
pub const SIGNED_PREKEY_ID: u32 = 3;

fn sync_key(tag: u8) -> AppStateSyncKey {
    AppStateSyncKey {
        key_data: vec![tag; 32],
        fingerprint: vec![tag, 9],
        timestamp: 1_000 + tag as i64,
    }
}

fn hash_state(tag: u8) -> HashState {
    HashState {
        version: 10 * tag as u64,
        hash: [tag; 128],
        index_value_map: HashMap::from([("k".to_string(), vec![tag])]),
        mac_mismatch_fatal: tag % 2 == 1,
    }
}

fn lid_mapping(tag: u8) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: LID.into(),
        phone_number: PN.into(),
        created_at: 100 + tag as i64,
        updated_at: 200 + tag as i64,
        learning_source: format!("source-{tag}"),
    }
}

fn device_list(tag: u8) -> DeviceListRecord {
    DeviceListRecord {
        user: USER.into(),
        devices: vec![
            DeviceInfo::new(0, None),
            DeviceInfo::new(tag as u32, Some(tag as u32)).with_hosting(true),
        ],
        timestamp: 1_700_000_000 + tag as i64,
        phash: Some(format!("2:{tag}")),
        raw_id: Some(tag as u32),
    }
}

fn tc_token(tag: u8) -> (Vec<u8>, i64, Option<i64>) {
    (vec![tag, 0xCC], 1_000 + tag as i64, Some(2_000 + tag as i64))
}

/// Everything the device has, written through every trait.
pub async fn write_every_kind<B: Backend>(dev: &B, tag: u8) -> Device {
    let device = busy_device(tag);
    dev.save(&device).await.unwrap();

    dev.put_identity(ADDR, [tag; 32]).await.unwrap();
    dev.put_session(ADDR, &[tag, 1]).await.unwrap();
    dev.store_prekey(PREKEY_ID, &[tag, 2], false).await.unwrap();
    dev.mark_prekeys_uploaded(&[PREKEY_ID]).await.unwrap();
    dev.store_signed_prekey(SIGNED_PREKEY_ID, &[tag, 3]).await.unwrap();
    dev.put_sender_key(SENDER_KEY, &[tag, 4]).await.unwrap();

    dev.set_sync_key(SYNC_KEY_ID, sync_key(tag)).await.unwrap();
    dev.set_version(COLLECTION, hash_state(tag)).await.unwrap();
    let mac = AppStateMutationMAC {
        index_mac: INDEX_MAC.to_vec(),
        value_mac: vec![tag; 32],
    };
    dev.put_mutation_macs(COLLECTION, 10 * tag as u64, &[mac])
        .await
        .unwrap();

    dev.set_sender_key_status(GROUP, &[(ADDR, tag % 2 == 1)]).await.unwrap();
    dev.put_lid_mapping(&lid_mapping(tag)).await.unwrap();
    dev.save_base_key(ADDR, MSG_ID, &[tag; 33]).await.unwrap();
    dev.update_device_list(device_list(tag)).await.unwrap();
    dev.put_group_metadata(GROUP, &[tag, 5]).await.unwrap();
    let (token, token_ts, sender_ts) = tc_token(tag);
    dev.put_tc_token(
        TC_JID,
        &TcTokenEntry {
            token,
            token_timestamp: token_ts,
            sender_timestamp: sender_ts,
        },
    )
    .await
    .unwrap();
    dev.store_sent_message(CHAT, MSG_ID, &[tag, 6]).await.unwrap();
    dev.store_pending_inbound(CHAT, ADDR, MSG_ID, &[tag, 7]).await.unwrap();

    dev.put_msg_secrets(vec![MsgSecretEntry {
        chat: Arc::from(CHAT),
        sender: Arc::from(ADDR),
        msg_id: Arc::from(MSG_ID),
        secret: [tag; 32],
        expires_at: 0,
        message_ts: 500 + tag as i64,
    }])
    .await
    .unwrap();
    device
}

/// Reads back everything `write_every_kind(dev, tag)` wrote. Leaves the data
/// as found (the sent message is taken, then stored again).
pub async fn assert_every_kind<B: Backend>(dev: &B, tag: u8, device: &Device) {
    let ctx = format!("device written with tag {tag}");
    assert!(dev.exists().await.unwrap(), "{ctx}: exists");
    assert_eq!(json(&dev.load().await.unwrap()), json(&Some(device)), "{ctx}: device");

    assert_eq!(
        dev.load_identity(ADDR).await.unwrap(),
        Some([tag; 32]),
        "{ctx}: identity"
    );
    assert_eq!(
        dev.get_session(ADDR).await.unwrap().as_deref(),
        Some(&[tag, 1][..]),
        "{ctx}: session"
    );
    assert!(dev.has_session(ADDR).await.unwrap(), "{ctx}: has_session");
    assert!(
        dev.has_signal_state_for_user(USER).await.unwrap(),
        "{ctx}: signal state"
    );
    assert_eq!(
        dev.load_prekey(PREKEY_ID).await.unwrap().as_deref(),
        Some(&[tag, 2][..]),
        "{ctx}: prekey"
    );
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), PREKEY_ID, "{ctx}: max prekey");
    assert_eq!(
        dev.load_signed_prekey(SIGNED_PREKEY_ID).await.unwrap(),
        Some(vec![tag, 3]),
        "{ctx}: spk"
    );
    assert_eq!(
        dev.load_all_signed_prekeys().await.unwrap(),
        vec![(SIGNED_PREKEY_ID, vec![tag, 3])],
        "{ctx}: all spks"
    );
    assert_eq!(
        dev.get_sender_key(SENDER_KEY).await.unwrap(),
        Some(vec![tag, 4]),
        "{ctx}: sender key"
    );

    assert_eq!(
        json(&dev.get_sync_key(SYNC_KEY_ID).await.unwrap()),
        json(&Some(sync_key(tag))),
        "{ctx}: sync key"
    );
    assert_eq!(
        dev.get_latest_sync_key_id().await.unwrap(),
        Some(SYNC_KEY_ID.to_vec()),
        "{ctx}: latest key"
    );
    assert_eq!(
        json(&dev.get_version(COLLECTION).await.unwrap()),
        json(&hash_state(tag)),
        "{ctx}: version"
    );
    assert_eq!(
        dev.get_mutation_mac(COLLECTION, &INDEX_MAC).await.unwrap(),
        Some(vec![tag; 32]),
        "{ctx}: mac"
    );
    let macs = dev.get_mutation_macs(COLLECTION, &[INDEX_MAC]).await.unwrap();
    assert_eq!(macs, HashMap::from([(INDEX_MAC, vec![tag; 32])]), "{ctx}: macs");

    assert_eq!(
        dev.get_sender_key_devices(GROUP).await.unwrap(),
        vec![(ADDR.to_string(), tag % 2 == 1)],
        "{ctx}: sender key devices"
    );
    assert_eq!(
        json(&dev.get_lid_mapping(LID).await.unwrap()),
        json(&Some(lid_mapping(tag))),
        "{ctx}: lid"
    );
    assert_eq!(
        json(&dev.get_pn_mapping(PN).await.unwrap()),
        json(&Some(lid_mapping(tag))),
        "{ctx}: pn"
    );
    assert_eq!(
        json(&dev.get_all_lid_mappings().await.unwrap()),
        json(&vec![lid_mapping(tag)]),
        "{ctx}: all lids"
    );
    assert!(
        dev.has_same_base_key(ADDR, MSG_ID, &[tag; 33]).await.unwrap(),
        "{ctx}: base key"
    );
    assert_eq!(
        json(&dev.get_devices(USER).await.unwrap()),
        json(&Some(device_list(tag))),
        "{ctx}: devices"
    );
    assert_eq!(
        dev.get_group_metadata(GROUP).await.unwrap(),
        Some(vec![tag, 5]),
        "{ctx}: group metadata"
    );
    let tc = dev
        .get_tc_token(TC_JID)
        .await
        .unwrap()
        .map(|e| (e.token, e.token_timestamp, e.sender_timestamp));
    assert_eq!(tc, Some(tc_token(tag)), "{ctx}: tc token");
    assert_eq!(
        dev.get_all_tc_token_jids().await.unwrap(),
        vec![TC_JID.to_string()],
        "{ctx}: tc jids"
    );
    assert_eq!(
        dev.get_pending_inbound(CHAT, ADDR, MSG_ID).await.unwrap(),
        Some(vec![tag, 7]),
        "{ctx}: pending"
    );
    assert_eq!(
        dev.get_msg_secret_with_ts(CHAT, ADDR, MSG_ID).await.unwrap(),
        Some((vec![tag; 32], 500 + tag as i64)),
        "{ctx}: msg secret"
    );
    assert_eq!(
        dev.get_msg_secret(CHAT, ADDR, MSG_ID).await.unwrap(),
        Some(vec![tag; 32]),
        "{ctx}: msg secret"
    );

    assert_eq!(
        dev.take_sent_message(CHAT, MSG_ID).await.unwrap(),
        Some(vec![tag, 6]),
        "{ctx}: sent message"
    );
    dev.store_sent_message(CHAT, MSG_ID, &[tag, 6]).await.unwrap();
}

/// A device that holds nothing at all: what a never-used or wiped device reads.
pub async fn assert_nothing<B: Backend>(dev: &B, ctx: &str) {
    assert!(!dev.exists().await.unwrap(), "{ctx}: exists");
    assert!(dev.load().await.unwrap().is_none(), "{ctx}: device");

    assert_eq!(dev.load_identity(ADDR).await.unwrap(), None, "{ctx}: identity");
    assert_eq!(dev.get_session(ADDR).await.unwrap(), None, "{ctx}: session");
    assert!(!dev.has_session(ADDR).await.unwrap(), "{ctx}: has_session");
    assert!(
        !dev.has_signal_state_for_user(USER).await.unwrap(),
        "{ctx}: signal state"
    );
    assert_eq!(dev.load_prekey(PREKEY_ID).await.unwrap(), None, "{ctx}: prekey");
    assert!(
        dev.load_prekeys_batch(&[PREKEY_ID]).await.unwrap().is_empty(),
        "{ctx}: prekeys"
    );
    assert_eq!(dev.get_max_prekey_id().await.unwrap(), 0, "{ctx}: max prekey");
    assert_eq!(
        dev.load_signed_prekey(SIGNED_PREKEY_ID).await.unwrap(),
        None,
        "{ctx}: spk"
    );
    assert!(
        dev.load_all_signed_prekeys().await.unwrap().is_empty(),
        "{ctx}: all spks"
    );
    assert_eq!(dev.get_sender_key(SENDER_KEY).await.unwrap(), None, "{ctx}: sender key");

    assert!(
        dev.get_sync_key(SYNC_KEY_ID).await.unwrap().is_none(),
        "{ctx}: sync key"
    );
    assert_eq!(dev.get_latest_sync_key_id().await.unwrap(), None, "{ctx}: latest key");
    assert_eq!(
        json(&dev.get_version(COLLECTION).await.unwrap()),
        json(&HashState::default()),
        "{ctx}: version"
    );
    assert_eq!(
        dev.get_mutation_mac(COLLECTION, &INDEX_MAC).await.unwrap(),
        None,
        "{ctx}: mac"
    );
    assert!(
        dev.get_mutation_macs(COLLECTION, &[INDEX_MAC])
            .await
            .unwrap()
            .is_empty(),
        "{ctx}: macs"
    );

    assert!(
        dev.get_sender_key_devices(GROUP).await.unwrap().is_empty(),
        "{ctx}: sender key devices"
    );
    assert!(dev.get_lid_mapping(LID).await.unwrap().is_none(), "{ctx}: lid");
    assert!(dev.get_pn_mapping(PN).await.unwrap().is_none(), "{ctx}: pn");
    assert!(dev.get_all_lid_mappings().await.unwrap().is_empty(), "{ctx}: all lids");
    for tag in 0..=3u8 {
        assert!(
            !dev.has_same_base_key(ADDR, MSG_ID, &[tag; 33]).await.unwrap(),
            "{ctx}: base key"
        );
    }
    assert!(dev.get_devices(USER).await.unwrap().is_none(), "{ctx}: devices");
    assert_eq!(
        dev.get_group_metadata(GROUP).await.unwrap(),
        None,
        "{ctx}: group metadata"
    );
    assert!(dev.get_tc_token(TC_JID).await.unwrap().is_none(), "{ctx}: tc token");
    assert!(dev.get_all_tc_token_jids().await.unwrap().is_empty(), "{ctx}: tc jids");
    assert_eq!(
        dev.get_pending_inbound(CHAT, ADDR, MSG_ID).await.unwrap(),
        None,
        "{ctx}: pending"
    );
    assert_eq!(
        dev.get_msg_secret(CHAT, ADDR, MSG_ID).await.unwrap(),
        None,
        "{ctx}: msg secret"
    );
    assert_eq!(
        dev.get_msg_secret_with_ts(CHAT, ADDR, MSG_ID).await.unwrap(),
        None,
        "{ctx}: msg secret"
    );
    assert_eq!(
        dev.take_sent_message(CHAT, MSG_ID).await.unwrap(),
        None,
        "{ctx}: sent message"
    );
}
