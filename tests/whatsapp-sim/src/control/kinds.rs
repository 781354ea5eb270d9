//! The control API's routes for groups, receipts and the phone's
//! delete-for-me (see the table in `control.rs`).

use std::convert::Infallible;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use warp::{Filter, Rejection};

use super::{error, json_body, ok};
use crate::{GroupChange, ReceiptKind, Simulator};

#[derive(Deserialize)]
struct NewGroup {
    id: String,
    subject: String,
    creator: String,
    members: Vec<String>,
}

#[derive(Deserialize)]
struct GroupText {
    from: String,
    group: String,
    text: String,
}

#[derive(Deserialize)]
struct Participants {
    group: String,
    author: String,
    change: GroupChange,
    participants: Vec<String>,
}

#[derive(Deserialize)]
struct Receipt {
    from: String,
    to: String,
    ids: Vec<String>,
    /// `delivery` (default), `read` or `played`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct DeleteForMe {
    phone: String,
    chat: String,
    id: String,
    #[serde(default)]
    from_me: bool,
    participant: Option<String>,
}

/// How long `POST /delete-for-me` waits for the phone's devices to sync.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) fn routes(
    sim: impl Filter<Extract = (Arc<Simulator>,), Error = Infallible> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    let create = warp::path!("groups")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .map(|sim: Arc<Simulator>, body: NewGroup| {
            let members: Vec<&str> = body.members.iter().map(String::as_str).collect();
            match sim.create_group(&body.id, &body.subject, &body.creator, &members) {
                Ok(jid) => ok(json!({ "jid": jid })),
                Err(e) => error(e),
            }
        });
    let show = warp::path!("groups" / String).and(warp::get()).and(sim.clone()).map(
        |id: String, sim: Arc<Simulator>| match sim.group(&id) {
            Some(group) => ok(json!(group)),
            None => super::reply(
                warp::http::StatusCode::NOT_FOUND,
                json!({ "error": format!("no group {id}") }),
            ),
        },
    );
    let send = warp::path!("group-send")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .then(|sim: Arc<Simulator>, body: GroupText| async move {
            match sim.contact(&body.from).send_group_text(&body.group, &body.text).await {
                Ok(id) => ok(json!({ "id": id })),
                Err(e) => error(e),
            }
        });
    let participants = warp::path!("group-participants")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .map(|sim: Arc<Simulator>, body: Participants| {
            let listed: Vec<&str> = body.participants.iter().map(String::as_str).collect();
            match sim.change_group_participants(&body.group, &body.author, body.change, &listed) {
                Ok(()) => ok(json!({ "changed": true })),
                Err(e) => error(e),
            }
        });
    let receipt = warp::path!("receipt")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .map(|sim: Arc<Simulator>, body: Receipt| {
            let kind = match body.kind.as_deref().unwrap_or("delivery") {
                "delivery" => ReceiptKind::Delivery,
                "read" => ReceiptKind::Read,
                "played" => ReceiptKind::Played,
                other => {
                    return error(crate::SimError::Protocol(format!(
                        "no receipt type {other:?}: delivery, read or played"
                    )));
                }
            };
            match sim.contact(&body.from).send_receipt(&body.to, &body.ids, kind) {
                Ok(()) => ok(json!({ "sent": true })),
                Err(e) => error(e),
            }
        });
    let delete = warp::path!("delete-for-me")
        .and(warp::post())
        .and(sim)
        .and(json_body())
        .then(|sim: Arc<Simulator>, body: DeleteForMe| async move {
            let deleted = sim
                .phone(&body.phone)
                .delete_for_me(
                    &body.chat,
                    &body.id,
                    body.from_me,
                    body.participant.as_deref(),
                    SYNC_WAIT,
                )
                .await;
            match deleted {
                Ok(()) => ok(json!({ "deleted": true })),
                Err(e) => error(e),
            }
        });
    create
        .or(show)
        .unify()
        .or(send)
        .unify()
        .or(participants)
        .unify()
        .or(receipt)
        .unify()
        .or(delete)
        .unify()
}
