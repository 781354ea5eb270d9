//! The simulated network's LIDs: each registered contact may have one
//! (`/sim/contacts`, `lid`), and the network knows both names of every such
//! account, as WhatsApp does. Sim sessions fill inbound events from it
//! ([`crate::engine::lids::complete`]) and answer the lookup route with it.

use async_trait::async_trait;

use super::network::SimNetwork;
use crate::engine::lids::{AccountName, LidBook, LidPair};

#[async_trait]
impl LidBook for SimNetwork {
    async fn pair(&self, name: &AccountName) -> Option<LidPair> {
        match name {
            AccountName::Lid(user) => {
                let lid = format!("{user}@lid");
                let phone = self.lid_owner(&lid)?;
                Some(LidPair { lid, phone })
            }
            AccountName::Phone(phone) => {
                let lid = self.contact(phone)?.lid?;
                Some(LidPair {
                    lid,
                    phone: phone.clone(),
                })
            }
        }
    }
}
