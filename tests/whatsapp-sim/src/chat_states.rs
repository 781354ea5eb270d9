//! A contact's chat state, as WhatsApp relays it: a `<chatstate>` stanza to
//! each connected device of the account it is typing to, `from` the contact
//! (or, in a group, `from` the group with the contact as `participant`) and
//! one child: `<composing/>` (typing), `<composing media="audio"/>`
//! (recording a voice note) or `<paused/>`. WhatsApp neither queues nor
//! expects an acknowledgement for it: a device that is not connected now
//! never gets it.

use wacore_binary::Jid;
use wacore_binary::builder::NodeBuilder;

use crate::{Contact, Result, SimError, addressing};

/// What a contact shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStateKind {
    Typing,
    Recording,
    Paused,
}

impl Contact {
    /// Shows `state` to every connected device of the account `to`: in their
    /// chat, or in `group` (`…@g.us`) when given.
    pub fn send_chat_state(&self, to: &str, state: ChatStateKind, group: Option<&str>) -> Result<()> {
        let to = self.account_of(to);
        let world = self.inner.world();
        let account = world
            .accounts
            .get(&to)
            .ok_or_else(|| SimError::UnknownAccount(to.clone()))?;
        let devices: Vec<u16> = account.live_companions().map(|c| c.device).collect();
        let (sender, _) = addressing::named(&world, &self.pn);
        let child = match state {
            ChatStateKind::Typing => NodeBuilder::new("composing").build(),
            ChatStateKind::Recording => NodeBuilder::new("composing").attr("media", "audio").build(),
            ChatStateKind::Paused => NodeBuilder::new("paused").build(),
        };
        let stanza = match group {
            Some(group) => NodeBuilder::new("chatstate")
                .attr("from", group.parse::<Jid>().unwrap_or_else(|_| Jid::group(group)))
                .attr("participant", sender),
            None => NodeBuilder::new("chatstate").attr("from", sender),
        }
        .children([child])
        .build();
        for device in devices {
            if let Some((conn, c)) = world.conn_of(&(to.clone(), device))
                && c.active
            {
                world.send(conn, stanza.clone());
            }
        }
        Ok(())
    }
}
