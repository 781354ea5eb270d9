//! A simulated device's sender keys: the group half of Signal. A contact that
//! writes to a group keeps one sender key per group (wacore-libsignal's
//! `SenderKeyRecord`, in memory), hands its distribution message (SKDM) to
//! each recipient device once over their pairwise session, and encrypts the
//! group message itself once with `group_encrypt` (an `skmsg`), exactly as
//! whatsapp-rust's own group send does (`wacore::send::group`).

use std::collections::HashMap;

use async_trait::async_trait;
use wacore_libsignal::protocol::{
    SenderKeyName, SenderKeyRecord, SenderKeyStore, SignalProtocolError, create_sender_key_distribution_message,
    group_encrypt,
};

use crate::error::Result;

/// The sender keys one simulated device owns, by `(group, sender)`.
#[derive(Default)]
pub struct SenderKeys(HashMap<SenderKeyName, SenderKeyRecord>);

impl SenderKeys {
    /// The serialized SKDM of this device's key for `name` (created on first use).
    pub async fn distribution_message(&mut self, name: &SenderKeyName) -> Result<Vec<u8>> {
        let skdm =
            create_sender_key_distribution_message(name, self, &mut rand::make_rng::<rand::rngs::StdRng>()).await?;
        Ok(skdm.serialized().to_vec())
    }

    /// Encrypts a group message under the key for `name`: the `skmsg` bytes.
    pub async fn encrypt(&mut self, name: &SenderKeyName, plaintext: &[u8]) -> Result<Vec<u8>> {
        let message = group_encrypt(self, name, plaintext, &mut rand::make_rng::<rand::rngs::StdRng>()).await?;
        Ok(message.serialized().to_vec())
    }
}

#[async_trait]
impl SenderKeyStore for SenderKeys {
    async fn store_sender_key(
        &mut self,
        name: &SenderKeyName,
        record: SenderKeyRecord,
    ) -> std::result::Result<(), SignalProtocolError> {
        self.0.insert(name.clone(), record);
        Ok(())
    }

    async fn load_sender_key(
        &self,
        name: &SenderKeyName,
    ) -> std::result::Result<Option<SenderKeyRecord>, SignalProtocolError> {
        Ok(self.0.get(name).cloned())
    }
}
