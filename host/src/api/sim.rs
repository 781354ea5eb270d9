//! The simulated network's control routes (`/sim/`, admin token), mounted only
//! with `--engine sim` (docs/API.md, "Simulated WhatsApp").

mod address_book;
mod calls;
mod chat_states;
mod groups;
mod hold_sends;
mod profiles;

use rand::Rng;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Answer, Endpoint, QueryParam, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body, phone};
use crate::engine::InboundEvent;
use crate::engine::sim::{SentRecord, SimContact, SimDrop, SimError, SimIncoming, SimNetwork};
use crate::events::{EventKind, GroupAction, GroupParticipants, Receipt, ReceiptType};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    phone: Option<String>,
    push_name: Option<String>,
}

/// `POST /sim/instances/{id}/disconnect`: the body is optional (a plain drop).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DisconnectBody {
    /// `dropped` (default), `stream_replaced`, `temporary_ban`, `client_outdated`
    /// or `panic` (the session panics at its next presence announcement).
    reason: Option<String>,
    /// Length of a `temporary_ban`.
    ban_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReceiptBody {
    from: String,
    ids: Vec<String>,
    #[serde(rename = "type")]
    receipt: ReceiptType,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct GroupParticipantsBody {
    group: String,
    #[serde(rename = "type")]
    action: GroupAction,
    jids: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ContactBody {
    phone: String,
    on_whatsapp: bool,
    push_name: Option<String>,
    /// The contact's LID (`digits@lid`), which sends to it answer with.
    lid: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct SimInstance {
    instance_id: String,
    connected: bool,
    presence_announcements: u64,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Scanned {
    instance_id: String,
    jid: String,
    phone: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Incoming {
    message_id: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Delivered {
    delivered: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
struct SentList {
    messages: Vec<SentRecord>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Disconnected {
    instance_id: String,
    /// Whether the connection was dropped now.
    disconnected: bool,
    /// `panic` when a panic was armed for the next presence announcement.
    #[serde(skip_serializing_if = "Option::is_none")]
    armed: Option<&'static str>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Unlinked {
    instance_id: String,
    unlinked: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ContactAdded {
    phone: String,
    on_whatsapp: bool,
}

/// At most this many ids in one receipt or group event.
const MAX_IDS: usize = 1000;

const TAG: &str = "simulator";
/// A sim route on an instance without a connection, or in the wrong state.
const CONFLICT: &[u16] = &[409];

static SCAN: Endpoint = Endpoint {
    tag: TAG,
    summary: "The simulated phone scans the current QR: the instance pairs and goes online",
    request: Request::OptionalJson(schema::<ScanBody>),
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/scan",
        "sim_scan",
        Answer::Json(200, schema::<Scanned>),
    )
};
static INCOMING: Endpoint = Endpoint {
    tag: TAG,
    summary: "A message from a contact arrives (kind undecryptable: one the engine cannot decrypt)",
    request: Request::Json(schema::<SimIncoming>),
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/incoming",
        "sim_incoming",
        Answer::Json(200, schema::<Incoming>),
    )
};
static RECEIPT: Endpoint = Endpoint {
    tag: TAG,
    summary: "A delivery or read receipt arrives",
    request: Request::Json(schema::<ReceiptBody>),
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/receipt",
        "sim_receipt",
        Answer::Json(200, schema::<Delivered>),
    )
};
static GROUP: Endpoint = Endpoint {
    tag: TAG,
    summary: "A group participants event arrives",
    request: Request::Json(schema::<GroupParticipantsBody>),
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/group-participants",
        "sim_group_participants",
        Answer::Json(200, schema::<Delivered>),
    )
};
/// `?min=N&wait_ms=T`: answer once at least N are there (messages sent,
/// answers held), waiting up to T ms.
#[derive(Debug, Default, Deserialize)]
pub(super) struct WaitQuery {
    pub(super) min: Option<usize>,
    wait_ms: Option<u64>,
}

impl WaitQuery {
    /// How long to wait for `min`, at most [`MAX_WAIT_MS`].
    pub(super) fn wait(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.wait_ms.unwrap_or(0).min(MAX_WAIT_MS))
    }
}

/// The longest a waiting request (`?wait_ms=`) may wait.
const MAX_WAIT_MS: u64 = 30_000;

/// The `wait_ms` parameter of [`WaitQuery`], as documented.
pub(super) const WAIT_MS: QueryParam = QueryParam {
    name: "wait_ms",
    description: "How long to wait for `min`, at most 30000",
    values: &[],
};

static SENT: Endpoint = Endpoint {
    tag: TAG,
    summary: "What the instance has sent (the most recent messages); with ?min=N&wait_ms=T, waits for the N-th",
    query: &[
        QueryParam {
            name: "min",
            description: "Wait until at least this many messages were sent",
            values: &[],
        },
        WAIT_MS,
    ],
    ..Endpoint::new(
        Verb::Get,
        "/sim/instances/{id}/sent",
        "sim_sent",
        Answer::Json(200, schema::<SentList>),
    )
};
static DISCONNECT: Endpoint = Endpoint {
    tag: TAG,
    summary: "The connection drops (optionally with a reason); the instance reconnects by itself",
    request: Request::OptionalJson(schema::<DisconnectBody>),
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/disconnect",
        "sim_disconnect",
        Answer::Json(200, schema::<Disconnected>),
    )
};
static UNLINK: Endpoint = Endpoint {
    tag: TAG,
    summary: "The phone removes the linked device: the instance goes logged_out",
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/unlink",
        "sim_unlink",
        Answer::Json(200, schema::<Unlinked>),
    )
};
static SHOW: Endpoint = Endpoint {
    tag: TAG,
    summary: "The simulated connection of an instance",
    ..Endpoint::new(
        Verb::Get,
        "/sim/instances/{id}",
        "sim_instance",
        Answer::Json(200, schema::<SimInstance>),
    )
};
static CONTACTS: Endpoint = Endpoint {
    tag: TAG,
    summary: "Register a contact (whether it is on WhatsApp)",
    request: Request::Json(schema::<ContactBody>),
    ..Endpoint::new(
        Verb::Post,
        "/sim/contacts",
        "sim_contact",
        Answer::Json(200, schema::<ContactAdded>),
    )
};

pub fn routes(router: &mut Router, network: SimNetwork) -> BoxedFilter<(Response,)> {
    let sim_groups = groups::route(router, network.clone());
    let net = warp::any().map(move || network.clone());

    let scan = router
        .route1(&SCAN)
        .and(body::json_or_default::<ScanBody>())
        .and(net.clone())
        .handle(scan);
    let incoming = router
        .route1(&INCOMING)
        .and(body::json::<SimIncoming>())
        .and(net.clone())
        .handle(incoming);
    let receipt = router
        .route1(&RECEIPT)
        .and(body::json::<ReceiptBody>())
        .and(net.clone())
        .handle(receipt);
    let group = router
        .route1(&GROUP)
        .and(body::json::<GroupParticipantsBody>())
        .and(net.clone())
        .handle(group_participants);
    let sent = router
        .route1(&SENT)
        .and(warp::query::<WaitQuery>())
        .and(net.clone())
        .handle(sent);
    let disconnect = router
        .route1(&DISCONNECT)
        .and(body::json_or_default::<DisconnectBody>())
        .and(net.clone())
        .handle(disconnect);
    let unlink = router.route1(&UNLINK).and(net.clone()).handle(unlink);
    let show = router.route1(&SHOW).and(net.clone()).handle(show);
    let chat_state = chat_states::route(router, net.clone());
    let sim_calls = calls::routes(router, net.clone());
    let sim_profiles = profiles::routes(router, net.clone());
    let sim_address_book = address_book::route(router, net.clone());
    let sim_holds = hold_sends::routes(router, net.clone());
    let contacts = router
        .route0(&CONTACTS)
        .and(body::json::<ContactBody>())
        .and(net)
        .handle(add_contact);

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
        .or(chat_state)
        .unify()
        .or(sim_calls)
        .unify()
        .or(sim_profiles)
        .unify()
        .or(sim_address_book)
        .unify()
        .or(sim_groups)
        .unify()
        .or(sim_holds)
        .unify()
        .boxed()
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

/// The instance must exist (the router has checked the admin token).
pub(super) fn check(state: &AppState, id: &str) -> Result<(), ApiError> {
    state.instances.status(id)?;
    Ok(())
}

/// A contact's JID from a phone number or a JID.
pub(super) fn contact_jid(raw: &str) -> Result<String, ApiError> {
    if raw.contains('@') {
        return Ok(raw.to_owned());
    }
    Ok(format!("{}@s.whatsapp.net", phone::normalize(raw)?))
}

/// The instance's own JID, without its device: `phone@s.whatsapp.net`.
async fn own_jid(state: &AppState, id: &str) -> Result<String, ApiError> {
    let jid = state.instances.get(id).await?.jid.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "instance_not_connected",
            format!("{id} is not linked to an account"),
        )
    })?;
    Ok(match jid.split_once('@') {
        Some((user, server)) => format!("{}@{server}", user.split(':').next().unwrap_or(user)),
        None => jid,
    })
}

pub(super) fn group_jid(raw: &str) -> Result<String, ApiError> {
    if raw.ends_with("@g.us") {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_group",
            format!("{raw:?} is not a group JID (…@g.us)"),
        ))
    }
}

fn bounded(ids: &[String]) -> Result<(), ApiError> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_ids",
            format!("between 1 and {MAX_IDS} ids"),
        ));
    }
    Ok(())
}

async fn scan(state: AppState, id: String, body: ScanBody, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let phone = match body.phone {
        Some(raw) => phone::normalize(&raw)?,
        None => format!("6281{:09}", rand::rng().random_range(0..1_000_000_000u32)),
    };
    let jid = network.scan(&id, &phone, body.push_name).await?;
    Ok(warp::reply::json(&Scanned {
        instance_id: id,
        jid,
        phone,
    }))
}

async fn incoming(state: AppState, id: String, body: SimIncoming, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let contact = contact_jid(&body.from)?;
    let chat = match &body.group {
        Some(group) => group_jid(group)?,
        None => contact.clone(),
    };
    // A deletion for me is made by the account itself (on its phone): `from`
    // names the chat, and the instance is the sender, as on WhatsApp.
    let sender = match body.kind.as_deref() {
        Some("delete_for_me") => own_jid(&state, &id).await?,
        _ => contact,
    };
    let (message_id, event) = body.into_event(chat, sender)?;
    network.deliver(&id, event).await?;
    Ok(warp::reply::json(&Incoming { message_id }))
}

async fn receipt(state: AppState, id: String, body: ReceiptBody, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    bounded(&body.ids)?;
    let sender = contact_jid(&body.from)?;
    let event = InboundEvent {
        kind: EventKind::Receipt(Receipt {
            sender_lid: None,
            sender_phone: None,
            chat: sender.clone(),
            sender,
            ids: body.ids,
            receipt_type: body.receipt,
            timestamp: crate::clock::now_secs(),
        }),
        media: None,
    };
    network.deliver(&id, event).await?;
    Ok(warp::reply::json(&Delivered { delivered: true }))
}

async fn group_participants(
    state: AppState,
    id: String,
    body: GroupParticipantsBody,
    network: SimNetwork,
) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    bounded(&body.jids)?;
    let group = group_jid(&body.group)?;
    let jids = body
        .jids
        .iter()
        .map(|jid| contact_jid(jid))
        .collect::<Result<Vec<_>, _>>()?;
    let event = InboundEvent {
        kind: EventKind::GroupParticipants(GroupParticipants {
            participants: Vec::new(),
            group,
            action: body.action,
            jids,
            timestamp: crate::clock::now_secs(),
        }),
        media: None,
    };
    network.deliver(&id, event).await?;
    Ok(warp::reply::json(&Delivered { delivered: true }))
}

async fn sent(state: AppState, id: String, query: WaitQuery, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let messages = match query.min {
        Some(min) => network.wait_sent(&id, min, query.wait()).await,
        None => network.sent(&id),
    };
    Ok(warp::reply::json(&SentList { messages }))
}

async fn disconnect(
    state: AppState,
    id: String,
    body: DisconnectBody,
    network: SimNetwork,
) -> Result<Response, ApiError> {
    check(&state, &id)?;
    let how = match body.reason.as_deref().unwrap_or("dropped") {
        "dropped" => SimDrop::Dropped,
        "stream_replaced" => SimDrop::StreamReplaced,
        "temporary_ban" => SimDrop::TemporaryBan {
            seconds: body.ban_seconds.unwrap_or(60).min(86_400),
        },
        "client_outdated" => SimDrop::ClientOutdated,
        "panic" => {
            network.panic_on_next_presence(&id)?;
            return Ok(warp::reply::json(&Disconnected {
                instance_id: id,
                disconnected: false,
                armed: Some("panic"),
            })
            .into_response());
        }
        other => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_reason",
                format!("unknown reason {other:?}: dropped, stream_replaced, temporary_ban, client_outdated or panic"),
            ));
        }
    };
    network.disconnect(&id, how).await?;
    Ok(warp::reply::json(&Disconnected {
        instance_id: id,
        disconnected: true,
        armed: None,
    })
    .into_response())
}

async fn unlink(state: AppState, id: String, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    network.unlink(&id).await?;
    Ok(warp::reply::json(&Unlinked {
        instance_id: id,
        unlinked: true,
    }))
}

async fn show(state: AppState, id: String, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let presence = network.presence_announcements(&id);
    Ok(warp::reply::json(&SimInstance {
        instance_id: id,
        connected: presence.is_some(),
        presence_announcements: presence.unwrap_or(0),
    }))
}

async fn add_contact(_: AppState, body: ContactBody, network: SimNetwork) -> Result<impl Reply, ApiError> {
    let phone = phone::normalize(&body.phone)?;
    if let Some(lid) = &body.lid {
        let digits = lid.strip_suffix("@lid").unwrap_or_default();
        if digits.is_empty() || digits.len() > 32 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "a LID is digits followed by @lid",
            ));
        }
    }
    network.add_contact(
        &phone,
        SimContact {
            on_whatsapp: body.on_whatsapp,
            push_name: body.push_name,
            lid: body.lid,
        },
    )?;
    Ok(warp::reply::json(&ContactAdded {
        phone,
        on_whatsapp: body.on_whatsapp,
    }))
}
