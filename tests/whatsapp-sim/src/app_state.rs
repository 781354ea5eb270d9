//! An account's app state on the server: per collection, the patches its
//! phone published (encrypted and MAC'd under the key the phone shares with
//! each new device, with the LT-hash carried from patch to patch exactly as
//! a phone computes it), served by `iq/appstate.rs` from the version a
//! device asks after.
//!
//! The collections are made at the account's first sync: `critical_block`
//! holds its push name, `regular_high` an empty first patch, so that a linked
//! device is at version 1 before anything happens, like a device of a real
//! account. That matters: a device that syncs a collection from version 0
//! gets it as a snapshot, and whatsapp-rust reports what a snapshot carries
//! as history (`from_full_sync`), not as news.
//!
//! Later mutations come from the phone, e.g. [`Phone::delete_for_me`]: a
//! new patch, then `<notification type="server_sync">` to the account's
//! devices, which sync and apply it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use buffa::Message as _;
use tracing::info;
use wacore::appstate::hash::{HashState, generate_patch_mac};
use wacore::appstate::{encode_record, expand_app_state_keys};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, SERVER_JID};
use waproto::whatsapp as wa;

use crate::Phone;
use crate::error::{Result, SimError};
use crate::nodes;
use crate::state::World;

pub const CRITICAL_BLOCK: &str = "critical_block";
pub const REGULAR_HIGH: &str = "regular_high";
/// Where the phone's address book lives (`contact` mutations, `address_book.rs`),
/// made at the account's first saved contact.
pub const CRITICAL_UNBLOCK_LOW: &str = "critical_unblock_low";

/// WhatsApp's schema version of the `deleteMessageForMe` action
/// (`wacore::appstate::schemas::DELETE_MESSAGE_FOR_ME`).
const DELETE_MESSAGE_FOR_ME_VERSION: i32 = 3;
/// ... and of `setting_pushName`.
const PUSH_NAME_VERSION: i32 = 1;

/// An account's collections, by name.
pub type Collections = BTreeMap<String, Collection>;

/// One collection: its patches, and the LT-hash and value MACs after the last.
#[derive(Default)]
pub struct Collection {
    state: HashState,
    /// Each record's value MAC by its index MAC: a later SET of the same
    /// index takes the old value out of the hash.
    values: HashMap<Vec<u8>, Vec<u8>>,
    /// Encoded `SyncdPatch`es; the one at `i` is version `i + 1`.
    patches: Vec<Vec<u8>>,
}

/// One SET of a patch: the index (a JSON array), the value and its schema version.
pub struct Record {
    pub index: Vec<u8>,
    pub value: wa::SyncActionValue,
    pub version: i32,
}

impl Collection {
    /// The latest version.
    pub fn version(&self) -> u64 {
        self.patches.len() as u64
    }

    /// The patches a device at `version` has not applied yet.
    pub fn patches_after(&self, version: u64) -> &[Vec<u8>] {
        self.patches.get(version as usize..).unwrap_or_default()
    }

    /// Publishes a patch of `records` (none: an empty patch); its version.
    pub fn append(&mut self, name: &str, records: &[Record], key_id: &[u8], key: &[u8; 32]) -> u64 {
        let keys = expand_app_state_keys(key);
        let mut mutations = Vec::with_capacity(records.len());
        let mut macs = Vec::with_capacity(records.len());
        for record in records {
            let (mutation, value_mac) = encode_record(
                wa::syncd_mutation::SyncdOperation::SET,
                &record.index,
                &record.value,
                &keys,
                key_id,
                &rand::random(),
                record.version,
            );
            let index_mac = mutation
                .record
                .as_option()
                .and_then(|r| r.index.as_option())
                .and_then(|i| i.blob.clone())
                .unwrap_or_default();
            macs.push((index_mac, value_mac.to_vec()));
            mutations.push(mutation);
        }
        let values = &self.values;
        let (_, hashed) = self
            .state
            .update_hash(&mutations, |index_mac, _| Ok(values.get(index_mac).cloned()));
        debug_assert!(hashed.is_ok(), "SETs always hash");
        self.values.extend(macs);
        self.state.version += 1;
        let version = self.state.version;
        let mut patch = wa::SyncdPatch {
            version: buffa::MessageField::some(wa::SyncdVersion { version: Some(version) }),
            snapshot_mac: Some(self.state.generate_snapshot_mac(name, &keys.snapshot_mac)),
            key_id: buffa::MessageField::some(wa::KeyId {
                id: Some(key_id.to_vec()),
            }),
            mutations,
            ..Default::default()
        };
        patch.patch_mac = Some(generate_patch_mac(&patch, name, &keys.patch_mac, version));
        self.patches.push(patch.encode_to_vec());
        version
    }
}

/// A patch a device sent (`iq/appstate.rs`), once the collection took it.
pub struct Accepted {
    /// The collection's version with the patch.
    pub version: u64,
    /// What the patch's mutations said, decrypted: each one's index (a
    /// JSON array's strings) and value.
    pub mutations: Vec<(Vec<String>, wa::SyncActionValue)>,
}

/// Why a device's patch was not taken.
pub enum Refused {
    /// It was built on `base`, not on the collection's latest version: the
    /// device must apply what it missed and build again (WhatsApp's 409).
    Conflict,
    /// It does not decrypt, or its MACs do not match the collection's
    /// LT-hash after it: a device that computes app state wrongly.
    Invalid(String),
}

impl Collection {
    /// Takes a patch a device built on version `base`, as WhatsApp's server
    /// does: its mutations decrypted and checked (index and value MACs),
    /// the LT-hash moved by them and checked against the patch's snapshot
    /// MAC, the patch MAC checked; then kept as the next version, which the
    /// account's devices (the sender too) sync like any other.
    pub fn accept(
        &mut self,
        name: &str,
        bytes: &[u8],
        base: u64,
        key_id: &[u8],
        key: &[u8; 32],
    ) -> std::result::Result<Accepted, Refused> {
        use wacore::appstate::decode_record;
        if base != self.version() {
            return Err(Refused::Conflict);
        }
        let invalid = |what: String| Refused::Invalid(what);
        let mut patch =
            wa::SyncdPatch::decode_from_slice(bytes).map_err(|e| invalid(format!("not a SyncdPatch: {e}")))?;
        let keys = expand_app_state_keys(key);
        let mut decoded = Vec::with_capacity(patch.mutations.len());
        let mut macs = Vec::with_capacity(patch.mutations.len());
        for mutation in &patch.mutations {
            let operation = match mutation.operation {
                None => wa::syncd_mutation::SyncdOperation::SET,
                Some(op) => op
                    .as_known()
                    .ok_or_else(|| invalid(format!("unknown operation {}", op.to_i32())))?,
            };
            let record = mutation
                .record
                .as_option()
                .ok_or_else(|| invalid("a mutation without a record".into()))?;
            let (mutation, record_macs) = decode_record(operation, record, &keys, key_id, true)
                .map_err(|e| invalid(format!("a mutation does not decrypt: {e}")))?;
            if let Some(value) = mutation.action_value {
                decoded.push((mutation.index, value));
            }
            macs.push((operation, record_macs.index_mac, record_macs.value_mac));
        }
        let mut state = self.state.clone();
        let values = &self.values;
        let (_, hashed) = state.update_hash(&patch.mutations, |index_mac, _| Ok(values.get(index_mac).cloned()));
        hashed.map_err(|e| invalid(format!("the LT-hash does not move: {e}")))?;
        state.version += 1;
        let version = state.version;
        if patch.snapshot_mac.as_deref() != Some(state.generate_snapshot_mac(name, &keys.snapshot_mac).as_slice()) {
            return Err(invalid(
                "the snapshot MAC does not match the collection after the patch".into(),
            ));
        }
        if patch.patch_mac.as_deref() != Some(generate_patch_mac(&patch, name, &keys.patch_mac, version).as_slice()) {
            return Err(invalid("the patch MAC does not match".into()));
        }
        for (operation, index_mac, value_mac) in macs {
            if operation == wa::syncd_mutation::SyncdOperation::REMOVE {
                self.values.remove(&index_mac);
            } else {
                self.values.insert(index_mac, value_mac);
            }
        }
        self.state = state;
        // Devices learn the patch's version from the server, as a client
        // leaves it out of what it sends.
        patch.version = buffa::MessageField::some(wa::SyncdVersion { version: Some(version) });
        self.patches.push(patch.encode_to_vec());
        Ok(Accepted {
            version,
            mutations: decoded,
        })
    }
}

/// Account `pn`'s collections, made at the first call; `None` for an
/// unknown account.
pub fn collections<'a>(world: &'a mut World, pn: &str) -> Option<&'a mut Collections> {
    let account = world.accounts.get(pn)?;
    let (push_name, key_id, key) = (
        account.push_name.clone(),
        account.app_state_key_id.clone(),
        account.app_state_key,
    );
    Some(world.app_state.entry(pn.to_owned()).or_insert_with(|| {
        let mut critical = Collection::default();
        let push_name = Record {
            index: br#"["setting_pushName"]"#.to_vec(),
            value: wa::SyncActionValue {
                timestamp: Some(wacore::time::now_millis()),
                push_name_setting: buffa::MessageField::some(wa::sync_action_value::PushNameSetting {
                    name: Some(push_name),
                }),
                ..Default::default()
            },
            version: PUSH_NAME_VERSION,
        };
        critical.append(CRITICAL_BLOCK, &[push_name], &key_id, &key);
        let mut regular_high = Collection::default();
        regular_high.append(REGULAR_HIGH, &[], &key_id, &key);
        BTreeMap::from([
            (CRITICAL_BLOCK.to_owned(), critical),
            (REGULAR_HIGH.to_owned(), regular_high),
        ])
    }))
}

/// How long the server waits for a device to sync after a `server_sync`
/// before telling it again.
pub(crate) const RESEND_SERVER_SYNC: Duration = Duration::from_millis(250);

/// Account `pn`'s linked devices that have not synced `collection` up to `version`.
pub(crate) fn behind(world: &World, pn: &str, collection: &str, version: u64) -> Vec<u16> {
    world
        .accounts
        .get(pn)
        .map(|a| {
            a.live_companions()
                .filter(|c| {
                    let key = ((pn.to_owned(), c.device), collection.to_owned());
                    world.app_state_synced.get(&key).is_none_or(|v| *v < version)
                })
                .map(|c| c.device)
                .collect()
        })
        .unwrap_or_default()
}

/// Tells each of `pn`'s devices behind `version` of `collection` to sync
/// (`<notification type="server_sync">`); how many there were.
pub(crate) fn notify_behind(world: &mut World, pn: &str, collection: &str, version: u64) -> usize {
    let behind = behind(world, pn, collection, version);
    for device in &behind {
        let id = world.next_id();
        let node = NodeBuilder::new("notification")
            .attr("from", SERVER_JID)
            .attr("type", "server_sync")
            .attr("id", id.as_str())
            .attr("t", nodes::now())
            .children([NodeBuilder::new("collection")
                .attr("name", collection)
                .attr("version", version.to_string())
                .build()])
            .build();
        world.deliver((pn.to_owned(), *device), "notification", node);
    }
    behind.len()
}

impl Phone {
    /// The phone deletes message `message_id` of chat `chat` (a phone number
    /// or a JID) for this account only: a `deleteMessageForMe` mutation in
    /// `regular_high`, then a `server_sync` notification to the account's
    /// linked devices, which sync it. `from_me` says whether the message
    /// was this account's, `participant` names its sender in a group.
    ///
    /// First waits until every linked device has synced `regular_high`
    /// once, so none reads the deletion as history; returns once every one
    /// synced the deletion (all within `timeout`).
    pub async fn delete_for_me(
        &self,
        chat: &str,
        message_id: &str,
        from_me: bool,
        participant: Option<&str>,
        timeout: Duration,
    ) -> Result<()> {
        let pn = self.pn.clone();
        self.inner
            .wait_for(timeout, &format!("{pn}'s devices to sync {REGULAR_HIGH}"), |w| {
                behind(w, &pn, REGULAR_HIGH, 1).is_empty().then_some(())
            })
            .await?;
        let jid = |raw: &str| -> Result<String> {
            if raw.contains('@') {
                raw.parse::<Jid>()
                    .map(|j| j.to_string())
                    .map_err(|e| SimError::Protocol(format!("{raw:?} is not a JID: {e}")))
            } else {
                Ok(Jid::pn(raw).to_string())
            }
        };
        let chat = jid(chat)?;
        let participant = participant.map(jid).transpose()?.unwrap_or_else(|| "0".to_owned());
        let index = serde_json::to_vec(&[
            "deleteMessageForMe",
            chat.as_str(),
            message_id,
            if from_me { "1" } else { "0" },
            participant.as_str(),
        ])
        .map_err(|e| SimError::Protocol(e.to_string()))?;
        let record = Record {
            index,
            value: wa::SyncActionValue {
                timestamp: Some(wacore::time::now_millis()),
                delete_message_for_me_action: buffa::MessageField::some(
                    wa::sync_action_value::DeleteMessageForMeAction {
                        delete_media: Some(false),
                        message_timestamp: None,
                    },
                ),
                ..Default::default()
            },
            version: DELETE_MESSAGE_FOR_ME_VERSION,
        };
        let version = {
            let mut world = self.inner.world();
            let (key_id, key) = {
                let account = world
                    .accounts
                    .get(&pn)
                    .ok_or_else(|| SimError::UnknownAccount(pn.clone()))?;
                (account.app_state_key_id.clone(), account.app_state_key)
            };
            collections(&mut world, &pn)
                .and_then(|c| c.get_mut(REGULAR_HIGH))
                .ok_or_else(|| SimError::UnknownAccount(pn.clone()))?
                .append(REGULAR_HIGH, &[record], &key_id, &key)
        };
        // whatsapp-rust skips a `server_sync` that arrives while a sync of the
        // same collection is in flight (its first one, right after login, say)
        // and the in-flight one ended a version short: the server tells a
        // device again until it has synced, as a phone's next change would.
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let told = notify_behind(&mut self.inner.world(), &pn, REGULAR_HIGH, version);
            if told == 0 {
                break;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let synced = self
                .inner
                .wait_for(left.min(RESEND_SERVER_SYNC), "the devices to sync", |w| {
                    behind(w, &pn, REGULAR_HIGH, version).is_empty().then_some(())
                })
                .await;
            match synced {
                Ok(()) => break,
                Err(SimError::Timeout(..)) if !left.is_zero() => {}
                Err(e) => return Err(e),
            }
        }
        info!(target: "whatsapp_sim", %pn, %chat, %message_id, version, "message deleted for me");
        Ok(())
    }
}
