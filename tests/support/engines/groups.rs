//! The driver's side of group management: groups of contacts (the instance
//! not in them) with an invite code, contacts joining by code or changing a
//! group's settings, and a group as WhatsApp's servers keep it, on either
//! engine (the sim engine's `/sim/groups/...` routes, or the loopback
//! simulator).

use std::collections::BTreeMap;

use serde_json::json;
use wasap_whatsapp_sim::{GroupRole, GroupSetting};

use super::Driver;

/// A group as WhatsApp's servers keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub subject: String,
    /// Members' phone numbers, and whether each is an admin.
    pub members: BTreeMap<String, bool>,
}

impl Driver {
    /// Contact `creator` makes group `group` (`…@g.us`) named `subject`
    /// with `members`, the instance not in it, its invite code `code`.
    pub async fn contacts_group(&self, group: &str, subject: &str, creator: &str, members: &[&str], code: &str) {
        let mut everyone: Vec<&str> = members.to_vec();
        everyone.push(creator);
        match &self.simulator {
            None => {
                let body = json!({
                    "jid": group, "subject": subject, "members": everyone,
                    "admins": [creator], "invite_code": code,
                });
                let (status, answer) = self.api.post("/sim/groups", body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
            }
            Some(simulator) => {
                simulator
                    .create_group(group, subject, creator, members)
                    .expect("the group is created");
                simulator.set_group_invite_code(group, code).expect("the code is set");
            }
        }
    }

    /// Contact `phone` joins by invite code `code`.
    pub async fn contact_joins(&self, phone: &str, code: &str) {
        match &self.simulator {
            None => {
                let body = json!({ "phone": phone, "code": code });
                let (status, answer) = self.api.post("/sim/groups/join", body.clone()).await;
                assert_eq!(status, 200, "{body} → {answer}");
            }
            Some(simulator) => {
                simulator.join_group_by_code(phone, code).expect("the contact joins");
            }
        }
    }

    /// Member `author` (an admin) renames group `group` to `subject`.
    pub async fn member_renames(&self, group: &str, author: &str, subject: &str) {
        match &self.simulator {
            None => {
                let body = json!({ "author": author, "subject": subject });
                let (status, answer) = self
                    .api
                    .post(&format!("/sim/groups/{group}/settings"), body.clone())
                    .await;
                assert_eq!(status, 200, "{body} → {answer}");
            }
            Some(simulator) => simulator
                .change_group_setting(group, author, GroupSetting::Subject(subject.to_owned()))
                .expect("the group is renamed"),
        }
    }

    /// Group `group` as WhatsApp's servers keep it; `None` when there is none.
    pub async fn group_state(&self, group: &str) -> Option<GroupState> {
        match &self.simulator {
            None => {
                let (status, body) = self.api.get(&format!("/sim/groups/{group}")).await;
                if status == 404 {
                    return None;
                }
                assert_eq!(status, 200, "{body}");
                let list = |key: &str| -> Vec<String> {
                    body[key]
                        .as_array()
                        .expect("a list")
                        .iter()
                        .map(|v| v.as_str().expect("a number").to_owned())
                        .collect()
                };
                let admins = list("admins");
                Some(GroupState {
                    subject: body["subject"].as_str().expect("a subject").to_owned(),
                    members: list("members")
                        .into_iter()
                        .map(|m| {
                            let admin = admins.contains(&m);
                            (m, admin)
                        })
                        .collect(),
                })
            }
            Some(simulator) => simulator.group(group).map(|g| GroupState {
                subject: g.subject,
                members: g
                    .participants
                    .into_iter()
                    .map(|(pn, role)| (pn, role != GroupRole::Member))
                    .collect(),
            }),
        }
    }
}
