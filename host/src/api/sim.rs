//! The simulated network's control routes (`/sim/`, admin token), mounted only
//! with `--engine sim` (API.md, "Simulated WhatsApp").

use rand::Rng;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::auth::{Credentials, credentials};
use super::error::{ApiError, reject};
use super::{AppState, body, phone, with_state};
use crate::engine::InboundEvent;
use crate::engine::sim::{SimContact, SimDrop, SimError, SimIncoming, SimNetwork};
use crate::events::{EventKind, GroupAction, GroupParticipants, Receipt, ReceiptType};

type Result<T> = std::result::Result<T, warp::Rejection>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    phone: Option<String>,
    push_name: Option<String>,
}

/// `POST /sim/instances/{id}/disconnect`: the body is optional (a plain drop).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DisconnectBody {
    /// `dropped` (default), `stream_replaced`, `temporary_ban`, `client_outdated`
    /// or `panic` (the session panics at its next presence announcement).
    reason: Option<String>,
    /// Length of a `temporary_ban`.
    ban_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptBody {
    from: String,
    ids: Vec<String>,
    #[serde(rename = "type")]
    receipt: ReceiptType,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupParticipantsBody {
    group: String,
    #[serde(rename = "type")]
    action: GroupAction,
    jids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactBody {
    phone: String,
    on_whatsapp: bool,
    push_name: Option<String>,
}

#[derive(Serialize)]
struct SimInstance {
    instance_id: String,
    connected: bool,
    presence_announcements: u64,
}

/// At most this many ids in one receipt or group event.
const MAX_IDS: usize = 1000;

pub fn routes(state: AppState, network: SimNetwork) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let net = warp::any().map(move || network.clone());
    let base = || credentials().and(with_state(state.clone())).and(net.clone());

    let scan = warp::path!("sim" / "instances" / String / "scan")
        .and(warp::post())
        .and(body::json_or_default::<ScanBody>())
        .and(base())
        .and_then(scan);
    let incoming = warp::path!("sim" / "instances" / String / "incoming")
        .and(warp::post())
        .and(body::json::<SimIncoming>())
        .and(base())
        .and_then(incoming);
    let receipt = warp::path!("sim" / "instances" / String / "receipt")
        .and(warp::post())
        .and(body::json::<ReceiptBody>())
        .and(base())
        .and_then(receipt);
    let group = warp::path!("sim" / "instances" / String / "group-participants")
        .and(warp::post())
        .and(body::json::<GroupParticipantsBody>())
        .and(base())
        .and_then(group_participants);
    let sent = warp::path!("sim" / "instances" / String / "sent")
        .and(warp::get())
        .and(base())
        .and_then(sent);
    let disconnect = warp::path!("sim" / "instances" / String / "disconnect")
        .and(warp::post())
        .and(body::json_or_default::<DisconnectBody>())
        .and(base())
        .and_then(disconnect);
    let unlink = warp::path!("sim" / "instances" / String / "unlink")
        .and(warp::post())
        .and(base())
        .and_then(unlink);
    let show = warp::path!("sim" / "instances" / String)
        .and(warp::get())
        .and(base())
        .and_then(show);
    let contacts = warp::path!("sim" / "contacts")
        .and(warp::post())
        .and(body::json::<ContactBody>())
        .and(base())
        .and_then(add_contact);

    scan.or(incoming)
        .unify()
        .or(receipt)
        .unify()
        .or(group)
        .unify()
        .or(sent)
        .unify()
        .or(disconnect)
        .unify()
        .or(unlink)
        .unify()
        .or(show)
        .unify()
        .or(contacts)
        .unify()
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> ApiError {
        let (status, code) = match e {
            SimError::NoSession(_) => (StatusCode::CONFLICT, "no_connection"),
            SimError::NotPairing(_) => (StatusCode::CONFLICT, "not_pairing"),
            SimError::NotConnected(_) => (StatusCode::CONFLICT, "instance_not_connected"),
            SimError::TooManyContacts => (StatusCode::UNPROCESSABLE_ENTITY, "too_many_contacts"),
            SimError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            SimError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// Admin only, and the instance must exist.
fn check(state: &AppState, credentials: &Credentials, id: &str) -> std::result::Result<(), warp::Rejection> {
    state.require_admin(credentials).map_err(reject)?;
    state.instances.status(id).map_err(reject)?;
    Ok(())
}

/// A contact's JID from a phone number or a JID.
fn contact_jid(raw: &str) -> std::result::Result<String, ApiError> {
    if raw.contains('@') {
        return Ok(raw.to_owned());
    }
    Ok(format!("{}@s.whatsapp.net", phone::normalize(raw)?))
}

fn group_jid(raw: &str) -> std::result::Result<String, ApiError> {
    if raw.ends_with("@g.us") {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_group", format!("{raw:?} is not a group JID (…@g.us)")))
    }
}

fn bounded(ids: &[String]) -> std::result::Result<(), ApiError> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_ids",
            format!("between 1 and {MAX_IDS} ids"),
        ));
    }
    Ok(())
}

async fn scan(id: String, body: ScanBody, credentials: Credentials, state: AppState, network: SimNetwork) -> Result<Response> {
    check(&state, &credentials, &id)?;
    let phone = match body.phone {
        Some(raw) => phone::normalize(&raw).map_err(reject)?,
        None => format!("6281{:09}", rand::rng().random_range(0..1_000_000_000u32)),
    };
    let jid = network.scan(&id, &phone, body.push_name).await.map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "instance_id": id, "jid": jid, "phone": phone })).into_response())
}

async fn incoming(id: String, body: SimIncoming, credentials: Credentials, state: AppState, network: SimNetwork) -> Result<Response> {
    check(&state, &credentials, &id)?;
    let sender = contact_jid(&body.from).map_err(reject)?;
    let chat = match &body.group {
        Some(group) => group_jid(group).map_err(reject)?,
        None => sender.clone(),
    };
    let (message_id, event) = body.into_event(chat, sender).map_err(reject)?;
    network.deliver(&id, event).await.map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "message_id": message_id })).into_response())
}

async fn receipt(id: String, body: ReceiptBody, credentials: Credentials, state: AppState, network: SimNetwork) -> Result<Response> {
    check(&state, &credentials, &id)?;
    bounded(&body.ids).map_err(reject)?;
    let sender = contact_jid(&body.from).map_err(reject)?;
    let event = InboundEvent {
        kind: EventKind::Receipt(Receipt {
            chat: sender.clone(),
            sender,
            ids: body.ids,
            receipt_type: body.receipt,
            timestamp: crate::store::unix_now(),
        }),
        media: None,
    };
    network.deliver(&id, event).await.map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "delivered": true })).into_response())
}

async fn group_participants(
    id: String,
    body: GroupParticipantsBody,
    credentials: Credentials,
    state: AppState,
    network: SimNetwork,
) -> Result<Response> {
    check(&state, &credentials, &id)?;
    bounded(&body.jids).map_err(reject)?;
    let group = group_jid(&body.group).map_err(reject)?;
    let jids = body
        .jids
        .iter()
        .map(|jid| contact_jid(jid))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(reject)?;
    let event = InboundEvent {
        kind: EventKind::GroupParticipants(GroupParticipants {
            group,
            action: body.action,
            jids,
            timestamp: crate::store::unix_now(),
        }),
        media: None,
    };
    network.deliver(&id, event).await.map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "delivered": true })).into_response())
}

async fn sent(id: String, credentials: Credentials, state: AppState, network: SimNetwork) -> Result<Response> {
    check(&state, &credentials, &id)?;
    Ok(warp::reply::json(&serde_json::json!({ "messages": network.sent(&id) })).into_response())
}

async fn disconnect(
    id: String,
    body: DisconnectBody,
    credentials: Credentials,
    state: AppState,
    network: SimNetwork,
) -> Result<Response> {
    check(&state, &credentials, &id)?;
    let how = match body.reason.as_deref().unwrap_or("dropped") {
        "dropped" => SimDrop::Dropped,
        "stream_replaced" => SimDrop::StreamReplaced,
        "temporary_ban" => SimDrop::TemporaryBan {
            seconds: body.ban_seconds.unwrap_or(60).min(86_400),
        },
        "client_outdated" => SimDrop::ClientOutdated,
        "panic" => {
            network.panic_on_next_presence(&id).map_err(reject)?;
            return Ok(warp::reply::json(&serde_json::json!({ "instance_id": id, "armed": "panic" })).into_response());
        }
        other => {
            return Err(reject(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_reason",
                format!("unknown reason {other:?}: dropped, stream_replaced, temporary_ban, client_outdated or panic"),
            )));
        }
    };
    network.disconnect(&id, how).await.map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "instance_id": id, "disconnected": true })).into_response())
}

async fn unlink(id: String, credentials: Credentials, state: AppState, network: SimNetwork) -> Result<Response> {
    check(&state, &credentials, &id)?;
    network.unlink(&id).await.map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "instance_id": id, "unlinked": true })).into_response())
}

async fn show(id: String, credentials: Credentials, state: AppState, network: SimNetwork) -> Result<Response> {
    check(&state, &credentials, &id)?;
    let presence = network.presence_announcements(&id);
    Ok(warp::reply::json(&SimInstance {
        instance_id: id,
        connected: presence.is_some(),
        presence_announcements: presence.unwrap_or(0),
    })
    .into_response())
}

async fn add_contact(body: ContactBody, credentials: Credentials, state: AppState, network: SimNetwork) -> Result<Response> {
    state.require_admin(&credentials).map_err(reject)?;
    let phone = phone::normalize(&body.phone).map_err(reject)?;
    network
        .add_contact(
            &phone,
            SimContact {
                on_whatsapp: body.on_whatsapp,
                push_name: body.push_name,
            },
        )
        .map_err(reject)?;
    Ok(warp::reply::json(&serde_json::json!({ "phone": phone, "on_whatsapp": body.on_whatsapp })).into_response())
}
