//! `AppSyncStore`: app-state sync keys and the latest-key pointer, collection
//! versions (`HashState` round-trip and the default for unknown collections),
//! and mutation MACs (single and batched lookups, deletes, per-collection clear).

use std::collections::HashMap;

use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::traits::{AppStateSyncKey, AppSyncStore};

use super::{fresh, json};

fn sync_key(seed: u8) -> AppStateSyncKey {
    AppStateSyncKey {
        key_data: vec![seed; 32],
        fingerprint: vec![seed, 0, 0xFF, 1],
        timestamp: 1_700_000_000_000 + seed as i64,
    }
}

fn mac(index: [u8; 32], value: &[u8]) -> AppStateMutationMAC {
    AppStateMutationMAC {
        index_mac: index.to_vec(),
        value_mac: value.to_vec(),
    }
}

/// A HashState with every field away from its default.
pub fn busy_hash_state(seed: u8) -> HashState {
    let mut hash = [0u8; 128];
    hash.iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i as u8).wrapping_mul(seed | 1));
    HashState {
        version: 1_000 + seed as u64,
        hash,
        index_value_map: HashMap::from([
            ("index-a".to_string(), vec![seed, 1, 2]),
            ("index-b".to_string(), vec![]),
            ("\u{1F600} unicode".to_string(), vec![0, 255]),
        ]),
        mac_mismatch_fatal: true,
    }
}

#[tokio::test]
async fn sync_key_set_get_overwrite() {
    let (_db, _store, dev) = fresh().await;
    let id = [0x00, 0x01, 0xAB, 0xFF];

    assert!(dev.get_sync_key(&id).await.unwrap().is_none());

    dev.set_sync_key(&id, sync_key(1)).await.unwrap();
    assert_eq!(json(&dev.get_sync_key(&id).await.unwrap()), json(&Some(sync_key(1))));
    assert!(
        dev.get_sync_key(&[0x00, 0x01, 0xAB]).await.unwrap().is_none(),
        "key ids match exactly"
    );

    dev.set_sync_key(&id, sync_key(2)).await.unwrap();
    assert_eq!(json(&dev.get_sync_key(&id).await.unwrap()), json(&Some(sync_key(2))));

    // Empty vectors and a zero timestamp are valid values too.
    dev.set_sync_key(&[9], AppStateSyncKey::default()).await.unwrap();
    assert_eq!(
        json(&dev.get_sync_key(&[9]).await.unwrap()),
        json(&Some(AppStateSyncKey::default()))
    );
}

#[tokio::test]
async fn latest_sync_key_id_is_the_most_recently_stored() {
    let (_db, _store, dev) = fresh().await;
    // Chosen so that neither byte order nor key content predicts recency.
    let a = vec![0xF0, 0x01];
    let b = vec![0x01, 0x02];
    let c = vec![0x80];

    assert_eq!(dev.get_latest_sync_key_id().await.unwrap(), None, "no keys yet");

    dev.set_sync_key(&a, sync_key(1)).await.unwrap();
    assert_eq!(dev.get_latest_sync_key_id().await.unwrap(), Some(a.clone()));
    dev.set_sync_key(&b, sync_key(2)).await.unwrap();
    assert_eq!(
        dev.get_latest_sync_key_id().await.unwrap(),
        Some(b.clone()),
        "B stored after A"
    );
    dev.set_sync_key(&a, sync_key(3)).await.unwrap();
    assert_eq!(
        dev.get_latest_sync_key_id().await.unwrap(),
        Some(a.clone()),
        "A stored again"
    );
    dev.set_sync_key(&c, sync_key(0)).await.unwrap();
    assert_eq!(dev.get_latest_sync_key_id().await.unwrap(), Some(c.clone()));
    dev.set_sync_key(&b, sync_key(4)).await.unwrap();
    assert_eq!(dev.get_latest_sync_key_id().await.unwrap(), Some(b.clone()));
    // Every key is still readable.
    assert_eq!(json(&dev.get_sync_key(&a).await.unwrap()), json(&Some(sync_key(3))));
    assert_eq!(json(&dev.get_sync_key(&c).await.unwrap()), json(&Some(sync_key(0))));
}

#[tokio::test]
async fn version_defaults_and_round_trips() {
    let (_db, _store, dev) = fresh().await;

    let unknown = dev.get_version("regular_high").await.unwrap();
    assert_eq!(
        json(&unknown),
        json(&HashState::default()),
        "unknown collection is the default"
    );

    dev.set_version("regular_high", busy_hash_state(3)).await.unwrap();
    dev.set_version("critical_block", busy_hash_state(4)).await.unwrap();
    let got = dev.get_version("regular_high").await.unwrap();
    assert_eq!(got.version, 1_003);
    assert!(got.mac_mismatch_fatal);
    assert_eq!(
        json(&got),
        json(&busy_hash_state(3)),
        "every HashState field round-trips"
    );
    assert_eq!(
        json(&dev.get_version("critical_block").await.unwrap()),
        json(&busy_hash_state(4))
    );

    // Overwrite, including resetting the flag and emptying the map.
    let reset = HashState {
        version: 7,
        ..HashState::default()
    };
    dev.set_version("regular_high", reset.clone()).await.unwrap();
    assert_eq!(json(&dev.get_version("regular_high").await.unwrap()), json(&reset));
    assert_eq!(
        json(&dev.get_version("critical_block").await.unwrap()),
        json(&busy_hash_state(4))
    );
    assert_eq!(
        json(&dev.get_version("regular").await.unwrap()),
        json(&HashState::default())
    );
}

#[tokio::test]
async fn mutation_macs_put_get_overwrite_delete() {
    let (_db, _store, dev) = fresh().await;
    let (i1, i2, i3) = ([1u8; 32], [2u8; 32], [3u8; 32]);

    assert_eq!(dev.get_mutation_mac("regular", &i1).await.unwrap(), None);

    dev.put_mutation_macs("regular", 1, &[]).await.unwrap();
    dev.put_mutation_macs("regular", 1, &[mac(i1, b"v1"), mac(i2, b"v2")])
        .await
        .unwrap();
    dev.put_mutation_macs("regular", 2, &[mac(i3, b"v3")]).await.unwrap();
    assert_eq!(
        dev.get_mutation_mac("regular", &i1).await.unwrap(),
        Some(b"v1".to_vec())
    );
    assert_eq!(
        dev.get_mutation_mac("regular", &i3).await.unwrap(),
        Some(b"v3".to_vec())
    );
    assert_eq!(
        dev.get_mutation_mac("regular_low", &i1).await.unwrap(),
        None,
        "per collection"
    );

    // A later version re-setting an index replaces its value MAC.
    dev.put_mutation_macs("regular", 3, &[mac(i1, b"v1-new")])
        .await
        .unwrap();
    assert_eq!(
        dev.get_mutation_mac("regular", &i1).await.unwrap(),
        Some(b"v1-new".to_vec())
    );

    dev.delete_mutation_macs("regular", &[]).await.unwrap();
    dev.delete_mutation_macs("regular", &[i1.to_vec(), vec![9; 32]])
        .await
        .unwrap();
    assert_eq!(dev.get_mutation_mac("regular", &i1).await.unwrap(), None);
    assert_eq!(
        dev.get_mutation_mac("regular", &i2).await.unwrap(),
        Some(b"v2".to_vec())
    );
}

#[tokio::test]
async fn mutation_macs_batch_lookup_returns_only_present() {
    let (_db, _store, dev) = fresh().await;
    let present: Vec<[u8; 32]> = (0..40u8).map(|i| [i; 32]).collect();
    let macs: Vec<_> = present.iter().map(|i| mac(*i, &[i[0], 0xEE])).collect();
    dev.put_mutation_macs("regular", 5, &macs).await.unwrap();
    dev.put_mutation_macs("critical_block", 5, &[mac([200; 32], b"other")])
        .await
        .unwrap();

    let mut query = present.clone();
    query.push([200; 32]); // present, but in another collection
    query.push([201; 32]); // absent everywhere

    let got = dev.get_mutation_macs("regular", &query).await.unwrap();
    let expected: HashMap<[u8; 32], Vec<u8>> = present.iter().map(|i| (*i, vec![i[0], 0xEE])).collect();
    assert_eq!(got, expected);

    assert!(dev.get_mutation_macs("regular", &[]).await.unwrap().is_empty());
    assert!(dev.get_mutation_macs("regular_low", &query).await.unwrap().is_empty());
}

#[tokio::test]
async fn clear_mutation_macs_wipes_only_the_named_collection() {
    let (_db, _store, dev) = fresh().await;
    let index = [7u8; 32];
    dev.put_mutation_macs("regular", 1, &[mac(index, b"r"), mac([8; 32], b"r8")])
        .await
        .unwrap();
    dev.put_mutation_macs("regular_low", 1, &[mac(index, b"low")])
        .await
        .unwrap();

    dev.clear_mutation_macs("regular").await.unwrap();
    assert_eq!(dev.get_mutation_mac("regular", &index).await.unwrap(), None);
    assert_eq!(dev.get_mutation_mac("regular", &[8; 32]).await.unwrap(), None);
    assert_eq!(
        dev.get_mutation_mac("regular_low", &index).await.unwrap(),
        Some(b"low".to_vec())
    );

    // The collection is usable again after a clear, and clearing an empty one is fine.
    dev.put_mutation_macs("regular", 2, &[mac(index, b"again")])
        .await
        .unwrap();
    assert_eq!(
        dev.get_mutation_mac("regular", &index).await.unwrap(),
        Some(b"again".to_vec())
    );
    dev.clear_mutation_macs("never_used").await.unwrap();
}

/// Snapshot syncs write thousands of MACs; the batched lookup must not hit a
/// bind-parameter limit either.
#[tokio::test]
async fn large_mutation_mac_batches() {
    let (_db, _store, dev) = fresh().await;
    let index = |i: u32| {
        let mut m = [0u8; 32];
        m[..4].copy_from_slice(&i.to_be_bytes());
        m
    };
    let macs: Vec<_> = (0..40_000u32).map(|i| mac(index(i), &i.to_le_bytes())).collect();
    dev.put_mutation_macs("regular", 9, &macs).await.unwrap();

    let query: Vec<[u8; 32]> = (0..70_000u32).map(index).collect();
    let got = dev.get_mutation_macs("regular", &query).await.unwrap();
    assert_eq!(got.len(), 40_000);
    assert_eq!(got.get(&index(39_999)), Some(&39_999u32.to_le_bytes().to_vec()));

    let delete: Vec<Vec<u8>> = (0..35_000u32).map(|i| index(i).to_vec()).collect();
    dev.delete_mutation_macs("regular", &delete).await.unwrap();
    assert_eq!(dev.get_mutation_macs("regular", &query).await.unwrap().len(), 5_000);
}
