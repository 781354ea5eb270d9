//! Who a text or a caption mentions: users named by the caller (phone
//! numbers or user JIDs), and, for "mention everyone", every other member
//! of the group the message goes to, read from WhatsApp's group metadata.

use super::{Messenger, Recipient, SendError};
use crate::engine::{GroupInfo, Session};

/// Users one message may mention. A large group has 1,024 members, which is
/// what "mention everyone" fills in; the caller names at most 256.
pub const MAX_MENTIONS: usize = 1_024;

/// Who a message mentions, as the caller asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Phone numbers or user JIDs.
    pub users: Vec<String>,
    /// Every member of the group the message goes to (but this account).
    pub everyone: bool,
}

impl Mentions {
    /// The users named, no one else.
    pub fn users(users: &[String]) -> Mentions {
        Mentions {
            users: users.to_vec(),
            everyone: false,
        }
    }
}

impl Messenger {
    /// Group `group` (a `…@g.us` JID) as instance `id` sees it: its name
    /// and members. Refused when `group` is not a group JID, or the account
    /// is not in it.
    pub async fn group_info(&self, id: &str, group: &str) -> Result<GroupInfo, SendError> {
        let session = self.instances.session(id)?;
        let group = group_jid(group)?;
        self.group_of(session.as_ref(), &group).await
    }

    pub(super) async fn group_of(&self, session: &dyn Session, group: &str) -> Result<GroupInfo, SendError> {
        session
            .group_info(group)
            .await?
            .ok_or_else(|| SendError::UnknownGroup(group.to_owned()))
    }

    /// The user JIDs `mentions` names for a message to `chat` (a JID),
    /// without repeats, in the order given (the named users first).
    pub(super) async fn mentioned(
        &self,
        session: &dyn Session,
        chat: &str,
        mentions: &Mentions,
    ) -> Result<Vec<String>, SendError> {
        let mut jids = Vec::new();
        for who in &mentions.users {
            let jid = Recipient::parse(who)?.user_jid()?;
            if !jids.contains(&jid) {
                jids.push(jid);
            }
        }
        if mentions.everyone {
            let group = group_jid(chat)?;
            let info = self.group_of(session, &group).await?;
            for member in info.participants.into_iter().filter(|p| !p.is_me) {
                if !jids.contains(&member.jid) {
                    jids.push(member.jid);
                }
            }
        }
        if jids.len() > MAX_MENTIONS {
            return Err(SendError::TooManyMentions(MAX_MENTIONS));
        }
        Ok(jids)
    }
}

/// `raw` when it is a group JID.
fn group_jid(raw: &str) -> Result<String, SendError> {
    let raw = raw.trim();
    match raw.strip_suffix("@g.us") {
        Some(user) if !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit() || b == b'-') => Ok(raw.to_owned()),
        _ => Err(SendError::NotAGroup(raw.to_owned())),
    }
}
