//! The driver's side of deletions: what WhatsApp got when the instance
//! deleted a message for itself (on the sim engine, the simulated network's
//! record; on the real engine, the app state patch the simulator took and
//! decrypted), and groups where the instance is an admin or not, for
//! revoking other members' messages.

use serde_json::json;
use whatsapp_rust::waproto::whatsapp::message::protocol_message::Type as ProtocolType;

use super::Driver;
use crate::WAIT;

/// A group admin's revocation of another member's message, as the group's
/// members got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRevoke {
    pub target_id: String,
    /// The revoked message's author, as the revocation names it.
    pub sender: String,
}

/// A deletion for me, as WhatsApp got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedForMe {
    /// The chat the message was in.
    pub chat: String,
    pub target_id: String,
}

impl Driver {
    /// Waits until the instance deleted message `target_id` for its account
    /// only; what WhatsApp got.
    pub async fn wait_deleted_for_me(&self, target_id: &str) -> DeletedForMe {
        match &self.simulator {
            None => {
                let record = self
                    .sim_records()
                    .await
                    .into_iter()
                    .find(|r| r["kind"] == "delete_for_me" && r["target_id"] == target_id)
                    .unwrap_or_else(|| panic!("no deletion for me of {target_id}"));
                DeletedForMe {
                    chat: record["to"].as_str().unwrap_or_default().to_owned(),
                    target_id: target_id.to_owned(),
                }
            }
            Some(simulator) => {
                let (user, _) = self.linked_device().await;
                let change = simulator
                    .wait_app_state_change(&user, WAIT, |c| {
                        c.index.first().map(String::as_str) == Some("deleteMessageForMe")
                            && c.index.get(2).map(String::as_str) == Some(target_id)
                    })
                    .await
                    .unwrap_or_else(|e| panic!("no deletion for me of {target_id}: {e}"));
                assert!(
                    change.value.delete_message_for_me_action.as_option().is_some(),
                    "a deleteMessageForMe action: {change:?}"
                );
                DeletedForMe {
                    chat: change.index[1].clone(),
                    target_id: target_id.to_owned(),
                }
            }
        }
    }

    /// Group `group` exists, created by `creator` (an admin), with `members`
    /// and the instance's account in it, the instance an admin when `admin`.
    pub async fn group_with_instance(&self, group: &str, creator: &str, members: &[&str], admin: bool) {
        let (user, _) = self.linked_device().await;
        match &self.simulator {
            None => {
                let mut everyone: Vec<&str> = members.to_vec();
                everyone.extend([creator, user.as_str()]);
                let mut admins = vec![creator];
                if admin {
                    admins.push(&user);
                }
                let body = json!({ "jid": group, "subject": "Team", "members": everyone, "admins": admins });
                let (status, answer) = self.api.post("/sim/groups", body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
            }
            Some(_) => {
                self.group(group, "Team", creator, members).await;
                if admin {
                    self.group_participants(group, creator, "promote", &[&user]).await;
                }
            }
        }
    }

    /// The revocations of other members' messages the instance sent to
    /// `group`, as member `member` got them (decrypted, on the real
    /// engine), once there are at least `min`.
    pub async fn admin_revokes_in(&self, group: &str, member: &str, min: usize) -> Vec<AdminRevoke> {
        let got: Vec<AdminRevoke> = match &self.simulator {
            None => self
                .sim_records()
                .await
                .into_iter()
                .filter(|r| r["kind"] == "revoke" && r["to"] == group && r["admin"] == true)
                .map(|r| AdminRevoke {
                    target_id: r["target_id"].as_str().unwrap_or_default().to_owned(),
                    sender: r["target_sender"].as_str().unwrap_or_default().to_owned(),
                })
                .collect(),
            Some(simulator) => {
                let of = |m: &wasap_whatsapp_sim::ReceivedMessage| {
                    let protocol = m.message.protocol_message.as_option()?;
                    let key = protocol.key.as_option()?;
                    (m.chat == group && protocol.r#type? == ProtocolType::REVOKE && key.from_me != Some(true)).then(
                        || AdminRevoke {
                            target_id: key.id.clone().unwrap_or_default(),
                            sender: key.participant.clone().unwrap_or_default(),
                        },
                    )
                };
                let contact = simulator.contact(member);
                contact
                    .wait_received_matching(min, WAIT, |m| of(m).is_some())
                    .await
                    .unwrap_or_else(|e| panic!("{member}: {e}; received {:#?}", contact.received()))
                    .iter()
                    .filter_map(of)
                    .collect()
            }
        };
        assert!(got.len() >= min, "{min} admin revocations in {group}, got {got:?}");
        got
    }
}
